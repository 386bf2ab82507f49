"""What a request gets: who is calling, on what scope, with what roles, built from the
identity service's answer (and, with a service token, who calls on their behalf)."""

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from identity_api.tokens import TokenPayload
from identity_api.v1 import identity_pb2 as pb

if TYPE_CHECKING:
    from . import TokenVerifier


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: str
    name: str
    domain_id: str
    domain_name: str = ""
    parent_id: str = ""
    description: str = ""


@dataclass(frozen=True)
class IdentityContext:
    """Who is calling, on what scope, with what roles (and, with a service token,
    which service is calling on their behalf)."""

    user_id: str
    user_name: str = ""
    user_domain_id: str = ""
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None  # domain-scoped tokens
    system: bool = False  # system-scoped ("all") tokens
    roles: tuple[str, ...] = ()
    service_user_id: str | None = None
    service_roles: tuple[str, ...] = ()
    token: str = field(default="", repr=False)
    user_domain_name: str = ""
    project_domain_name: str | None = None
    domain_name: str | None = None
    methods: tuple[str, ...] = ()
    audit_ids: tuple[str, ...] = ()
    issued_at: int = 0
    expires_at: int = 0
    api_key_id: str | None = None
    access_token_id: str | None = None  # the OAuth1 access token of an oauth1 token
    service_user_name: str | None = None
    service_user_domain_id: str | None = None
    service_project_id: str | None = None
    service_project_domain_id: str | None = None
    service_token: str | None = field(default=None, repr=False)
    # A token issued through a trust: the trust, who delegated, and who was trusted
    # (`user_id` is the trustee's, or the trustor's when the trust impersonates).
    trust_id: str | None = None
    trustor_user_id: str | None = None
    trustee_user_id: str | None = None
    # The verifier that checked it (for `domain_projects`).
    verifier: "TokenVerifier | None" = field(default=None, repr=False, compare=False)

    @property
    def scope_type(self) -> str:
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        return "system" if self.system else "unscoped"

    def has_role(self, name: str) -> bool:
        name = name.lower()
        return any(r.lower() == name for r in self.roles)


def context_from(token: str, info: pb.Token, payload: TokenPayload | None,
                 verifier: "TokenVerifier") -> IdentityContext:
    scope = info.WhichOneof("scope")
    project = info.project if scope == "project" else None
    domain = info.domain if scope == "domain" else None
    trust = info.trust if info.HasField("trust") else None
    return IdentityContext(
        user_id=info.user.id, user_name=info.user.name, user_domain_id=info.user.domain.id,
        user_domain_name=info.user.domain.name,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        project_domain_id=project.domain.id if project else None,
        project_domain_name=project.domain.name if project else None,
        domain_id=domain.id if domain else None, domain_name=domain.name if domain else None,
        system=scope == "system", roles=tuple(r.name for r in info.roles), token=token,
        methods=tuple(info.methods), audit_ids=tuple(info.audit_ids),
        issued_at=info.issued_at.seconds, expires_at=info.expires_at.seconds,
        api_key_id=payload.api_key_id if payload else None,
        trust_id=trust.id if trust else None,
        trustor_user_id=trust.trustor_user_id if trust else None,
        trustee_user_id=trust.trustee_user_id if trust else None,
        access_token_id=payload.access_token_id if payload else None, verifier=verifier)


def with_service(user: IdentityContext, service: IdentityContext) -> IdentityContext:
    return replace(user, service_user_id=service.user_id, service_roles=service.roles,
                   service_user_name=service.user_name,
                   service_user_domain_id=service.user_domain_id,
                   service_project_id=service.project_id,
                   service_project_domain_id=service.project_domain_id,
                   service_token=service.token)
