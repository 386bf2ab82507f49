"""Authorization policy: the default rules, and enforcing them.

Rules are in OpenStack's policy language (`identity_api.policy`, shared with the
services that consume identity). An operator overrides any rule in a JSON or YAML
file named by the `policy_file` setting; a broken file stops the server at start,
naming the line. Each call is checked against `identity:<operation>`, with the
caller's token as credentials and the entity acted on as target (`target.*`): the
management calls, and the token operations (validating, checking and revoking
another's token, the revocation stream, the signing keys, a domain's projects).
Token operations are the hot path, so their decisions are memoised per caller
(`Policy.enforce_on_token`). Which roles are cloud-wide follows from the loaded
rules (`policy_probe`). See docs/policy.md.
"""

from collections.abc import Mapping

from identity_api.policy import Enforcer

from .errors import PermissionDenied
from .policy_probe import CloudWideProbe, target_monotone
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
    # A consuming service's user, and the user a token (the target) was issued to.
    "service_role": "role:service",
    "token_subject": "user_id:%(target.token.user_id)s",
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
    # A domain admin manages the users whose power stays in its domain: reach_domain_id
    # is the one domain holding the user and every target of its grants (direct or
    # through groups), absent when it holds a system grant, grants in several domains
    # or a cloud-wide role. Anyone else's password, name, enabled flag... is a system
    # admin's business, or a domain admin could reset it and log in as them.
    "identity:update_user": "rule:system_admin or (rule:domain_admin and domain_id:%(target.reach_domain_id)s)",
    "identity:delete_user": "rule:system_admin or (rule:domain_admin and domain_id:%(target.reach_domain_id)s)",
    "identity:change_password": "rule:owner",
    "identity:list_user_groups": "rule:reader or rule:owner",
    "identity:list_user_projects": "rule:reader or rule:owner",

    "identity:get_group": "rule:reader",
    "identity:list_groups": "rule:reader",
    "identity:list_group_users": "rule:reader",
    "identity:check_user_in_group": "rule:reader",
    "identity:create_group": "rule:admin",
    "identity:update_group": "rule:admin",
    "identity:delete_group": "rule:admin",
    # A domain admin manages membership of its groups for its users only, and cannot
    # hand out, through a group, power reaching past its domain (group_reach_domain_id:
    # as reach_domain_id, for the group's own grants).
    "identity:add_user_to_group": "rule:system_admin or (rule:domain_admin and domain_id:%(target.user_domain_id)s"
                                  " and domain_id:%(target.group_reach_domain_id)s)",
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

    # A domain admin grants within its domain: the target and the actor both in it, and
    # never a cloud-wide role (`service`, or one some rule lets act on other domains:
    # policy_probe), which would be minting power over the whole cloud.
    "identity:grant_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s"
                           " and False:%(target.cloud_wide)s)",
    "identity:revoke_role": "rule:system_admin or (rule:domain_admin and domain_id:%(target.actor_domain_id)s"
                            " and False:%(target.cloud_wide)s)",
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

    # Another user's key also needs the request's explicit on_behalf (ApiKeyOps).
    "identity:create_api_key": "rule:owner or rule:system_admin",
    "identity:list_api_keys": "rule:owner or rule:system_admin",
    "identity:delete_api_key": "rule:owner or rule:system_admin",

    # Token operations (Keystone's rules of the same names). The target is the token
    # acted on: `target.token.user_id`. Admin on one project or domain is no token
    # admin of the whole cloud; consuming services hold `service`.
    "identity:validate_token": "rule:service_role or rule:system_reader or rule:token_subject",
    "identity:check_token": "rule:service_role or rule:system_reader or rule:token_subject",
    "identity:revoke_token": "rule:service_role or rule:system_admin or rule:token_subject",
    # What services that check tokens themselves need: no token is the target.
    "identity:watch_revocations": "rule:service_role or rule:system_reader",
    "identity:get_signing_keys": "rule:service_role or rule:system_reader",
    # The projects of a domain-scoped token's domain (the caller's own token, or a subject).
    "identity:list_domain_projects": "rule:service_role or rule:system_reader or rule:token_subject",
}

# Decisions memoised by `Policy.enforce_on_token`; past this many, forgotten at once.
TOKEN_MEMO_SIZE = 4096


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
    """Owns the authorization rules (defaults and a policy file's overrides); promises
    one decision per rule, memoised for token operations."""

    def __init__(self, policy_file: str = ""):
        self._enforcer = Enforcer(DEFAULT_RULES, credential_keys=CREDENTIAL_KEYS)
        if policy_file:
            self._enforcer.load_overrides(policy_file)
        rules = self._enforcer.rules
        # Rules whose "yes" with no target facts is a yes for every target.
        self._target_free = frozenset(name for name in rules if target_monotone(name, rules))
        self._probe = CloudWideProbe(self._enforcer)
        self._memo: dict = {}

    def enforce(self, rule: str, caller: TokenInfo, **target) -> None:
        """Raise PermissionDenied naming `rule` unless it allows `caller` on `target`
        (keyword arguments become `target.<name>`)."""
        flat = {f"target.{k}": v for k, v in target.items() if v is not None}
        if not self._enforcer.authorize(rule, flat, credentials(caller)):
            raise PermissionDenied(f"refused by policy rule {rule!r}", rule=rule)

    def enforce_on_token(self, rule: str, caller: TokenInfo, target: Mapping[str, str] = {}) -> None:
        """`enforce` for the hot path of token operations: `target` holds flat keys
        (`{"token.user_id": ...}`)."""
        if not self.allows_on_token(rule, caller, target):
            raise PermissionDenied(f"refused by policy rule {rule!r}", rule=rule)

    def allows_on_token(self, rule: str, caller: TokenInfo, target: Mapping[str, str] = {}) -> bool:
        """Whether `rule` allows `caller` on `target`, memoised per (rule, the caller's
        scoped identity, target). A decision is a function of the rule (fixed once
        loaded), the credentials (all read from the identity, which is immutable and
        replaced, not changed, when a role or scope changes) and the target, so it
        never goes stale. A rule that needs no target fact to say yes (`service`, a
        system reader) is remembered once per caller, whatever token it asks about."""
        identity = caller.identity
        memo = self._memo
        key = (rule, id(identity))
        entry = memo.get(key)
        if entry is not None and entry[0] is identity:  # the id of a live object: its own
            return True
        target_key = (rule, id(identity), tuple(target.items()))
        entry = memo.get(target_key)
        if entry is not None and entry[0] is identity:
            return entry[1]
        creds = credentials(caller)
        if rule in self._target_free and self._enforcer.authorize(rule, {}, creds):
            self._remember(key, (identity, True))
            return True
        flat = {f"target.{k}": v for k, v in target.items() if v is not None}
        allowed = self._enforcer.authorize(rule, flat, creds)
        self._remember(target_key, (identity, allowed))
        return allowed

    def _remember(self, key, entry) -> None:
        # Entries hold their identity, so an id in a key is never reused while it is
        # there. Forgetting everything at once is cheap and keeps the bound.
        if len(self._memo) >= TOKEN_MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = entry

    def cloud_wide(self, role_names, caller: TokenInfo) -> bool:
        """Whether holding these (effective, global) roles on one project or domain
        gives power outside it that `caller` has not got itself there: `service`, or
        roles with which some loaded rule allows acting on a target in another
        domain (`policy_probe`)."""
        identity = caller.identity
        return self._probe.cloud_wide(frozenset(role_names), identity.scope_type,
                                      identity.role_names)
