"""`identity group create|list|show|set|delete` and membership: `group add user`,
`group remove user`, `group contains user`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import DESCRIBED_LONG, ID_NAME, CliError, Command, CreateNamed, DeleteFound, ListAll, \
    Resource, SetFound, ShowFound, add_domain, described_fields

GROUP = Resource("group", described_fields, columns=ID_NAME, long=DESCRIBED_LONG, in_domain=True)


class CreateGroup(CreateNamed):
    """Create a group"""
    resource = GROUP


class ListGroup(ListAll):
    """List groups"""
    resource = GROUP

    def options(self, parser):
        add_domain(parser, "groups")
        parser.add_argument("--user", metavar="USER", help="only the groups this user is in")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--name", help="only groups of this name")

    def entities(self, args):
        c = self.connection
        if args.user:
            user_id = c.find_id("user", args.user, args.user_domain)
            return c.call("Users", "ListUserGroups", apb.GetRequest(id=user_id)).groups
        return GROUP.list_all(c, name=args.name or "", domain_id=c.domain_id(args.domain))


class ShowGroup(ShowFound):
    """Show a group"""
    resource = GROUP


class SetGroup(SetFound):
    """Change a group"""
    resource = GROUP


class DeleteGroup(DeleteFound):
    """Delete groups"""
    resource = GROUP


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
