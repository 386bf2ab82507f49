"""The classic one-word commands of the old `keystone` client, as operators' notes
still have them (`user-create --name=alice --pass=... --email=...`, `tenant-create`,
`user-role-add --user=ID --role=ID --tenant-id=ID`). A tenant is a project; every
entity may be named by name or id. One entity prints as `Property | Value`; lists
keep the keystone client's lower-case columns (`user-list`: id | enabled | email |
name)."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, Lister, ShowOne, UsageError, add_domain, grant, listing
from .projects import PROJECT, holders, project_fields
from .roles import ROLE
from .tokens import token_fields
from .users import USER, user_fields

USER_KEYS = ("id", "name", "email", "enabled", "tenantId")
TENANT_KEYS = ("id", "name", "description", "enabled")


class ClassicShow(ShowOne):
    """One entity as the keystone client printed it: Property | Value."""

    def produce_output(self, parsed_args, column_names, data):
        if parsed_args.formatter != "table":
            return super().produce_output(parsed_args, column_names, data)
        columns, selector = self._generate_columns_and_selector(parsed_args, column_names)
        rows = list(zip(column_names, data))
        if selector:
            rows = list(self._compress_iterable(rows, selector))
        table = self._formatter_plugins["table"].obj
        table.emit_list(("Property", "Value"), rows, self.app.stdout, parsed_args)
        return 0


def legacy_show(fields: dict, keys: tuple[str, ...]):
    keys = [k for k in keys if k in fields]
    return tuple(keys), tuple(fields[k] for k in keys)


def columns(*keys: str) -> list[tuple[str, str]]:
    return [(k, k) for k in keys]


def enabled_flag(text: str | None) -> bool | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise UsageError(f"--enabled: expected true or false, not {text!r}")


def add_tenant(parser, required: bool = False, help: str = "the tenant (project), name or id"):
    """`--tenant`, `--tenant-id`, `--tenant_id`, `--project`, `--project-id`, `--project_id`."""
    parser.add_argument("--tenant", "--tenant-id", "--tenant_id", "--project", "--project-id",
                        "--project_id", dest="tenant", metavar="TENANT", required=required,
                        help=help)


def add_ref(parser, kind: str, required: bool = True) -> None:
    parser.add_argument(f"--{kind}", f"--{kind}-id", f"--{kind}_id", dest=kind,
                        metavar=kind.upper(), required=required, help=f"the {kind}, name or id")


def add_entity(parser, kind: str) -> None:
    """A positional naming the entity, also accepted as `--KIND`/`--KIND-id`."""
    parser.add_argument(kind, metavar=kind.upper(), nargs="?", help=f"the {kind}, name or id")
    parser.add_argument(f"--{kind}", f"--{kind}-id", f"--{kind}_id", dest=f"{kind}_option",
                        metavar=kind.upper(), help="the same, as an option")


def entity_ref(args, kind: str) -> str:
    ref = getattr(args, kind) or getattr(args, f"{kind}_option")
    if not ref:
        raise UsageError(f"name the {kind}")
    return ref


def legacy_user(user) -> dict:
    fields = user_fields(user)
    fields["tenantId"] = fields.pop("default_project_id")
    return fields


class Entity:
    """A classic command naming one entity (positional or --KIND)."""
    kind = ""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_entity(parser, self.kind)
        return parser

    def ref(self, args) -> str:
        return entity_ref(args, self.kind)


# ---- users -------------------------------------------------------------------------------

class UserCreate(ClassicShow):
    """Create a user (classic form)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", required=True)
        parser.add_argument("--pass", "--password", dest="password")
        parser.add_argument("--email")
        add_tenant(parser, help="the default tenant (project)")
        parser.add_argument("--enabled", metavar="true|false")
        add_domain(parser, "user")
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateUserRequest(
            name=args.name, domain_id=c.domain_id(args.domain), password=args.password or "",
            email=args.email or "", default_project_id=c.find_id("project", args.tenant))
        enabled = enabled_flag(args.enabled)
        if enabled is not None:
            request.enabled = enabled
        return legacy_show(legacy_user(c.call("Users", "CreateUser", request)), USER_KEYS)


class UserList(Lister):
    """List users (classic form)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_tenant(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        users = USER.list_all(c)
        if args.tenant:
            held = holders(c, "user", project_id=c.find_id("project", args.tenant))
            users = [u for u in users if u.id in held]
        return listing(columns("id", "enabled", "email", "name"), [user_fields(u) for u in users])


class UserGet(Entity, ClassicShow):
    """Show a user (classic form)"""
    kind = "user"

    def take_action(self, args):
        return legacy_show(legacy_user(self.connection.find("user", self.ref(args))), USER_KEYS)


class UserUpdate(Entity, Command):
    """Change a user's name, email or enabled flag (classic form)"""
    kind = "user"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name")
        parser.add_argument("--email")
        parser.add_argument("--enabled", metavar="true|false")
        return parser

    def take_action(self, args):
        request = apb.UpdateUserRequest(id=self.connection.find_id("user", self.ref(args)))
        if args.name is not None:
            request.name = args.name
        if args.email is not None:
            request.email = args.email
        enabled = enabled_flag(args.enabled)
        if enabled is not None:
            request.enabled = enabled
        self.connection.call("Users", "UpdateUser", request)


class UserPasswordUpdate(Entity, Command):
    """Set a user's password (classic form)"""
    kind = "user"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--pass", "--password", dest="password", required=True)
        return parser

    def take_action(self, args):
        self.connection.call("Users", "UpdateUser", apb.UpdateUserRequest(
            id=self.connection.find_id("user", self.ref(args)), password=args.password))


class Delete(Entity, Command):
    """Delete a KIND (classic form)"""
    service, method, kind_looked_up = "", "", ""

    def take_action(self, args):
        self.connection.call(self.service, self.method, apb.DeleteRequest(
            id=self.connection.find_id(self.kind_looked_up or self.kind, self.ref(args))))


class UserDelete(Delete):
    """Delete a user (classic form)"""
    kind, service, method = "user", "Users", "DeleteUser"


# ---- tenants -------------------------------------------------------------------------------

class TenantCreate(ClassicShow):
    """Create a tenant, i.e. a project (classic form)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", "--tenant-name", "--tenant_name", dest="name", required=True)
        parser.add_argument("--description")
        parser.add_argument("--enabled", metavar="true|false")
        add_domain(parser, "tenant")
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateProjectRequest(name=args.name, domain_id=c.domain_id(args.domain),
                                           description=args.description or "")
        enabled = enabled_flag(args.enabled)
        if enabled is not None:
            request.enabled = enabled
        return legacy_show(project_fields(c.call("Projects", "CreateProject", request)),
                           TENANT_KEYS)


class TenantList(Lister):
    """List tenants (projects) (classic form)"""

    def take_action(self, args):
        return listing(columns("id", "name", "enabled"),
                       [project_fields(p) for p in PROJECT.list_all(self.connection)])


class TenantGet(Entity, ClassicShow):
    """Show a tenant (project) (classic form)"""
    kind = "tenant"

    def take_action(self, args):
        return legacy_show(project_fields(self.connection.find("project", self.ref(args))),
                           TENANT_KEYS)


class TenantDelete(Delete):
    """Delete a tenant (project) (classic form)"""
    kind, kind_looked_up, service, method = "tenant", "project", "Projects", "DeleteProject"


# ---- roles -----------------------------------------------------------------------------------

class RoleCreate(ClassicShow):
    """Create a role (classic form)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", required=True)
        return parser

    def take_action(self, args):
        made = self.connection.call("Roles", "CreateRole", apb.CreateRoleRequest(name=args.name))
        return legacy_show(ROLE.fields(made), ("id", "name"))


class RoleList(Lister):
    """List roles (classic form)"""

    def take_action(self, args):
        roles = ROLE.list_all(self.connection)
        return listing(columns("id", "name"), [ROLE.fields(r) for r in roles])


class RoleGet(Entity, ClassicShow):
    """Show a role (classic form)"""
    kind = "role"

    def take_action(self, args):
        role = self.connection.find("role", self.ref(args))
        return legacy_show(ROLE.fields(role), ("id", "name"))


class RoleDelete(Delete):
    """Delete a role (classic form)"""
    kind, service, method = "role", "Roles", "DeleteRole"


class UserRole(Command):
    """What user-role-add and user-role-remove share: --user, --role, --tenant-id."""
    method = ""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_ref(parser, "user")
        add_ref(parser, "role")
        add_tenant(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        if not args.tenant:
            raise UsageError("--tenant-id is required (a role is granted on a tenant)")
        role_id = c.find_id("role", args.role)
        grant(c, self.method, role_id, {"user_id": c.find_id("user", args.user)},
              {"project_id": c.find_id("project", args.tenant)})


class UserRoleAdd(UserRole):
    """Grant a user a role on a tenant (classic form)"""
    method = "GrantRole"


class UserRoleRemove(UserRole):
    """Revoke a user's role on a tenant (classic form)"""
    method = "RevokeRole"


class UserRoleList(Lister):
    """List a user's roles on a tenant (classic form)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_ref(parser, "user", required=False)
        add_tenant(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        user_id = c.find_id("user", args.user) or c.token_info.user.id
        project_id = c.find_id("project", args.tenant)
        if not project_id and c.token_info.HasField("project"):
            project_id = c.token_info.project.id
        assignments = c.list_all("Assignments", "ListRoleAssignments",
                                 apb.ListRoleAssignmentsRequest(
                                     user_id=user_id, project_id=project_id, effective=True,
                                     include_names=True), "role_assignments")
        rows, seen = [], set()
        for a in assignments:
            if a.HasField("project") and a.role.id not in seen:
                seen.add(a.role.id)
                rows.append({"id": a.role.id, "name": a.role.name, "user_id": user_id,
                             "tenant_id": a.project.id})
        return listing(columns("id", "name", "user_id", "tenant_id"), rows)


class TokenGet(ClassicShow):
    """Issue a token (classic form)"""

    def take_action(self, args):
        fields = token_fields(*self.connection.issue())
        if "project_id" in fields:
            fields["tenant_id"] = fields.pop("project_id")
        return legacy_show(fields, tuple(sorted(fields)))


COMMANDS = {
    "user-create": UserCreate, "user-list": UserList, "user-get": UserGet,
    "user-update": UserUpdate, "user-password-update": UserPasswordUpdate,
    "user-delete": UserDelete, "tenant-create": TenantCreate, "tenant-list": TenantList,
    "tenant-get": TenantGet, "tenant-delete": TenantDelete, "role-create": RoleCreate,
    "role-list": RoleList, "role-get": RoleGet, "role-delete": RoleDelete,
    "user-role-add": UserRoleAdd, "user-role-remove": UserRoleRemove,
    "user-role-list": UserRoleList, "token-get": TokenGet,
}
