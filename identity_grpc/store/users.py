"""Users and their password history (tables User, Password): what a user is, how it is found, and its passwords newest last."""

from .base import ConceptStore


class UserStore(ConceptStore):
    pass
