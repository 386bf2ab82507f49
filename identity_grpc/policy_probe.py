"""What the loaded rules say about roles and targets, found by evaluating them.

Two questions the server asks of its rules rather than of a list written beside them,
so that an operator's `policy_file` is honoured without a second setting to keep in
step:

* which roles are *cloud-wide* for a caller: a role is, when holding it on one
  project or domain lets some `identity:*` rule allow, on a target in another domain
  (or on no target at all: everything), what neither a caller without it nor the
  caller asking (its own roles on its own kind of scope) may do there. `service`
  always is (consuming services treat it so in their own policies). So a domain admin
  may not grant such a role, nor manage a user who holds one (`operations.reach`),
  while the roles every domain reader has (reading the global list of roles) are no
  one's domain;
* which rules are *monotone in their target*: with no `not` anywhere in them (rules
  they name included), a rule that allows a caller while knowing nothing of the
  target allows it on every target, so that decision can be remembered per caller.

The probe calls the rules with synthetic credentials (a user of a domain that does not
exist, scoped to a project or the domain itself) and a target whose every fact names
something else; it never reads the store.
"""

import threading

from identity_api.policy import AndCheck, Enforcer, NotCheck, OrCheck, RuleCheck

# Consuming services treat this role as a service's, everywhere (X-Service-Roles).
SERVICE_ROLE = "service"
# Ids no entity has ("~" is not in ids the server makes) on either side of the probe.
_HOME_DOMAIN, _HOME_PROJECT, _HOME_USER = "~probe-domain", "~probe-project", "~probe-user"
_ELSEWHERE = "~probe-elsewhere"
# Role sets looked at are few (the roles of a deployment); past this, start again.
MAX_REMEMBERED = 1024


def _children(check):
    if isinstance(check, NotCheck):
        return (check.check,)
    if isinstance(check, (AndCheck, OrCheck)):
        return check.checks
    return ()


def _walk(check):
    yield check
    for child in _children(check):
        yield from _walk(child)


def target_monotone(name: str, rules: dict) -> bool:
    """Whether rule `name` (and every rule it names) holds no `not`: then a missing
    target fact can only make it refuse, never allow."""
    seen, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        rule = rules.get(current)
        if rule is None:  # decided by the default rule: no promise about it
            return False
        for check in _walk(rule):
            if isinstance(check, NotCheck):
                return False
            if isinstance(check, RuleCheck):
                stack.append(check.name)
    return True


def _target_keys(rules: dict) -> set[str]:
    """Every `%(key)s` the rules substitute."""
    keys = set()
    for rule in rules.values():
        for check in _walk(rule):
            value = getattr(check, "value", None)
            for part in getattr(value, "parts", ()):
                if isinstance(part, tuple):
                    keys.add(part[0])
    return keys


def _credentials(scope: str, roles: list[str]) -> dict:
    """A caller of the probe's home domain, with `roles` on a `scope` there."""
    creds = {"user_id": _HOME_USER, "user_domain_id": _HOME_DOMAIN, "roles": roles,
             "scope": scope}
    if scope == "project":
        creds.update(project_id=_HOME_PROJECT, project_domain_id=_HOME_DOMAIN)
    elif scope == "domain":
        creds["domain_id"] = _HOME_DOMAIN
    elif scope == "system":
        creds["system_scope"] = "all"
    return creds


class CloudWideProbe:
    def __init__(self, enforcer: Enforcer):
        self._enforcer = enforcer
        self._operations = [n for n in enforcer.rules if n.startswith("identity:")]
        # No target at all, and a target whose every fact is elsewhere.
        self._targets = ({}, {key: _ELSEWHERE for key in _target_keys(enforcer.rules)})
        self._known: dict[tuple, bool] = {}
        self._lock = threading.Lock()

    def cloud_wide(self, role_names: frozenset[str], asker_scope: str = "domain",
                   asker_roles: frozenset[str] = frozenset()) -> bool:
        """Whether `role_names` (effective, global roles) are cloud-wide for a caller
        holding `asker_roles` on a scope of kind `asker_scope`."""
        key = (role_names, asker_scope, asker_roles)
        known = self._known.get(key)
        if known is None:
            known = (SERVICE_ROLE in {r.lower() for r in role_names}
                     or self._reaches_elsewhere(role_names, asker_scope, asker_roles))
            with self._lock:
                if len(self._known) >= MAX_REMEMBERED:
                    self._known.clear()
                self._known[key] = known
        return known

    def _reaches_elsewhere(self, role_names, asker_scope, asker_roles) -> bool:
        authorize = self._enforcer.authorize
        asker = _credentials(asker_scope, sorted(asker_roles))
        for scope in ("project", "domain"):
            holder, bare = _credentials(scope, sorted(role_names)), _credentials(scope, [])
            for target in self._targets:
                for rule in self._operations:
                    if (authorize(rule, target, holder) and not authorize(rule, target, bare)
                            and not authorize(rule, target, asker)):
                        return True
        return False
