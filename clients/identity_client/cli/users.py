"""`identity user create|list|show|set|delete` and `user password set`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, CreateNamed, DeleteFound, ListAll, Resource, SetFound, ShowFound, \
    UsageError, add_description, add_domain, enable_disable, timestamp
from .connection import ask
from .projects import holders

COLUMNS = (("id", "ID"), ("name", "Name"))


def user_fields(u) -> dict:
    fields = {"id": u.id, "name": u.name, "domain_id": u.domain_id, "email": u.email,
              "description": u.description, "enabled": u.enabled,
              "default_project_id": u.default_project_id,
              "password_expires_at": timestamp(u.password_expires_at) or None}
    if u.extra:
        fields["extra"] = dict(u.extra)
    return fields


USER = Resource("user", user_fields, columns=COLUMNS, in_domain=True, long=(
    *COLUMNS, ("domain_id", "Domain ID"), ("default_project_id", "Project"), ("email", "Email"),
    ("description", "Description"), ("enabled", "Enabled")))


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


class CreateUser(CreateNamed):
    """Create a user"""
    resource, enabling = USER, True  # add_user_options adds --enable/--disable

    def options(self, parser):
        add_password(parser)
        add_user_options(parser)

    def more(self, args):
        c = self.connection
        return {"password": new_password(args) or "", "email": args.email or "",
                "default_project_id": c.find_id("project", args.project,
                                                args.project_domain or args.domain)}


class ListUser(ListAll):
    """List users"""
    resource = USER

    def options(self, parser):
        add_domain(parser, "users")
        parser.add_argument("--group", metavar="GROUP", help="only the members of this group")
        parser.add_argument("--project", metavar="PROJECT",
                            help="only users holding a role on this project")
        parser.add_argument("--name", help="only users of this name")

    def entities(self, args):
        c = self.connection
        if args.group:
            group_id = c.find_id("group", args.group, args.domain)
            users = c.call("Groups", "ListGroupUsers", apb.GetRequest(id=group_id)).users
        else:
            users = USER.list_all(c, name=args.name or "", domain_id=c.domain_id(args.domain))
        if args.project:
            held = holders(c, "user", project_id=c.find_id("project", args.project, args.domain))
            users = [u for u in users if u.id in held]
        return users


class ShowUser(ShowFound):
    """Show a user"""
    resource = USER


class SetUser(SetFound):
    """Change a user"""
    resource, changes = USER, ("name", "email", "description", "enabled")

    def options(self, parser):
        parser.add_argument("--name", help="a new name")
        add_password(parser)
        add_user_options(parser)

    def more(self, args, request):
        password = new_password(args)
        if password is not None:
            request.password = password
        if args.project is not None:
            request.default_project_id = self.connection.find_id(
                "project", args.project, args.project_domain or args.domain)


class DeleteUser(DeleteFound):
    """Delete users"""
    resource = USER


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
