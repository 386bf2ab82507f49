"""`identity role create|list|show|set|delete`, and granting: `role add`, `role
remove` (to a user or group, on a project, a domain or the system)."""

from .base import DESCRIBED_LONG, ID_NAME, Command, CreateNamed, DeleteFound, ListAll, Resource, \
    SetFound, ShowFound, add_domain, described_fields, grant

ROLE = Resource("role", described_fields, columns=ID_NAME, long=DESCRIBED_LONG, in_domain=True)


def add_role_domain(parser, what: str = "role") -> None:
    parser.add_argument("--domain", metavar="DOMAIN",
                        help=f"the domain of a domain-specific {what}")


class RoleDomain:
    """Create, list and set say --domain as a domain-specific role's."""

    def add_domain_option(self, parser, what):
        add_role_domain(parser, what)


class CreateRole(RoleDomain, CreateNamed):
    """Create a role"""
    resource = ROLE


class ListRole(RoleDomain, ListAll):
    """List roles (global ones, or a domain's)"""
    resource = ROLE

    def options(self, parser):
        self.add_domain_option(parser, "roles")

    def request(self, args):
        return {"domain_id": self.connection.domain_id(args.domain)}


class ShowRole(ShowFound):
    """Show a role (--domain for a domain-specific one)"""
    resource = ROLE


class SetRole(RoleDomain, SetFound):
    """Change a role"""
    resource = ROLE


class DeleteRole(DeleteFound):
    """Delete roles (--domain for domain-specific ones)"""
    resource = ROLE


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
        role_id = c.find_id("role", args.role, args.role_domain)
        if args.user:
            actor = {"user_id": c.find_id("user", args.user, args.user_domain)}
        else:
            actor = {"group_id": c.find_id("group", args.group, args.group_domain)}
        if args.project:
            target = {"project_id": c.find_id("project", args.project, args.project_domain)}
        elif args.domain:
            target = {"domain_id": c.domain_id(args.domain)}
        else:
            target = {"system": True}
        grant(c, self.method, role_id, actor, target, args.inherited)


class AddRole(Grant):
    """Grant a role to a user or group on a project, domain or the system"""
    method = "GrantRole"


class RemoveRole(Grant):
    """Revoke a role from a user or group"""
    method = "RevokeRole"


COMMANDS = {"role create": CreateRole, "role list": ListRole, "role show": ShowRole,
            "role set": SetRole, "role delete": DeleteRole, "role add": AddRole,
            "role remove": RemoveRole}
