"""A user's API keys (table ApiKey): only a hash of each secret is kept."""

from .base import ConceptStore


class CredentialStore(ConceptStore):
    pass
