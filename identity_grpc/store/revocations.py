"""Revocation events (table RevocationEvent): appended, read in id order by every
server, pruned once no token they could match is still valid."""

from .feed import AppendOnly
from .models import now_seconds

FOLD_BATCH = 500  # ids per DELETE when events are folded into one cutoff


class RevocationStore(AppendOnly):
    model_name = "RevocationEvent"

    def append(self, fields: dict) -> int:
        """Record one event (the fields of a `Revocation`); returns its id."""
        return self.t.RevocationEvent.create(**fields).id

    def prune(self, now: int | None = None) -> int:
        """Delete the events no still-valid token could match, but never the newest."""
        now = now_seconds() if now is None else now
        return self._prune(self.t.RevocationEvent.expires_at <= now)

    def owned_by(self, user_id: str) -> list[tuple[int, str | None, int, int]]:
        """(id, audit id or None, issued_before, expires_at) of the events about one
        user: the audit-id events of its tokens and its user cutoffs."""
        event = self.t.RevocationEvent
        return list(event.select(event.id, event.audit_id, event.issued_before, event.expires_at)
                    .where(((event.token_user_id == user_id) & event.audit_id.is_null(False))
                           | (event.user_id == user_id)).tuples())

    def delete_ids(self, ids: list[int]) -> None:
        event = self.t.RevocationEvent
        for start in range(0, len(ids), FOLD_BATCH):
            event.delete().where(event.id.in_(ids[start:start + FOLD_BATCH])).execute()
