"""Authorization policy: the default rules, and enforcing them.

Rules are in OpenStack's policy language (`identity_api.policy`, shared with the
services that consume identity); the defaults are a profile of `policy_rules`, picked
by the `policy_profile` setting. An operator overrides any rule in a JSON or YAML
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
from .policy_rules import rules_for
from .records import TokenInfo


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

    def __init__(self, policy_file: str = "", profile: str = "scoped"):
        self._enforcer = Enforcer(rules_for(profile), credential_keys=CREDENTIAL_KEYS)
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
