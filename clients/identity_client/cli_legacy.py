"""The classic one-word commands of the old `keystone` client, as operators' notes
still have them (`user-create --name alice --pass ...`, `tenant-create`,
`user-role-add --user ID --role ID --tenant-id ID`). A tenant is a project; every
entity may be named by name or id. Single entities print as `Property | Value`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .cli_base import Listing, Show, UsageError, arg, command
from .cli_catalog import token_fields
from .cli_commands import project_fields, user_fields
from .cli_roles import role_fields

PROPERTY = ("Property", "Value")


def enabled_flag(text: str | None) -> bool | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise UsageError(f"--enabled: expected true or false, not {text!r}")


def legacy_show(fields: dict, keys: tuple[str, ...]) -> Show:
    return Show({k: fields[k] for k in keys if k in fields}, headers=PROPERTY)


# `--tenant`, `--tenant-id`, `--tenant_id`, `--project`, `--project-id`, `--project_id`.
def tenant_option(required: bool = False, help: str = "the tenant (project), name or id"):
    return arg("--tenant", "--tenant-id", "--tenant_id", "--project", "--project-id",
               "--project_id", dest="tenant", metavar="TENANT", required=required, help=help)


def ref_option(kind: str, required: bool = True):
    return arg(f"--{kind}", f"--{kind}-id", f"--{kind}_id", dest=kind, metavar=kind.upper(),
               required=required, help=f"the {kind}, name or id")


def entity(kind: str):
    """A positional naming the entity, also accepted as `--KIND`/`--KIND-id`."""
    def add(parser):
        parser.add_argument(kind, metavar=kind.upper(), nargs="?", help=f"the {kind}, name or id")
        parser.add_argument(f"--{kind}", f"--{kind}-id", f"--{kind}_id", dest=f"{kind}_option",
                            metavar=kind.upper(), help="the same, as an option")
    return add


def entity_ref(args, kind: str) -> str:
    ref = getattr(args, kind) or getattr(args, f"{kind}_option")
    if not ref:
        raise UsageError(f"name the {kind}")
    return ref


USER_KEYS = ("id", "name", "email", "enabled", "tenantId")
TENANT_KEYS = ("id", "name", "description", "enabled")


def legacy_user(user) -> dict:
    fields = user_fields(user)
    fields["tenantId"] = fields.pop("default_project_id")
    return fields


# ---- users ----------------------------------------------------------------------------------

@command("user-create", "Create a user (classic form)",
         arg("--name", required=True), arg("--pass", "--password", dest="password"),
         arg("--email"), tenant_option(help="the default tenant (project)"),
         arg("--enabled", metavar="true|false"), arg("--domain", help="the domain (name or id)"),
         classic=True)
def user_create(session, args):
    request = apb.CreateUserRequest(
        name=args.name, domain_id=session.domain_id(args.domain), password=args.password or "",
        email=args.email or "", default_project_id=session.find_id("project", args.tenant))
    enabled = enabled_flag(args.enabled)
    if enabled is not None:
        request.enabled = enabled
    return legacy_show(legacy_user(session.call("Users", "CreateUser", request)), USER_KEYS)


@command("user-list", "List users (classic form)", tenant_option(), classic=True)
def user_list(session, args):
    users = session.list_all("Users", "ListUsers", apb.ListUsersRequest(), "users")
    if args.tenant:
        project_id = session.find_id("project", args.tenant)
        held = {a.user.id for a in session.list_all(
            "Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
                project_id=project_id, effective=True), "role_assignments") if a.HasField("user")}
        users = [u for u in users if u.id in held]
    columns = [(k, k) for k in ("id", "name", "enabled", "email")]
    return Listing(columns, [user_fields(u) for u in users])


@command("user-get", "Show a user (classic form)", entity("user"), classic=True)
def user_get(session, args):
    return legacy_show(legacy_user(session.find("user", entity_ref(args, "user"))), USER_KEYS)


@command("user-update", "Change a user's name, email or enabled flag (classic form)",
         entity("user"), arg("--name"), arg("--email"), arg("--enabled", metavar="true|false"),
         classic=True)
def user_update(session, args):
    request = apb.UpdateUserRequest(id=session.find_id("user", entity_ref(args, "user")))
    if args.name is not None:
        request.name = args.name
    if args.email is not None:
        request.email = args.email
    enabled = enabled_flag(args.enabled)
    if enabled is not None:
        request.enabled = enabled
    session.call("Users", "UpdateUser", request)


@command("user-password-update", "Set a user's password (classic form)", entity("user"),
         arg("--pass", "--password", dest="password", required=True), classic=True)
def user_password_update(session, args):
    session.call("Users", "UpdateUser", apb.UpdateUserRequest(
        id=session.find_id("user", entity_ref(args, "user")), password=args.password))


@command("user-delete", "Delete a user (classic form)", entity("user"), classic=True)
def user_delete(session, args):
    session.call("Users", "DeleteUser", apb.DeleteRequest(
        id=session.find_id("user", entity_ref(args, "user"))))


# ---- tenants ----------------------------------------------------------------------------------

@command("tenant-create", "Create a tenant, i.e. a project (classic form)",
         arg("--name", "--tenant-name", "--tenant_name", dest="name", required=True),
         arg("--description"), arg("--enabled", metavar="true|false"),
         arg("--domain", help="the domain (name or id)"), classic=True)
def tenant_create(session, args):
    request = apb.CreateProjectRequest(name=args.name, domain_id=session.domain_id(args.domain),
                                       description=args.description or "")
    enabled = enabled_flag(args.enabled)
    if enabled is not None:
        request.enabled = enabled
    return legacy_show(project_fields(session.call("Projects", "CreateProject", request)),
                       TENANT_KEYS)


@command("tenant-list", "List tenants (projects) (classic form)", classic=True)
def tenant_list(session, args):
    projects = session.list_all("Projects", "ListProjects", apb.ListProjectsRequest(), "projects")
    columns = [(k, k) for k in ("id", "name", "enabled")]
    return Listing(columns, [project_fields(p) for p in projects])


@command("tenant-get", "Show a tenant (project) (classic form)", entity("tenant"), classic=True)
def tenant_get(session, args):
    return legacy_show(project_fields(session.find("project", entity_ref(args, "tenant"))),
                       TENANT_KEYS)


@command("tenant-delete", "Delete a tenant (project) (classic form)", entity("tenant"),
         classic=True)
def tenant_delete(session, args):
    session.call("Projects", "DeleteProject", apb.DeleteRequest(
        id=session.find_id("project", entity_ref(args, "tenant"))))


# ---- roles -------------------------------------------------------------------------------------

@command("role-create", "Create a role (classic form)", arg("--name", required=True),
         classic=True)
def role_create(session, args):
    made = session.call("Roles", "CreateRole", apb.CreateRoleRequest(name=args.name))
    return legacy_show(role_fields(made), ("id", "name"))


@command("role-list", "List roles (classic form)", classic=True)
def role_list(session, args):
    roles = session.list_all("Roles", "ListRoles", apb.ListRolesRequest(), "roles")
    return Listing([("id", "id"), ("name", "name")], [role_fields(r) for r in roles])


@command("role-get", "Show a role (classic form)", entity("role"), classic=True)
def role_get(session, args):
    return legacy_show(role_fields(session.find("role", entity_ref(args, "role"))), ("id", "name"))


@command("role-delete", "Delete a role (classic form)", entity("role"), classic=True)
def role_delete(session, args):
    session.call("Roles", "DeleteRole", apb.DeleteRequest(
        id=session.find_id("role", entity_ref(args, "role"))))


def user_role_request(session, args) -> apb.GrantRequest:
    if not args.tenant:
        raise UsageError("--tenant-id is required (a role is granted on a tenant)")
    request = apb.GrantRequest(role_id=session.find_id("role", args.role))
    request.actor.user_id = session.find_id("user", args.user)
    request.target.project_id = session.find_id("project", args.tenant)
    return request


USER_ROLE = (ref_option("user"), ref_option("role"), tenant_option())


@command("user-role-add", "Grant a user a role on a tenant (classic form)", *USER_ROLE,
         classic=True)
def user_role_add(session, args):
    session.call("Assignments", "GrantRole", user_role_request(session, args))


@command("user-role-remove", "Revoke a user's role on a tenant (classic form)", *USER_ROLE,
         classic=True)
def user_role_remove(session, args):
    session.call("Assignments", "RevokeRole", user_role_request(session, args))


@command("user-role-list", "List a user's roles on a tenant (classic form)",
         ref_option("user", required=False), tenant_option(), classic=True)
def user_role_list(session, args):
    user_id = session.find_id("user", args.user) or session.token_info.user.id
    project_id = session.find_id("project", args.tenant)
    if not project_id and session.token_info.HasField("project"):
        project_id = session.token_info.project.id
    assignments = session.list_all("Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
        user_id=user_id, project_id=project_id, effective=True,
        include_names=True), "role_assignments")
    rows, seen = [], set()
    for a in assignments:
        if a.HasField("project") and a.role.id not in seen:
            seen.add(a.role.id)
            rows.append({"id": a.role.id, "name": a.role.name, "user_id": user_id,
                         "tenant_id": a.project.id})
    return Listing([(k, k) for k in ("id", "name", "user_id", "tenant_id")], rows)


@command("token-get", "Issue a token (classic form)", classic=True)
def token_get(session, args):
    answer = session.authenticate()
    fields = token_fields(answer.token, answer.token_info)
    if "project_id" in fields:
        fields["tenant_id"] = fields.pop("project_id")
    return Show(fields, headers=PROPERTY)

