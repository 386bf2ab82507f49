"""Operations: what a caller may do to the identity model.

Each operation checks its policy rule (`identity:<operation>`) against the caller's
token and the entity acted on, fills in defaults from the token's scope (a
domain-scoped admin creates users in its own domain), then calls one subsystem
manager. Both transports call operations, and reach the core nowhere else (tokens
too: `tokens.py`), so they cannot disagree on a rule or a behaviour. Operations return
the immutable records of `records.py`, never store rows.
"""

from ..core import Core
from ..store import conflicts
from ..store.models import SYSTEM_TARGET  # noqa: F401  (the system grant target, for transports)
from .api_keys import ApiKeyOps
from .audit import AuditOps
from .assignments import AssignmentOps
from .catalog import CatalogOps
from .domain_config import DomainConfigOps
from .limits import LimitOps, RegisteredLimitOps
from .oauth1 import OAuth1Ops
from .policies import PolicyOps
from .project_tags import ProjectTagOps
from .endpoint_filter import EndpointFilterOps
from .credential_blobs import CredentialBlobOps
from .resources import DomainOps, ProjectOps
from .roles import RoleOps
from .tokens import ConsumerOps, TokenOps
from .trusts import TrustOps
from .users import GroupOps, UserOps


class Operations:
    def __init__(self, core: Core):
        self.domains = DomainOps(core)
        self.projects = ProjectOps(core)
        self.users = UserOps(core)
        self.groups = GroupOps(core)
        self.roles = RoleOps(core)
        self.assignments = AssignmentOps(core)
        self.catalog = CatalogOps(core)
        self.endpoint_filter = EndpointFilterOps(core)
        self.api_keys = ApiKeyOps(core)
        self.trusts = TrustOps(core)
        self.credential_blobs = CredentialBlobOps(core)
        self.oauth1 = OAuth1Ops(core)
        self.tokens = TokenOps(core)
        self.consumers = ConsumerOps(core)
        self.project_tags = ProjectTagOps(core)
        self.domain_config = DomainConfigOps(core)
        self.policies = PolicyOps(core)
        self.registered_limits = RegisteredLimitOps(core)
        self.limits = LimitOps(core)
        self.health = core.health  # readiness: no caller, no rule (docs/health.md)
        self.audit = AuditOps(core)


def store_unreachable(error: Exception) -> bool:
    """Whether `error` says the store cannot be reached (UNAVAILABLE, 503), as opposed
    to a bug (INTERNAL, 500); see `store.conflicts`."""
    return conflicts.kind_of(error) == conflicts.CONNECTION
