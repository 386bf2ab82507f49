"""`identity` commands for roles, role assignments and implied roles
(openstackclient's forms)."""

from identity_api.admin.v1 import admin_pb2 as apb

from .cli_base import Listing, Show, UsageError, arg, command, exclusive
from .cli_commands import DESCRIPTION, ID_NAME, LONG, OR_SHOW, create_or_show, listing


def role_fields(r) -> dict:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description}


# ---- roles -----------------------------------------------------------------------------------

def role_domain(what):
    return arg("--domain", metavar="DOMAIN", help=f"the domain of a domain-specific {what}")


@command("role create", "Create a role", arg("name", metavar="NAME"), role_domain("role"),
         DESCRIPTION, OR_SHOW)
def role_create(session, args):
    request = apb.CreateRoleRequest(name=args.name, domain_id=session.domain_id(args.domain),
                                    description=args.description or "")
    return Show(role_fields(create_or_show(session, "role", "Roles", "CreateRole", request,
                                           args.domain, args.or_show)))


ROLE_LONG = [*ID_NAME, ("domain_id", "Domain ID"), ("description", "Description")]


@command("role list", "List roles (global ones, or a domain's)", role_domain("roles"), LONG)
def role_list(session, args):
    roles = session.list_all("Roles", "ListRoles", apb.ListRolesRequest(
        domain_id=session.domain_id(args.domain)), "roles")
    return listing(roles, role_fields, ID_NAME, ROLE_LONG, args.long)


@command("role show", "Show a role", arg("role", metavar="ROLE", help="name or id"),
         role_domain("role"))
def role_show(session, args):
    return Show(role_fields(session.find("role", args.role, args.domain)))


@command("role set", "Change a role", arg("role", metavar="ROLE", help="name or id"),
         role_domain("role"), arg("--name", help="a new name"), DESCRIPTION)
def role_set(session, args):
    request = apb.UpdateRoleRequest(id=session.find_id("role", args.role, args.domain))
    for name in ("name", "description"):
        if getattr(args, name) is not None:
            setattr(request, name, getattr(args, name))
    session.call("Roles", "UpdateRole", request)


@command("role delete", "Delete roles", arg("roles", metavar="ROLE", nargs="+",
                                             help="names or ids"), role_domain("roles"))
def role_delete(session, args):
    for ref in args.roles:
        session.call("Roles", "DeleteRole", apb.DeleteRequest(id=session.find_id("role", ref,
                                                                                  args.domain)))


GRANT = (
    arg("role", metavar="ROLE", help="name or id"),
    exclusive(arg("--user", metavar="USER", help="to this user (name or id)"),
              arg("--group", metavar="GROUP", help="to this group (name or id)"), required=True),
    exclusive(arg("--project", metavar="PROJECT", help="on this project (name or id)"),
              arg("--domain", metavar="DOMAIN", help="on this domain (name or id)"),
              arg("--system", metavar="all", choices=["all"], help="on the system"),
              required=True),
    arg("--user-domain", metavar="DOMAIN", help="the domain of --user"),
    arg("--group-domain", metavar="DOMAIN", help="the domain of --group"),
    arg("--project-domain", metavar="DOMAIN", help="the domain of --project"),
    arg("--role-domain", metavar="DOMAIN", help="the domain of a domain-specific ROLE"),
    arg("--inherited", action="store_true",
        help="for the projects below the domain or project, not for the target itself"))


def grant_request(session, args) -> apb.GrantRequest:
    request = apb.GrantRequest(role_id=session.find_id("role", args.role, args.role_domain),
                               inherited=args.inherited)
    if args.user:
        request.actor.user_id = session.find_id("user", args.user, args.user_domain)
    else:
        request.actor.group_id = session.find_id("group", args.group, args.group_domain)
    if args.project:
        request.target.project_id = session.find_id("project", args.project, args.project_domain)
    elif args.domain:
        request.target.domain_id = session.domain_id(args.domain)
    else:
        request.target.system = True
    return request


@command("role add", "Grant a role to a user or group on a project, domain or the system", *GRANT)
def role_add(session, args):
    session.call("Assignments", "GrantRole", grant_request(session, args))


@command("role remove", "Revoke a role from a user or group", *GRANT)
def role_remove(session, args):
    session.call("Assignments", "RevokeRole", grant_request(session, args))


def named(ref, names: bool, with_domain: bool = True) -> str:
    if not names:
        return ref.id
    domain = ref.domain_name or ref.domain_id
    return f"{ref.name or ref.id}@{domain}" if with_domain and domain else (ref.name or ref.id)


ASSIGNMENT_COLUMNS = [("role", "Role"), ("user", "User"), ("group", "Group"),
                      ("project", "Project"), ("domain", "Domain"), ("system", "System"),
                      ("inherited", "Inherited")]
ASSIGNMENT_LONG = [*ASSIGNMENT_COLUMNS, ("via_group_id", "Via Group"),
                   ("implied_by_role_id", "Implied By")]


@command("role assignment list", "List role assignments",
         arg("--user", metavar="USER"), arg("--user-domain", metavar="DOMAIN"),
         arg("--group", metavar="GROUP"), arg("--group-domain", metavar="DOMAIN"),
         exclusive(arg("--project", metavar="PROJECT"), arg("--domain", metavar="DOMAIN"),
                   arg("--system", metavar="all", choices=["all"])),
         arg("--project-domain", metavar="DOMAIN"),
         arg("--role", metavar="ROLE"), arg("--role-domain", metavar="DOMAIN"),
         arg("--effective", action="store_true",
             help="as a token would carry them: groups, inheritance and implied roles expanded"),
         arg("--inherited", action="store_true", help="only inherited assignments"),
         arg("--names", action="store_true", help="names instead of ids"),
         arg("--auth-user", action="store_true", help="the caller's own assignments"),
         arg("--auth-project", action="store_true", help="on the caller's project"), LONG)
def role_assignment_list(session, args):
    request = apb.ListRoleAssignmentsRequest(
        user_id=session.find_id("user", args.user, args.user_domain),
        group_id=session.find_id("group", args.group, args.group_domain),
        project_id=session.find_id("project", args.project, args.project_domain),
        domain_id=session.domain_id(args.domain), system=bool(args.system),
        role_id=session.find_id("role", args.role, args.role_domain),
        effective=args.effective, include_names=args.names)
    if args.auth_user:
        request.user_id = session.token_info.user.id
    if args.auth_project:
        if not session.token_info.HasField("project"):
            raise UsageError("--auth-project needs a project-scoped token")
        request.project_id = session.token_info.project.id
    assignments = session.list_all("Assignments", "ListRoleAssignments", request, "role_assignments")
    rows = []
    for a in assignments:
        if args.inherited and not a.inherited:
            continue
        actor, scope = a.WhichOneof("actor"), a.WhichOneof("scope")
        row = {key: "" for key, _ in ASSIGNMENT_LONG}
        row.update(role=named(a.role, args.names), inherited=a.inherited,
                   via_group_id=a.via_group_id, implied_by_role_id=a.implied_by_role_id)
        if actor:
            row[actor] = named(getattr(a, actor), args.names)
        if scope == "system":
            row["system"] = "all"
        elif scope:
            row[scope] = named(getattr(a, scope), args.names, with_domain=scope == "project")
        rows.append(row)
    return Listing(ASSIGNMENT_LONG if args.long else ASSIGNMENT_COLUMNS, rows,
                   json_columns=ASSIGNMENT_LONG)


# ---- implied roles -----------------------------------------------------------------------------

IMPLICATION = (arg("prior", metavar="PRIOR_ROLE", help="name or id"),
               arg("implied", metavar="IMPLIED_ROLE", help="name or id"))


def implication(session, args) -> apb.ImpliedRole:
    return apb.ImpliedRole(prior_role_id=session.find_id("role", args.prior),
                           implied_role_id=session.find_id("role", args.implied))


@command("role implies create", "Make one role imply another", *IMPLICATION)
def role_implies_create(session, args):
    made = session.call("Roles", "CreateImpliedRole", implication(session, args))
    return Show({"prior_role_id": made.prior_role_id, "implied_role_id": made.implied_role_id,
                 "prior_role": args.prior, "implied_role": args.implied})


@command("role implies delete", "Stop one role implying another", *IMPLICATION)
def role_implies_delete(session, args):
    session.call("Roles", "DeleteImpliedRole", implication(session, args))


@command("role implies list", "List role implications",
         arg("role", metavar="ROLE", nargs="?", help="only what this role implies"))
def role_implies_list(session, args):
    implied = session.call("Roles", "ListImpliedRoles", apb.ListImpliedRolesRequest(
        prior_role_id=session.find_id("role", args.role))).implied_roles
    names = {r.id: r.name for r in session.list_all("Roles", "ListRoles",
                                                    apb.ListRolesRequest(), "roles")}
    rows = [{"prior_role_id": i.prior_role_id, "prior_role_name": names.get(i.prior_role_id, ""),
             "implied_role_id": i.implied_role_id,
             "implied_role_name": names.get(i.implied_role_id, "")} for i in implied]
    return Listing([("prior_role_id", "Prior Role ID"), ("prior_role_name", "Prior Role Name"),
                    ("implied_role_id", "Implied Role ID"),
                    ("implied_role_name", "Implied Role Name")], rows)
