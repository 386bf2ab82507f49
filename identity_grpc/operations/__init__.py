"""Operations: what a caller may do to the identity model.

Each operation checks its policy rule (`identity:<operation>`) against the caller's
token and the entity acted on, fills in defaults from the token's scope (a
domain-scoped admin creates users in its own domain), then calls one subsystem
manager. Both transports call operations, so they cannot disagree on a rule.
"""

from ..core import Core
from .api_keys import ApiKeyOps
from .assignments import AssignmentOps
from .catalog import CatalogOps
from .resources import DomainOps, ProjectOps
from .roles import RoleOps
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
        self.api_keys = ApiKeyOps(core)
