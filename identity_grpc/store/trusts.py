"""Trusts (table Trust): a trustor's delegation of roles on a project to a trustee."""

from .base import ConceptStore
from .paging import page


class UsedUp(Exception):
    """The trust has no use left."""


class TrustStore(ConceptStore):
    def create(self, trust_id: str, trustor_id: str, trustee_id: str, project_id: str | None,
               role_ids: str, created_at: int, impersonation: bool = False,
               expires_at: int | None = None, remaining_uses: int | None = None,
               redelegation_count: int = 0, redelegated_trust_id: str | None = None):
        """The new trust (`role_ids` a JSON list). A user, project or parent trust that
        does not exist is an IntegrityError."""
        return self.t.Trust.create(
            id=trust_id, trustor=trustor_id, trustee=trustee_id, project=project_id,
            role_ids=role_ids, impersonation=impersonation, expires_at=expires_at,
            remaining_uses=remaining_uses, redelegation_count=redelegation_count,
            redelegated_trust=redelegated_trust_id, created_at=created_at)

    def find(self, trust_id: str):
        """The trust, or None."""
        Trust = self.t.Trust
        return Trust.get_or_none(Trust.id == trust_id)

    def list_trusts(self, trustor_id: str = "", trustee_id: str = "",
                    alive_at: int | None = None, page_size: int = 0,
                    page_token: str = "") -> tuple[list, str]:
        """One page of trusts oldest first (then by id), of one trustor and/or one
        trustee if named; with `alive_at`, only those unexpired then."""
        Trust = self.t.Trust
        query = Trust.select()
        if trustor_id:
            query = query.where(Trust.trustor == trustor_id)
        if trustee_id:
            query = query.where(Trust.trustee == trustee_id)
        if alive_at is not None:
            query = query.where(Trust.expires_at.is_null() | (Trust.expires_at > alive_at))
        return page(query, (Trust.created_at, Trust.id), page_size, page_token)

    def redelegated_from(self, trust_id: str) -> list[str]:
        """The ids of the trusts redelegated from this one, in no promised order."""
        Trust = self.t.Trust
        return [t.id for t in Trust.select(Trust.id).where(Trust.redelegated_trust == trust_id)]

    def delete(self, trust_id: str) -> bool:
        """False: no such trust. The trusts redelegated from it go with it."""
        Trust = self.t.Trust
        return bool(Trust.delete().where(Trust.id == trust_id).execute())

    def consume_use(self, trust_id: str):
        """One use fewer (none counted when its uses are not limited), read and written
        under the row's lock, so two replicas never spend the last use twice. UsedUp
        when none is left; NotFound when the trust is gone. The trust as written."""
        def change(row) -> dict:
            if row.remaining_uses is None:
                return {}
            if row.remaining_uses <= 0:
                raise UsedUp(trust_id)
            return {"remaining_uses": row.remaining_uses - 1}

        return self.update(self.t.Trust, trust_id, change, f"trust {trust_id} not found")
