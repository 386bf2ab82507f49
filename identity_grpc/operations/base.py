"""What every operation module shares: the caller's scope, and policy enforcement."""

from ..core import Core
from ..records import TokenInfo
from ..store.models import DEFAULT_DOMAIN_ID


def caller_domain(caller: TokenInfo) -> str | None:
    """The domain of a domain-scoped token, else None."""
    domain = caller.identity.domain
    return domain.id if domain is not None else None


def owning_domain(caller: TokenInfo, requested: str) -> str:
    """Where a new user, group or project goes: the requested domain, else the
    domain of a domain-scoped token, else the default domain."""
    return requested or caller_domain(caller) or DEFAULT_DOMAIN_ID


class Ops:
    def __init__(self, core: Core):
        self.core = core
        self._policy = core.policy

    def enforce(self, rule: str, caller: TokenInfo, **target) -> None:
        self._policy.enforce(f"identity:{rule}", caller, **target)
