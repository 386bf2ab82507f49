"""Authorization policy for management calls: the default rules, and enforcing them.

Rules are in OpenStack's policy language (`identity_client.policy`, shared with the
services that consume identity). An operator overrides any rule in a JSON or YAML
file named by the `policy_file` setting; a broken file stops the server at start,
naming the line. Each call is checked against `identity:<operation>`, with the
caller's token as credentials and the entity acted on as target (`target.*`).
"""

from identity_client.policy import Enforcer

from .errors import PermissionDenied
from .records import TokenInfo

DEFAULT_RULES: dict[str, str] = {
    # Building blocks. Roles are a token's effective roles, so admin implies reader.
    "system_admin": "role:admin and system_scope:all",
    "system_reader": "role:reader and system_scope:all",
    # An admin or reader on a domain-scoped token, acting inside that domain.
    "domain_admin": "role:admin and domain_id:%(target.domain_id)s",
    "domain_reader": "role:reader and domain_id:%(target.domain_id)s",
    "project_reader": "role:reader and project_id:%(target.project_id)s",
    "owner": "user_id:%(target.user_id)s",
    "admin": "rule:system_admin or rule:domain_admin",
    "reader": "rule:system_reader or rule:domain_reader",

    "identity:get_domain": "rule:system_reader or domain_id:%(target.domain_id)s"
                           " or project_domain_id:%(target.domain_id)s",
    "identity:list_domains": "rule:system_reader",
    "identity:create_domain": "rule:system_admin",
    "identity:update_domain": "rule:system_admin",
    "identity:delete_domain": "rule:system_admin",

    "identity:get_project": "rule:reader or project_id:%(target.project_id)s",
    "identity:list_projects": "rule:reader",
    "identity:list_project_parents": "rule:reader or project_id:%(target.project_id)s",
    "identity:list_project_subtree": "rule:reader or project_id:%(target.project_id)s",
    "identity:create_project": "rule:admin",
    "identity:update_project": "rule:admin",
    "identity:delete_project": "rule:admin",

    "identity:get_user": "rule:reader or rule:owner",
    "identity:list_users": "rule:reader",
    "identity:create_user": "rule:admin",
    "identity:update_user": "rule:admin",
    "identity:delete_user": "rule:admin",
    "identity:change_password": "rule:owner",
    "identity:list_user_groups": "rule:reader or rule:owner",

    "identity:get_group": "rule:reader",
    "identity:list_groups": "rule:reader",
    "identity:list_group_users": "rule:reader",
    "identity:check_user_in_group": "rule:reader",
    "identity:create_group": "rule:admin",
    "identity:update_group": "rule:admin",
    "identity:delete_group": "rule:admin",
    # A domain admin manages membership of its groups for its users only.
    "identity:add_user_to_group": "rule:system_admin or (rule:domain_admin and domain_id:%(target.user_domain_id)s)",
    "identity:remove_user_from_group": "rule:system_admin or (rule:domain_admin and domain_id:%(target.user_domain_id)s)",

    # Domain admins read roles so that they can grant them.
    "identity:get_role": "rule:system_reader or (role:reader and scope:domain)",
    "identity:list_roles": "rule:system_reader or (role:reader and scope:domain)",
    "identity:list_implied_roles": "rule:system_reader or (role:reader and scope:domain)",
    "identity:create_role": "rule:system_admin",
    "identity:update_role": "rule:system_admin",
    "identity:delete_role": "rule:system_admin",
    "identity:create_implied_role": "rule:system_admin",
    "identity:delete_implied_role": "rule:system_admin",

    # A domain admin grants within its domain: the target and the actor both in it.
    "identity:grant_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s)",
    "identity:revoke_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s)",
    "identity:check_grant": "rule:system_reader or (rule:domain_reader and domain_id:%(target.actor_domain_id)s)",
    "identity:list_role_assignments": "rule:reader or rule:project_reader or rule:owner",

    "identity:get_region": "rule:system_reader",
    "identity:list_regions": "rule:system_reader",
    "identity:create_region": "rule:system_admin",
    "identity:update_region": "rule:system_admin",
    "identity:delete_region": "rule:system_admin",
    "identity:get_service": "rule:system_reader",
    "identity:list_services": "rule:system_reader",
    "identity:create_service": "rule:system_admin",
    "identity:update_service": "rule:system_admin",
    "identity:delete_service": "rule:system_admin",
    "identity:get_endpoint": "rule:system_reader",
    "identity:list_endpoints": "rule:system_reader",
    "identity:create_endpoint": "rule:system_admin",
    "identity:update_endpoint": "rule:system_admin",
    "identity:delete_endpoint": "rule:system_admin",

    "identity:create_api_key": "rule:owner or rule:system_admin",
    "identity:list_api_keys": "rule:owner or rule:system_admin",
    "identity:delete_api_key": "rule:owner or rule:system_admin",
}


# What `credentials` gives rules (absent facts left out). A rule checking anything
# else (a typo, `service_role:`, which a management call never has) could never hold,
# so a policy file with one stops the server at start.
CREDENTIAL_KEYS = frozenset({"user_id", "user_domain_id", "roles", "scope", "project_id",
                             "project_domain_id", "domain_id", "system_scope"})


def credentials(caller: TokenInfo) -> dict:
    """What rules may ask of the caller: its ids, its scope and its effective roles.
    Absent facts are left out rather than None, so that a check comparing two absent
    facts is false instead of "None" == "None"."""
    ident = caller.identity
    creds = {
        "user_id": ident.user.id,
        "user_domain_id": ident.user.domain.id,
        "roles": [r.name for r in ident.roles],
        "scope": ident.scope_type,
        "project_id": ident.project.id if ident.project else None,
        "project_domain_id": ident.project.domain.id if ident.project else None,
        "domain_id": ident.domain.id if ident.domain else None,
        "system_scope": "all" if ident.scope_type == "system" else None,
    }
    return {k: v for k, v in creds.items() if v is not None}


class Policy:
    def __init__(self, policy_file: str = ""):
        self._enforcer = Enforcer(DEFAULT_RULES, credential_keys=CREDENTIAL_KEYS)
        if policy_file:
            self._enforcer.load_overrides(policy_file)

    def enforce(self, rule: str, caller: TokenInfo, **target) -> None:
        """Raise PermissionDenied naming `rule` unless it allows `caller` on `target`
        (keyword arguments become `target.<name>`)."""
        flat = {f"target.{k}": v for k, v in target.items() if v is not None}
        if not self._enforcer.authorize(rule, flat, credentials(caller)):
            raise PermissionDenied(f"refused by policy rule {rule!r}", rule=rule)
