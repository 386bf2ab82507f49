"""`identity` commands for domains, projects, users and groups (openstackclient's
forms); the fields of those entities, shared with the classic commands."""

from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from .cli_base import CliError, Listing, Show, UsageError, arg, command, enable_disable, \
    exclusive, timestamp
from .cli_session import ask

ID_NAME = [("id", "ID"), ("name", "Name")]


# ---- entities as fields --------------------------------------------------------------

def domain_fields(d) -> dict:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled}


def project_fields(p) -> dict:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id,
            "description": p.description, "enabled": p.enabled, "is_domain": p.is_domain}


def user_fields(u) -> dict:
    fields = {"id": u.id, "name": u.name, "domain_id": u.domain_id, "email": u.email,
              "description": u.description, "enabled": u.enabled,
              "default_project_id": u.default_project_id,
              "password_expires_at": timestamp(u.password_expires_at) or None}
    if u.extra:
        fields["extra"] = dict(u.extra)
    return fields


def group_fields(g) -> dict:
    return {"id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description}


def listing(items, to_fields, columns, long_columns, long: bool) -> Listing:
    rows = [to_fields(i) for i in items]
    return Listing(long_columns if long else columns, rows, json_columns=long_columns)


def create_or_show(session, kind, service, method, request, domain_ref, or_show):
    """Create; with --or-show, an existing entity of that name is shown instead."""
    try:
        return session.call(service, method, request)
    except CliError as e:
        if not (or_show and e.code == "ALREADY_EXISTS"):
            raise
        return session.find(kind, request.name, domain_ref)


def new_password(args, what="--password") -> str:
    if getattr(args, "password_prompt", False):
        first = ask("User Password: ", what)
        if ask("Repeat User Password: ", what) != first:
            raise UsageError("the passwords do not match")
        return first
    return args.password


def in_domain(what):
    return arg("--domain", metavar="DOMAIN", help=f"the domain (name or id) the {what} is in")


OR_SHOW = arg("--or-show", action="store_true", help="show it if it exists already")
LONG = arg("--long", action="store_true", help="more columns")
DESCRIPTION = arg("--description", help="a description")


# ---- domains ----------------------------------------------------------------------------

@command("domain create", "Create a domain", arg("name", metavar="NAME"), DESCRIPTION,
         enable_disable("domain"), OR_SHOW)
def domain_create(session, args):
    request = apb.CreateDomainRequest(name=args.name, description=args.description or "")
    if args.enabled is not None:
        request.enabled = args.enabled
    return Show(domain_fields(create_or_show(session, "domain", "Domains", "CreateDomain",
                                             request, None, args.or_show)))


@command("domain list", "List domains", arg("--name", help="only the domain of this name"),
         LONG)
def domain_list(session, args):
    domains = session.list_all("Domains", "ListDomains",
                               apb.ListDomainsRequest(name=args.name or ""), "domains")
    columns = [*ID_NAME, ("enabled", "Enabled"), ("description", "Description")]
    return listing(domains, domain_fields, columns, columns, args.long)


@command("domain show", "Show a domain", arg("domain", metavar="DOMAIN", help="name or id"))
def domain_show(session, args):
    return Show(domain_fields(session.find("domain", args.domain)))


@command("domain set", "Change a domain", arg("domain", metavar="DOMAIN", help="name or id"),
         arg("--name", help="a new name"), DESCRIPTION, enable_disable("domain"))
def domain_set(session, args):
    request = apb.UpdateDomainRequest(id=session.find_id("domain", args.domain))
    for name in ("name", "description", "enabled"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    session.call("Domains", "UpdateDomain", request)


@command("domain delete", "Delete domains (disable them first)",
         arg("domains", metavar="DOMAIN", nargs="+", help="names or ids"))
def domain_delete(session, args):
    for ref in args.domains:
        session.call("Domains", "DeleteDomain", apb.DeleteRequest(id=session.find_id("domain", ref)))


# ---- projects ---------------------------------------------------------------------------

@command("project create", "Create a project", arg("name", metavar="NAME"), in_domain("project"),
         arg("--parent", metavar="PROJECT", help="the parent project (name or id)"), DESCRIPTION,
         enable_disable("project"), OR_SHOW)
def project_create(session, args):
    request = apb.CreateProjectRequest(
        name=args.name, domain_id=session.domain_id(args.domain),
        parent_id=session.find_id("project", args.parent, args.domain),
        description=args.description or "")
    if args.enabled is not None:
        request.enabled = args.enabled
    return Show(project_fields(create_or_show(session, "project", "Projects", "CreateProject",
                                              request, args.domain, args.or_show)))


PROJECT_LONG = [*ID_NAME, ("domain_id", "Domain ID"), ("parent_id", "Parent ID"),
                ("description", "Description"), ("enabled", "Enabled")]


@command("project list", "List projects", in_domain("projects"),
         arg("--parent", metavar="PROJECT", help="only the children of this project"),
         arg("--name", help="only projects of this name"),
         arg("--user", metavar="USER", help="only projects this user holds a role on"),
         arg("--user-domain", metavar="DOMAIN", help="the domain of --user"),
         arg("--my-projects", action="store_true", help="the projects the caller holds a role on"),
         LONG)
def project_list(session, args):
    if args.my_projects:
        mine = session.call("Identity", "ListProjects", pb.ListProjectsRequest()).projects
        rows = [{"id": p.id, "name": p.name, "domain_id": p.domain.id, "parent_id": p.parent_id,
                 "description": p.description, "enabled": p.enabled} for p in mine]
        return Listing(PROJECT_LONG if args.long else ID_NAME, rows, json_columns=PROJECT_LONG)
    domain_id = session.domain_id(args.domain)
    request = apb.ListProjectsRequest(name=args.name or "", domain_id=domain_id,
                                      parent_id=session.find_id("project", args.parent, args.domain))
    projects = session.list_all("Projects", "ListProjects", request, "projects")
    if args.user:
        user_id = session.find_id("user", args.user, args.user_domain)
        held = {a.project.id for a in session.list_all(
            "Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
                user_id=user_id, effective=True), "role_assignments") if a.HasField("project")}
        projects = [p for p in projects if p.id in held]
    return listing(projects, project_fields, ID_NAME, PROJECT_LONG, args.long)


@command("project show", "Show a project", arg("project", metavar="PROJECT", help="name or id"),
         in_domain("project"))
def project_show(session, args):
    return Show(project_fields(session.find("project", args.project, args.domain)))


@command("project set", "Change a project", arg("project", metavar="PROJECT", help="name or id"),
         in_domain("project"), arg("--name", help="a new name"), DESCRIPTION,
         arg("--parent", metavar="PROJECT", help="move it under this project ('' for the top)"),
         enable_disable("project"))
def project_set(session, args):
    request = apb.UpdateProjectRequest(id=session.find_id("project", args.project, args.domain))
    for name in ("name", "description", "enabled"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    if args.parent is not None:
        request.parent_id = session.find_id("project", args.parent, args.domain)
    session.call("Projects", "UpdateProject", request)


@command("project delete", "Delete projects",
         arg("projects", metavar="PROJECT", nargs="+", help="names or ids"), in_domain("projects"))
def project_delete(session, args):
    for ref in args.projects:
        session.call("Projects", "DeleteProject",
                     apb.DeleteRequest(id=session.find_id("project", ref, args.domain)))


# ---- users ---------------------------------------------------------------------------------

PASSWORD = exclusive(arg("--password", help="the password"),
                     arg("--password-prompt", action="store_true", help="type the password"))
PROJECT_DOMAIN = arg("--project-domain", metavar="DOMAIN", help="the domain of --project")


@command("user create", "Create a user", arg("name", metavar="NAME"), in_domain("user"), PASSWORD,
         arg("--email"), DESCRIPTION,
         arg("--project", metavar="PROJECT", help="the default project (name or id)"),
         PROJECT_DOMAIN, enable_disable("user"), OR_SHOW)
def user_create(session, args):
    request = apb.CreateUserRequest(
        name=args.name, domain_id=session.domain_id(args.domain),
        password=new_password(args) or "", email=args.email or "",
        description=args.description or "",
        default_project_id=session.find_id("project", args.project,
                                           args.project_domain or args.domain))
    if args.enabled is not None:
        request.enabled = args.enabled
    return Show(user_fields(create_or_show(session, "user", "Users", "CreateUser", request,
                                           args.domain, args.or_show)))


USER_LONG = [*ID_NAME, ("domain_id", "Domain ID"), ("default_project_id", "Project"),
             ("email", "Email"), ("description", "Description"), ("enabled", "Enabled")]


@command("user list", "List users", in_domain("users"),
         arg("--group", metavar="GROUP", help="only the members of this group"),
         arg("--project", metavar="PROJECT", help="only users holding a role on this project"),
         arg("--name", help="only users of this name"), LONG)
def user_list(session, args):
    if args.group:
        group_id = session.find_id("group", args.group, args.domain)
        users = session.call("Groups", "ListGroupUsers", apb.GetRequest(id=group_id)).users
    else:
        request = apb.ListUsersRequest(name=args.name or "", domain_id=session.domain_id(args.domain))
        users = session.list_all("Users", "ListUsers", request, "users")
    if args.project:
        project_id = session.find_id("project", args.project, args.domain)
        held = {a.user.id for a in session.list_all(
            "Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
                project_id=project_id, effective=True), "role_assignments") if a.HasField("user")}
        users = [u for u in users if u.id in held]
    return listing(users, user_fields, ID_NAME, USER_LONG, args.long)


@command("user show", "Show a user", arg("user", metavar="USER", help="name or id"),
         in_domain("user"))
def user_show(session, args):
    return Show(user_fields(session.find("user", args.user, args.domain)))


@command("user set", "Change a user", arg("user", metavar="USER", help="name or id"),
         in_domain("user"), arg("--name", help="a new name"), PASSWORD, arg("--email"),
         DESCRIPTION, arg("--project", metavar="PROJECT", help="the default project"),
         PROJECT_DOMAIN, enable_disable("user"))
def user_set(session, args):
    request = apb.UpdateUserRequest(id=session.find_id("user", args.user, args.domain))
    for name in ("name", "email", "description", "enabled"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    password = new_password(args)
    if password is not None:
        request.password = password
    if args.project is not None:
        request.default_project_id = session.find_id("project", args.project,
                                                     args.project_domain or args.domain)
    session.call("Users", "UpdateUser", request)


@command("user delete", "Delete users", arg("users", metavar="USER", nargs="+",
                                             help="names or ids"), in_domain("users"))
def user_delete(session, args):
    for ref in args.users:
        session.call("Users", "DeleteUser", apb.DeleteRequest(id=session.find_id("user", ref,
                                                                                  args.domain)))


@command("user password set", "Change your own password",
         arg("--original-password", help="the current password (prompted for if left out)"),
         arg("--password", help="the new password (prompted for if left out)"))
def user_password_set(session, args):
    original = args.original_password
    if original is None:
        original = ask("Current Password: ", "--original-password")
    password = args.password
    if password is None:
        password = ask("New Password: ", "--password")
        if ask("Repeat New Password: ", "--password") != password:
            raise UsageError("the passwords do not match")
    session.call("Users", "ChangePassword", apb.ChangePasswordRequest(
        user_id=session.token_info.user.id, original_password=original, password=password))


# ---- groups --------------------------------------------------------------------------------

@command("group create", "Create a group", arg("name", metavar="NAME"), in_domain("group"),
         DESCRIPTION, OR_SHOW)
def group_create(session, args):
    request = apb.CreateGroupRequest(name=args.name, domain_id=session.domain_id(args.domain),
                                     description=args.description or "")
    return Show(group_fields(create_or_show(session, "group", "Groups", "CreateGroup", request,
                                            args.domain, args.or_show)))


GROUP_LONG = [*ID_NAME, ("domain_id", "Domain ID"), ("description", "Description")]


@command("group list", "List groups", in_domain("groups"),
         arg("--user", metavar="USER", help="only the groups this user is in"),
         arg("--user-domain", metavar="DOMAIN", help="the domain of --user"),
         arg("--name", help="only groups of this name"), LONG)
def group_list(session, args):
    if args.user:
        user_id = session.find_id("user", args.user, args.user_domain)
        groups = session.call("Users", "ListUserGroups", apb.GetRequest(id=user_id)).groups
    else:
        request = apb.ListGroupsRequest(name=args.name or "",
                                        domain_id=session.domain_id(args.domain))
        groups = session.list_all("Groups", "ListGroups", request, "groups")
    return listing(groups, group_fields, ID_NAME, GROUP_LONG, args.long)


@command("group show", "Show a group", arg("group", metavar="GROUP", help="name or id"),
         in_domain("group"))
def group_show(session, args):
    return Show(group_fields(session.find("group", args.group, args.domain)))


@command("group set", "Change a group", arg("group", metavar="GROUP", help="name or id"),
         in_domain("group"), arg("--name", help="a new name"), DESCRIPTION)
def group_set(session, args):
    request = apb.UpdateGroupRequest(id=session.find_id("group", args.group, args.domain))
    for name in ("name", "description"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    session.call("Groups", "UpdateGroup", request)


@command("group delete", "Delete groups", arg("groups", metavar="GROUP", nargs="+",
                                               help="names or ids"), in_domain("groups"))
def group_delete(session, args):
    for ref in args.groups:
        session.call("Groups", "DeleteGroup", apb.DeleteRequest(id=session.find_id("group", ref,
                                                                                    args.domain)))


MEMBERSHIP = (arg("group", metavar="GROUP", help="name or id"),
              arg("--group-domain", metavar="DOMAIN", help="the domain of GROUP"),
              arg("--user-domain", metavar="DOMAIN", help="the domain of USER"))


def membership(session, args, user_ref) -> apb.GroupMembershipRequest:
    return apb.GroupMembershipRequest(
        group_id=session.find_id("group", args.group, args.group_domain),
        user_id=session.find_id("user", user_ref, args.user_domain))


@command("group add user", "Add users to a group", *MEMBERSHIP,
         arg("users", metavar="USER", nargs="+", help="names or ids"))
def group_add_user(session, args):
    for ref in args.users:
        session.call("Groups", "AddUserToGroup", membership(session, args, ref))


@command("group remove user", "Remove users from a group", *MEMBERSHIP,
         arg("users", metavar="USER", nargs="+", help="names or ids"))
def group_remove_user(session, args):
    for ref in args.users:
        session.call("Groups", "RemoveUserFromGroup", membership(session, args, ref))


@command("group contains user", "Check that a user is in a group (exit 1 if not)", *MEMBERSHIP,
         arg("user", metavar="USER", help="name or id"))
def group_contains_user(session, args):
    try:
        session.call("Groups", "CheckUserInGroup", membership(session, args, args.user))
    except CliError as e:
        if e.code == "NOT_FOUND":
            raise CliError("", f"{args.user} not in group {args.group}") from None
        raise
    print(f"{args.user} in group {args.group}")
