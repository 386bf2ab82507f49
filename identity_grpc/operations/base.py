"""What every operation module shares: the caller's scope, policy enforcement,
running each operation again when a concurrent write collided with it (`retry`), and
the audit event of each change (`audited`)."""

import inspect
from typing import Callable

from ..core import Core
from ..records import TokenInfo
from ..store.models import DEFAULT_DOMAIN_ID
from ..store.paging import MAX_PAGE_SIZE
from .audited import recording
from .retry import retrying


def caller_domain(caller: TokenInfo) -> str | None:
    """The domain of a domain-scoped token, else None."""
    domain = caller.identity.domain
    return domain.id if domain is not None else None


def owning_domain(caller: TokenInfo, requested: str) -> str:
    """Where a new user, group or project goes: the requested domain, else the
    domain of a domain-scoped token, else the default domain."""
    return requested or caller_domain(caller) or DEFAULT_DOMAIN_ID


def _database_of_ops(args: tuple):
    """The store database of the operations object a method was called on."""
    return args[0].core.db


class Ops:
    def __init_subclass__(cls, **kwargs):
        """Every public method of an operations class is one unit of work, retried
        whole on a transient store conflict, and each change records one audit event
        (`audited`); wrapping them here means no operation, present or future, can
        be left out."""
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and not name.startswith("_"):
                setattr(cls, name, recording(member, retrying(_database_of_ops, member)))

    def __init__(self, core: Core):
        self.core = core
        self._policy = core.policy

    def enforce(self, rule: str, caller: TokenInfo, **target) -> None:
        self._policy.enforce(f"identity:{rule}", caller, **target)


def read_pages(list_op: Callable, caller: TokenInfo, limit: int, **filters) -> tuple[list, bool]:
    """The rows of a paged list operation, at most `limit` of them, and whether any
    were left out: pages are read until the limit, never asking for more than one row
    past it (short pages are allowed, so a few more pages than that at most)."""
    rows, token = [], ""
    for _ in range(-(-(limit + 1) // MAX_PAGE_SIZE) + 10):
        more, token = list_op(caller, page_size=min(MAX_PAGE_SIZE, limit + 1 - len(rows)),
                              page_token=token, **filters)
        rows += more
        if not token or len(rows) > limit:
            return rows[:limit], len(rows) > limit
    return rows[:limit], True
