"""Revocation events (table RevocationEvent): appended, read in id order by every server, pruned once no token they could match is still valid."""

from .base import ConceptStore


class RevocationStore(ConceptStore):
    pass
