"""Authorization in a consuming service: OpenStack policy rules over the caller's
identity, and the projects a domain-scoped caller speaks for.

    enforcer = Enforcer.from_file("policy.json")          # identity_api.policy
    enforce(enforcer, "compute:create", context, {"project_id": project_id})

`credentials(context)` gives the rules what oslo.context gives them in OpenStack
services (user_id, project_id, domain_id, roles, system_scope, service_roles...,
and `is_admin`, which is the `context_is_admin` rule when the policy has one, else
the admin role): the keys of `identity_api.policy.CONTEXT_CREDENTIALS`, which an
Enforcer checks rules against by default. So a classic policy.json works unchanged,
string and legacy list forms alike, and `service_role:service` holds when the
service token has the `service` role.
"""

from collections.abc import Mapping

from identity_api.policy import Enforcer

from .verifier import IdentityContext, ProjectInfo

__all__ = ["credentials", "enforce", "authorize", "PolicyNotAuthorized", "domain_projects",
           "default_target"]


class PolicyNotAuthorized(PermissionError):
    def __init__(self, rule: str):
        super().__init__(f"Policy doesn't allow {rule} to be performed.")
        self.rule = rule


def credentials(context: IdentityContext, enforcer: Enforcer | None = None) -> dict:
    roles = list(context.roles)
    creds = {
        "user_id": context.user_id, "user": context.user_id,
        "user_domain_id": context.user_domain_id, "user_name": context.user_name,
        "project_id": context.project_id, "tenant": context.project_id,
        "tenant_id": context.project_id, "project_name": context.project_name,
        "project_domain_id": context.project_domain_id,
        "domain_id": context.domain_id, "domain_name": context.domain_name,
        "system_scope": "all" if context.system else None,
        "roles": roles,
        "service_user_id": context.service_user_id,
        "service_user_domain_id": context.service_user_domain_id,
        "service_project_id": context.service_project_id,
        "service_project_domain_id": context.service_project_domain_id,
        "service_roles": list(context.service_roles),
        "is_admin": False,
        "is_admin_project": bool(context.project_id),
    }
    if enforcer is not None and "context_is_admin" in enforcer.rules:
        creds["is_admin"] = enforcer.authorize("context_is_admin", {}, creds)
    else:
        creds["is_admin"] = context.has_role("admin")
    return creds


def default_target(context: IdentityContext) -> dict:
    """What services pass when a call has no object of its own: the caller's scope."""
    return {"project_id": context.project_id, "user_id": context.user_id,
            "domain_id": context.domain_id or context.project_domain_id}


def authorize(enforcer: Enforcer, rule: str, context: IdentityContext,
              target: Mapping | None = None) -> bool:
    """Whether the rule allows the call (an unknown rule: the enforcer's default)."""
    target = default_target(context) if target is None else target
    return enforcer.authorize(rule, target, credentials(context, enforcer))


def enforce(enforcer: Enforcer, rule: str, context: IdentityContext,
            target: Mapping | None = None) -> None:
    """Raise PolicyNotAuthorized unless the rule allows the call."""
    if not authorize(enforcer, rule, context, target):
        raise PolicyNotAuthorized(rule)


def domain_projects(context: IdentityContext) -> tuple[ProjectInfo, ...]:
    """The projects the caller speaks for: every enabled project of its domain when
    domain-scoped (one call per domain, cached until the identity service says the
    domain's projects changed), its project when project-scoped, none otherwise."""
    if context.verifier is None:
        raise ValueError("this context was not made by a TokenVerifier")
    return context.verifier.domain_projects(context)
