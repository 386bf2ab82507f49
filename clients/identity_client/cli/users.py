"""`identity user create|list|show|set|delete` and `user password set`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowFound, ShowOne, UsageError, \
    add_description, add_domain, add_long, \
    add_or_show, copy_set, create_or_show, enable_disable, listing, show, timestamp
from .connection import ask
from .projects import holders

COLUMNS = [("id", "ID"), ("name", "Name")]
LONG = [*COLUMNS, ("domain_id", "Domain ID"), ("default_project_id", "Project"),
        ("email", "Email"), ("description", "Description"), ("enabled", "Enabled")]


def user_fields(u) -> dict:
    fields = {"id": u.id, "name": u.name, "domain_id": u.domain_id, "email": u.email,
              "description": u.description, "enabled": u.enabled,
              "default_project_id": u.default_project_id,
              "password_expires_at": timestamp(u.password_expires_at) or None}
    if u.extra:
        fields["extra"] = dict(u.extra)
    return fields


def add_password(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", help="the password")
    group.add_argument("--password-prompt", action="store_true", help="type the password")


def new_password(args, what="--password") -> str | None:
    if args.password_prompt:
        first = ask("User Password: ", what)
        if ask("Repeat User Password: ", what) != first:
            raise UsageError("the passwords do not match")
        return first
    return args.password


def add_user_options(parser) -> None:
    parser.add_argument("--email")
    add_description(parser)
    parser.add_argument("--project", metavar="PROJECT", help="the default project (name or id)")
    add_domain(parser, "--project", "--project-domain")
    enable_disable(parser, "user")


class CreateUser(ShowOne):
    """Create a user"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        add_domain(parser, "user")
        add_password(parser)
        add_user_options(parser)
        add_or_show(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateUserRequest(
            name=args.name, domain_id=c.domain_id(args.domain),
            password=new_password(args) or "", email=args.email or "",
            description=args.description or "",
            default_project_id=c.find_id("project", args.project,
                                         args.project_domain or args.domain))
        if args.enabled is not None:
            request.enabled = args.enabled
        return show(user_fields(create_or_show(c, "user", "Users", "CreateUser", request,
                                               args.domain, args.or_show)))


class ListUser(Lister):
    """List users"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_domain(parser, "users")
        parser.add_argument("--group", metavar="GROUP", help="only the members of this group")
        parser.add_argument("--project", metavar="PROJECT",
                            help="only users holding a role on this project")
        parser.add_argument("--name", help="only users of this name")
        add_long(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        if args.group:
            group_id = c.find_id("group", args.group, args.domain)
            users = c.call("Groups", "ListGroupUsers", apb.GetRequest(id=group_id)).users
        else:
            users = c.list_all("Users", "ListUsers", apb.ListUsersRequest(
                name=args.name or "", domain_id=c.domain_id(args.domain)), "users")
        if args.project:
            held = holders(c, "user", project_id=c.find_id("project", args.project, args.domain))
            users = [u for u in users if u.id in held]
        return listing(LONG if args.long else COLUMNS, [user_fields(u) for u in users])


class ShowUser(ShowFound):
    """Show a user"""
    kind, fields = "user", staticmethod(user_fields)


class SetUser(Command):
    """Change a user"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("user", metavar="USER", help="name or id")
        add_domain(parser, "user")
        parser.add_argument("--name", help="a new name")
        add_password(parser)
        add_user_options(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.UpdateUserRequest(id=c.find_id("user", args.user, args.domain))
        copy_set(request, args, ("name", "email", "description", "enabled"))
        password = new_password(args)
        if password is not None:
            request.password = password
        if args.project is not None:
            request.default_project_id = c.find_id("project", args.project,
                                                   args.project_domain or args.domain)
        c.call("Users", "UpdateUser", request)


class DeleteUser(DeleteFound):
    """Delete users"""
    kind, service, method = "user", "Users", "DeleteUser"


class SetUserPassword(Command):
    """Change your own password"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--original-password",
                            help="the current password (prompted for if left out)")
        parser.add_argument("--password", help="the new password (prompted for if left out)")
        return parser

    def take_action(self, args):
        original = args.original_password
        if original is None:
            original = ask("Current Password: ", "--original-password")
        password = args.password
        if password is None:
            password = ask("New Password: ", "--password")
            if ask("Repeat New Password: ", "--password") != password:
                raise UsageError("the passwords do not match")
        self.connection.call("Users", "ChangePassword", apb.ChangePasswordRequest(
            user_id=self.connection.token_info.user.id, original_password=original,
            password=password))


COMMANDS = {"user create": CreateUser, "user list": ListUser, "user show": ShowUser,
            "user set": SetUser, "user delete": DeleteUser,
            "user password set": SetUserPassword}
