"""Public ids for the users and groups of directory-backed (LDAP) domains.

An LDAP entry has an id of its own there (its `user_id_attribute`, say `uid=jdoe`'s
`jdoe`), unique only within that directory. What this service gives out is a hash of
the domain, that id and the entry's kind: the same entry gets the same id on every
replica with no coordination, ids of two domains never meet, and none can be taken
for a stored user's or group's (those are 32 hexadecimal digits; these 64). Each id
handed out is kept (`IdMappingStore`) so that a request naming it finds the entry
again: Keystone's id mapping, with its default sha256 generator's idea.
"""

import hashlib

from .store import Store
from .store.id_mapping import LocalEntity

PUBLIC_ID_LENGTH = 64
MAX_REMEMBERED = 200_000  # ids this process knows it has recorded (~20 MB)


def public_id(domain_id: str, local_id: str, entity_type: str) -> str:
    """The id given out for the domain's entry. The parts are separated by a byte no
    id can hold, so no two different triples hash the same text."""
    return hashlib.sha256(f"{domain_id}\0{local_id}\0{entity_type}".encode()).hexdigest()


class IdMapping:
    """Gives out public ids (recording each the first time this process gives it) and
    finds the entry behind one."""

    def __init__(self, store: Store):
        self._store = store
        self._recorded: set[str] = set()

    def public(self, domain_id: str, local_id: str, entity_type: str) -> str:
        found = public_id(domain_id, local_id, entity_type)
        if found not in self._recorded:
            self._store.id_mapping.record(found, domain_id, local_id, entity_type)
            if len(self._recorded) >= MAX_REMEMBERED:
                self._recorded.clear()  # recording again is harmless, only a query
            self._recorded.add(found)
        return found

    def local(self, entity_id: str) -> LocalEntity | None:
        """The entry behind a public id; None for any other id (a stored user's or
        group's among them, without a query: those are shorter)."""
        if len(entity_id) != PUBLIC_ID_LENGTH:
            return None
        return self._store.id_mapping.find(entity_id)
