"""Groups and who belongs to them (tables Group, GroupMembership)."""

from .base import ConceptStore


class GroupStore(ConceptStore):
    pass
