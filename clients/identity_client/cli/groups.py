"""`identity group create|list|show|set|delete` and membership: `group add user`,
`group remove user`, `group contains user`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import CliError, Command, DeleteFound, Lister, ShowFound, ShowOne, \
    add_description, add_domain, add_long, \
    add_or_show, copy_set, create_or_show, listing, show

COLUMNS = [("id", "ID"), ("name", "Name")]
LONG = [*COLUMNS, ("domain_id", "Domain ID"), ("description", "Description")]


def group_fields(g) -> dict:
    return {"id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description}


class CreateGroup(ShowOne):
    """Create a group"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        add_domain(parser, "group")
        add_description(parser)
        add_or_show(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateGroupRequest(name=args.name, domain_id=c.domain_id(args.domain),
                                         description=args.description or "")
        return show(group_fields(create_or_show(c, "group", "Groups", "CreateGroup", request,
                                                args.domain, args.or_show)))


class ListGroup(Lister):
    """List groups"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_domain(parser, "groups")
        parser.add_argument("--user", metavar="USER", help="only the groups this user is in")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--name", help="only groups of this name")
        add_long(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        if args.user:
            user_id = c.find_id("user", args.user, args.user_domain)
            groups = c.call("Users", "ListUserGroups", apb.GetRequest(id=user_id)).groups
        else:
            groups = c.list_all("Groups", "ListGroups", apb.ListGroupsRequest(
                name=args.name or "", domain_id=c.domain_id(args.domain)), "groups")
        return listing(LONG if args.long else COLUMNS, [group_fields(g) for g in groups])


class ShowGroup(ShowFound):
    """Show a group"""
    kind, fields = "group", staticmethod(group_fields)


class SetGroup(Command):
    """Change a group"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("group", metavar="GROUP", help="name or id")
        add_domain(parser, "group")
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        return parser

    def take_action(self, args):
        request = apb.UpdateGroupRequest(
            id=self.connection.find_id("group", args.group, args.domain))
        copy_set(request, args, ("name", "description"))
        self.connection.call("Groups", "UpdateGroup", request)


class DeleteGroup(DeleteFound):
    """Delete groups"""
    kind, service, method = "group", "Groups", "DeleteGroup"


class Membership(Command):
    """What the membership commands share: GROUP, USER... and their domains."""
    many = True

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("group", metavar="GROUP", help="name or id")
        add_domain(parser, "GROUP", "--group-domain")
        add_domain(parser, "USER", "--user-domain")
        parser.add_argument("users", metavar="USER", nargs="+" if self.many else None,
                            help="names or ids" if self.many else "name or id")
        return parser

    def request(self, args, user_ref) -> apb.GroupMembershipRequest:
        return apb.GroupMembershipRequest(
            group_id=self.connection.find_id("group", args.group, args.group_domain),
            user_id=self.connection.find_id("user", user_ref, args.user_domain))


class AddUserToGroup(Membership):
    """Add users to a group"""

    def take_action(self, args):
        for ref in args.users:
            self.connection.call("Groups", "AddUserToGroup", self.request(args, ref))


class RemoveUserFromGroup(Membership):
    """Remove users from a group"""

    def take_action(self, args):
        for ref in args.users:
            self.connection.call("Groups", "RemoveUserFromGroup", self.request(args, ref))


class CheckUserInGroup(Membership):
    """Check that a user is in a group (exit 1 if not)"""
    many = False

    def take_action(self, args):
        try:
            self.connection.call("Groups", "CheckUserInGroup", self.request(args, args.users))
        except CliError as e:
            if e.code == "NOT_FOUND":
                raise CliError("", f"{args.users} not in group {args.group}") from None
            raise
        self.app.stdout.write(f"{args.users} in group {args.group}\n")


COMMANDS = {"group create": CreateGroup, "group list": ListGroup, "group show": ShowGroup,
            "group set": SetGroup, "group delete": DeleteGroup,
            "group add user": AddUserToGroup, "group remove user": RemoveUserFromGroup,
            "group contains user": CheckUserInGroup}
