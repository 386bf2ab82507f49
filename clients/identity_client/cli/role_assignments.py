"""`identity role assignment list`: direct grants, or with --effective as a token
would carry them."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Lister, UsageError, add_domain, add_long, listing

COLUMNS = [("role", "Role"), ("user", "User"), ("group", "Group"), ("project", "Project"),
           ("domain", "Domain"), ("system", "System"), ("inherited", "Inherited")]
LONG = [*COLUMNS, ("via_group_id", "Via Group"), ("implied_by_role_id", "Implied By")]


def named(ref, names: bool, with_domain: bool = True) -> str:
    if not names:
        return ref.id
    domain = ref.domain_name or ref.domain_id
    return f"{ref.name or ref.id}@{domain}" if with_domain and domain else (ref.name or ref.id)


def assignment_row(a, names: bool) -> dict:
    actor, scope = a.WhichOneof("actor"), a.WhichOneof("scope")
    row = {key: "" for key, _ in LONG}
    row.update(role=named(a.role, names), inherited=a.inherited, via_group_id=a.via_group_id,
               implied_by_role_id=a.implied_by_role_id)
    if actor:
        row[actor] = named(getattr(a, actor), names)
    if scope == "system":
        row["system"] = "all"
    elif scope:
        row[scope] = named(getattr(a, scope), names, with_domain=scope == "project")
    return row


class ListRoleAssignment(Lister):
    """List role assignments"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--user", metavar="USER")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--group", metavar="GROUP")
        add_domain(parser, "--group", "--group-domain")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--project", metavar="PROJECT")
        target.add_argument("--domain", metavar="DOMAIN")
        target.add_argument("--system", metavar="all", choices=["all"])
        add_domain(parser, "--project", "--project-domain")
        parser.add_argument("--role", metavar="ROLE")
        add_domain(parser, "a domain-specific --role", "--role-domain")
        parser.add_argument("--effective", action="store_true", help="as a token would carry "
                            "them: groups, inheritance and implied roles expanded")
        parser.add_argument("--inherited", action="store_true", help="only inherited assignments")
        parser.add_argument("--names", action="store_true", help="names instead of ids")
        parser.add_argument("--auth-user", action="store_true", help="the caller's own assignments")
        parser.add_argument("--auth-project", action="store_true", help="on the caller's project")
        add_long(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.ListRoleAssignmentsRequest(
            user_id=c.find_id("user", args.user, args.user_domain),
            group_id=c.find_id("group", args.group, args.group_domain),
            project_id=c.find_id("project", args.project, args.project_domain),
            domain_id=c.domain_id(args.domain), system=bool(args.system),
            role_id=c.find_id("role", args.role, args.role_domain),
            effective=args.effective, include_names=args.names)
        if args.auth_user:
            request.user_id = c.token_info.user.id
        if args.auth_project:
            if not c.token_info.HasField("project"):
                raise UsageError("--auth-project needs a project-scoped token")
            request.project_id = c.token_info.project.id
        assignments = c.list_all("Assignments", "ListRoleAssignments", request,
                                 "role_assignments")
        rows = [assignment_row(a, args.names) for a in assignments
                if a.inherited or not args.inherited]
        return listing(LONG if args.long else COLUMNS, rows)


COMMANDS = {"role assignment list": ListRoleAssignment}
