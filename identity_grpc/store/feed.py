"""The change feed (table Change): what changed, appended in the transaction that changed it, read in id order by every server sharing the store."""

from .base import ConceptStore


class ChangeFeedStore(ConceptStore):
    pass
