"""Translation between the admin protobuf messages and the operations' records."""

from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import admin_pb2 as apb

from ..errors import InvalidArgument
from ..records import UserEntry
from ..user_options import SUPPORTED


def set_fields(request, names: tuple[str, ...]) -> dict:
    """The optional fields a request sets: an update changes only these."""
    return {name: getattr(request, name) for name in names if request.HasField(name)}


def optional(request, name: str):
    return getattr(request, name) if request.HasField(name) else None


def timestamp(seconds: int | None) -> Timestamp | None:
    return Timestamp(seconds=seconds) if seconds is not None else None


def seconds_of(request, name: str) -> int | None:
    if not request.HasField(name):
        return None
    value = getattr(request, name).seconds
    if value <= 0:
        raise InvalidArgument(name, "must be a time after 1970")
    return value


def domain(row) -> apb.Domain:
    return apb.Domain(id=row.id, name=row.name, description=row.description, enabled=row.enabled)


def project(row) -> apb.Project:
    return apb.Project(id=row.id, name=row.name, domain_id=row.domain_id or "",
                       parent_id=row.parent_id or "", description=row.description,
                       enabled=row.enabled, is_domain=row.is_domain, tags=row.tags)


def user(entry: UserEntry) -> apb.User:
    return apb.User(id=entry.id, name=entry.name, domain_id=entry.domain_id, email=entry.email,
                    description=entry.description, enabled=entry.enabled,
                    default_project_id=entry.default_project_id or "", extra=dict(entry.extra),
                    password_expires_at=timestamp(entry.password_expires_at),
                    options=apb.UserOptions(**{k: v for k, v in entry.options
                                               if k in SUPPORTED}))


def user_options(message: apb.UserOptions) -> dict:
    """The options a UserOptions message sets (its unset fields change nothing)."""
    return {field.name: value for field, value in message.ListFields()}


def group(row) -> apb.Group:
    return apb.Group(id=row.id, name=row.name, domain_id=row.domain_id, description=row.description)


def role(row) -> apb.Role:
    return apb.Role(id=row.id, name=row.name, domain_id=row.domain_id or "",
                    description=row.description)


def grant(request) -> dict:
    """A GrantRequest as the keyword arguments of a grant operation."""
    actor = request.actor.WhichOneof("actor")
    if actor is None:
        raise InvalidArgument("actor", "a user_id or a group_id is required")
    target = request.target.WhichOneof("target")
    if target is None:
        raise InvalidArgument("target", "a project_id, a domain_id or system is required")
    if target == "system" and not request.target.system:
        raise InvalidArgument("target.system", "must be true")
    if not request.role_id:
        raise InvalidArgument("role_id", "is required")
    target_type = target.removesuffix("_id")
    target_id = "all" if target == "system" else getattr(request.target, target)
    return {"role_id": request.role_id, "target_type": target_type, "target_id": target_id,
            actor: getattr(request.actor, actor), "inherited": request.inherited}


def assignment(a, names: dict | None) -> apb.RoleAssignment:
    def ref(kind: str, ident: str) -> apb.NamedRef:
        if names is None:
            return apb.NamedRef(id=ident)
        name, domain_id, domain_name = names.get((kind, ident), ("", "", ""))
        if kind == "domain":
            return apb.NamedRef(id=ident, name=name)
        return apb.NamedRef(id=ident, name=name, domain_id=domain_id, domain_name=domain_name)

    message = apb.RoleAssignment(role=ref("role", a.role_id), inherited=a.inherited,
                                 via_group_id=a.via_group_id,
                                 implied_by_role_id=a.implied_by_role_id)
    getattr(message, a.actor_type).CopyFrom(ref(a.actor_type, a.actor_id))
    if a.target_type == "system":
        message.system = True
    else:
        getattr(message, a.target_type).CopyFrom(ref(a.target_type, a.target_id))
    return message
