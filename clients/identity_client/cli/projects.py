"""`identity project create|list|show|set|delete` (a tenant, in the classic forms)."""

from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from .base import Command, DeleteFound, Lister, ShowFound, ShowOne, add_description, \
    add_domain, add_long, \
    add_or_show, copy_set, create_or_show, enable_disable, listing, show

COLUMNS = [("id", "ID"), ("name", "Name")]
LONG = [*COLUMNS, ("domain_id", "Domain ID"), ("parent_id", "Parent ID"),
        ("description", "Description"), ("enabled", "Enabled")]


def project_fields(p) -> dict:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id,
            "description": p.description, "enabled": p.enabled, "is_domain": p.is_domain}


def holders(connection, field: str, **request) -> set[str]:
    """The ids of the users (field "user") or projects ("project") in the effective
    role assignments the request selects."""
    return {getattr(a, field).id for a in connection.list_all(
        "Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
            effective=True, **request), "role_assignments") if a.HasField(field)}


class CreateProject(ShowOne):
    """Create a project"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        add_domain(parser, "project")
        parser.add_argument("--parent", metavar="PROJECT", help="the parent project (name or id)")
        add_description(parser)
        enable_disable(parser, "project")
        add_or_show(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.CreateProjectRequest(
            name=args.name, domain_id=c.domain_id(args.domain),
            parent_id=c.find_id("project", args.parent, args.domain),
            description=args.description or "")
        if args.enabled is not None:
            request.enabled = args.enabled
        return show(project_fields(create_or_show(c, "project", "Projects", "CreateProject",
                                                  request, args.domain, args.or_show)))


class ListProject(Lister):
    """List projects"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_domain(parser, "projects")
        parser.add_argument("--parent", metavar="PROJECT", help="only the children of this project")
        parser.add_argument("--name", help="only projects of this name")
        parser.add_argument("--user", metavar="USER", help="only projects this user holds a role on")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--my-projects", action="store_true",
                            help="the projects the caller holds a role on")
        add_long(parser)
        return parser

    def take_action(self, args):
        c = self.connection
        columns = LONG if args.long else COLUMNS
        if args.my_projects:
            mine = c.call("Identity", "ListProjects", pb.ListProjectsRequest()).projects
            return listing(columns, [{"id": p.id, "name": p.name, "domain_id": p.domain.id,
                                      "parent_id": p.parent_id, "description": p.description,
                                      "enabled": p.enabled} for p in mine])
        request = apb.ListProjectsRequest(name=args.name or "", domain_id=c.domain_id(args.domain),
                                          parent_id=c.find_id("project", args.parent, args.domain))
        projects = c.list_all("Projects", "ListProjects", request, "projects")
        if args.user:
            held = holders(c, "project", user_id=c.find_id("user", args.user, args.user_domain))
            projects = [p for p in projects if p.id in held]
        return listing(columns, [project_fields(p) for p in projects])


class ShowProject(ShowFound):
    """Show a project"""
    kind, fields = "project", staticmethod(project_fields)


class SetProject(Command):
    """Change a project"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("project", metavar="PROJECT", help="name or id")
        add_domain(parser, "project")
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        parser.add_argument("--parent", metavar="PROJECT",
                            help="move it under this project ('' for the top)")
        enable_disable(parser, "project")
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.UpdateProjectRequest(id=c.find_id("project", args.project, args.domain))
        copy_set(request, args, ("name", "description", "enabled"))
        if args.parent is not None:
            request.parent_id = c.find_id("project", args.parent, args.domain)
        c.call("Projects", "UpdateProject", request)


class DeleteProject(DeleteFound):
    """Delete projects"""
    kind, service, method = "project", "Projects", "DeleteProject"


COMMANDS = {"project create": CreateProject, "project list": ListProject,
            "project show": ShowProject, "project set": SetProject,
            "project delete": DeleteProject}
