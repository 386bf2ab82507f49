"""Public ids of directory entries (table IdMapping): an LDAP user's or group's id as
this service gives it out, and the way back to the entry."""

from typing import NamedTuple

import peewee as pw

from .base import ConceptStore


class LocalEntity(NamedTuple):
    domain_id: str
    local_id: str
    entity_type: str  # "user" | "group"


class IdMappingStore(ConceptStore):
    def record(self, public_id: str, domain_id: str, local_id: str, entity_type: str) -> None:
        """Keep the mapping; one already kept (by this replica or another, even at the
        same moment) is left as it is: the id is a function of the other three."""
        IdMapping = self.t.IdMapping
        insert = IdMapping.insert(public_id=public_id, domain=domain_id, local_id=local_id,
                                  entity_type=entity_type)
        if isinstance(getattr(self.db, "obj", self.db), pw.MySQLDatabase):
            # Not INSERT IGNORE: MariaDB would ignore a missing domain as well.
            insert = insert.on_conflict(update={IdMapping.public_id: IdMapping.public_id})
        else:
            insert = insert.on_conflict_ignore()
        insert.execute()

    def find(self, public_id: str) -> LocalEntity | None:
        IdMapping = self.t.IdMapping
        row = IdMapping.get_or_none(IdMapping.public_id == public_id)
        return None if row is None else LocalEntity(row.domain_id, row.local_id, row.entity_type)

    def public_ids(self, domain_id: str, entity_type: str) -> list[str]:
        """Every public id kept for the domain's entries of that type."""
        IdMapping = self.t.IdMapping
        return [r.public_id for r in IdMapping.select(IdMapping.public_id).where(
            (IdMapping.domain == domain_id) & (IdMapping.entity_type == entity_type))]

    def purge_domain(self, domain_id: str) -> int:
        """Forget the domain's mappings (its directory was replaced); how many."""
        IdMapping = self.t.IdMapping
        return IdMapping.delete().where(IdMapping.domain == domain_id).execute()
