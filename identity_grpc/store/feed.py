"""The change feed (table Change): what changed, appended in the transaction that
changed it, read in id order by every server sharing the store; and what it shares
with the revocation events, the other append-only table every server follows."""

import peewee as pw

from .base import ConceptStore
from .models import now_seconds


class AppendOnly(ConceptStore):
    """An append-only table followed by id: rows are read past the highest id a
    follower applied, and pruned oldest first, the newest always kept so that its id
    stays the table's high-water mark on every backend (a follower takes a lower
    highest id for a rewind)."""

    model_name = ""

    @property
    def model(self):
        return getattr(self.t, self.model_name)

    def id_range(self) -> tuple[int | None, int | None]:
        """(lowest id, highest id), both None when the table is empty."""
        model = self.model
        return model.select(pw.fn.MIN(model.id), pw.fn.MAX(model.id)).tuples().get()

    def highest_id(self) -> int:
        model = self.model
        return model.select(pw.fn.MAX(model.id)).scalar() or 0

    def rows_after(self, after_id: int) -> list[dict]:
        """Every row with an id above `after_id`, in id order, as dicts."""
        model = self.model
        return list(model.select().where(model.id > after_id).order_by(model.id).dicts())

    def all_rows(self) -> list[dict]:
        return self.rows_after(-1)

    def _prune(self, condition) -> int:
        model = self.model
        return model.delete().where(condition & (model.id < self.highest_id())).execute()


class ChangeFeedStore(AppendOnly):
    model_name = "Change"

    def append(self, changes: list[tuple[str, str]]) -> None:
        """Record (entity kind, entity id) changes, in this order."""
        if changes:
            self.t.Change.insert_many(
                [{"entity": str(e), "entity_id": i} for e, i in changes]).execute()

    def prune(self, older_than: int | None = None, retention: float = 0.0) -> int:
        """Delete changes created before `now - retention`, but never the newest."""
        now = now_seconds() if older_than is None else older_than
        return self._prune(self.t.Change.created_at < now - retention)
