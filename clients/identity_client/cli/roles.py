"""`identity role create|list|show|set|delete`, and granting: `role add`, `role
remove` (to a user or group, on a project, a domain or the system)."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowFound, ShowOne, add_description, \
    add_domain, add_long, \
    add_or_show, copy_set, create_or_show, listing, show

COLUMNS = [("id", "ID"), ("name", "Name")]
LONG = [*COLUMNS, ("domain_id", "Domain ID"), ("description", "Description")]


def role_fields(r) -> dict:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description}


def add_role_domain(parser, what: str = "role") -> None:
    parser.add_argument("--domain", metavar="DOMAIN",
                        help=f"the domain of a domain-specific {what}")


class CreateRole(ShowOne):
    """Create a role"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        add_role_domain(parser)
        add_description(parser)
        add_or_show(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateRoleRequest(name=args.name, domain_id=c.domain_id(args.domain),
                                        description=args.description or "")
        return show(role_fields(create_or_show(c, "role", "Roles", "CreateRole", request,
                                               args.domain, args.or_show)))


class ListRole(Lister):
    """List roles (global ones, or a domain's)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_role_domain(parser, "roles")
        add_long(parser)
        return parser

    def take_action(self, args):
        roles = self.connection.list_all("Roles", "ListRoles", apb.ListRolesRequest(
            domain_id=self.connection.domain_id(args.domain)), "roles")
        return listing(LONG if args.long else COLUMNS, [role_fields(r) for r in roles])


class ShowRole(ShowFound):
    """Show a role (--domain for a domain-specific one)"""
    kind, fields = "role", staticmethod(role_fields)


class SetRole(Command):
    """Change a role"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("role", metavar="ROLE", help="name or id")
        add_role_domain(parser)
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        return parser

    def take_action(self, args):
        request = apb.UpdateRoleRequest(id=self.connection.find_id("role", args.role, args.domain))
        copy_set(request, args, ("name", "description"))
        self.connection.call("Roles", "UpdateRole", request)


class DeleteRole(DeleteFound):
    """Delete roles (--domain for domain-specific ones)"""
    kind, service, method = "role", "Roles", "DeleteRole"


class Grant(Command):
    """What `role add` and `role remove` share: the role, the actor, the target."""
    method = ""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("role", metavar="ROLE", help="name or id")
        actor = parser.add_mutually_exclusive_group(required=True)
        actor.add_argument("--user", metavar="USER", help="to this user (name or id)")
        actor.add_argument("--group", metavar="GROUP", help="to this group (name or id)")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--project", metavar="PROJECT", help="on this project (name or id)")
        target.add_argument("--domain", metavar="DOMAIN", help="on this domain (name or id)")
        target.add_argument("--system", metavar="all", choices=["all"], help="on the system")
        for name in ("user", "group", "project"):
            add_domain(parser, f"--{name}", f"--{name}-domain")
        add_domain(parser, "a domain-specific ROLE", "--role-domain")
        parser.add_argument("--inherited", action="store_true", help="for the projects below "
                            "the domain or project, not for the target itself")
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.GrantRequest(role_id=c.find_id("role", args.role, args.role_domain),
                                   inherited=args.inherited)
        if args.user:
            request.actor.user_id = c.find_id("user", args.user, args.user_domain)
        else:
            request.actor.group_id = c.find_id("group", args.group, args.group_domain)
        if args.project:
            request.target.project_id = c.find_id("project", args.project, args.project_domain)
        elif args.domain:
            request.target.domain_id = c.domain_id(args.domain)
        else:
            request.target.system = True
        c.call("Assignments", self.method, request)


class AddRole(Grant):
    """Grant a role to a user or group on a project, domain or the system"""
    method = "GrantRole"


class RemoveRole(Grant):
    """Revoke a role from a user or group"""
    method = "RevokeRole"


COMMANDS = {"role create": CreateRole, "role list": ListRole, "role show": ShowRole,
            "role set": SetRole, "role delete": DeleteRole, "role add": AddRole,
            "role remove": RemoveRole}
