"""`identity project create|list|show|set|delete` (a tenant, in the classic forms)."""

from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from .base import CreateNamed, DeleteFound, ListAll, Resource, SetFound, ShowFound, add_domain, \
    listing

COLUMNS = (("id", "ID"), ("name", "Name"))


def project_fields(p) -> dict:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id,
            "description": p.description, "enabled": p.enabled, "is_domain": p.is_domain}


PROJECT = Resource("project", project_fields, columns=COLUMNS, in_domain=True, long=(
    *COLUMNS, ("domain_id", "Domain ID"), ("parent_id", "Parent ID"),
    ("description", "Description"), ("enabled", "Enabled")))


def holders(connection, field: str, **request) -> set[str]:
    """The ids of the users (field "user") or projects ("project") in the effective
    role assignments the request selects."""
    return {getattr(a, field).id for a in connection.list_all(
        "Assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest(
            effective=True, **request), "role_assignments") if a.HasField(field)}


class CreateProject(CreateNamed):
    """Create a project"""
    resource, enabling = PROJECT, True

    def options(self, parser):
        parser.add_argument("--parent", metavar="PROJECT", help="the parent project (name or id)")
        super().options(parser)

    def more(self, args):
        return {"parent_id": self.connection.find_id("project", args.parent, args.domain)}


class ListProject(ListAll):
    """List projects"""
    resource = PROJECT

    def options(self, parser):
        add_domain(parser, "projects")
        parser.add_argument("--parent", metavar="PROJECT", help="only the children of this project")
        parser.add_argument("--name", help="only projects of this name")
        parser.add_argument("--user", metavar="USER", help="only projects this user holds a role on")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--my-projects", action="store_true",
                            help="the projects the caller holds a role on")

    def take_action(self, args):
        if not args.my_projects:
            return super().take_action(args)
        mine = self.connection.call("Identity", "ListProjects", pb.ListProjectsRequest()).projects
        return listing(PROJECT.long if args.long else COLUMNS, [
            {"id": p.id, "name": p.name, "domain_id": p.domain.id, "parent_id": p.parent_id,
             "description": p.description, "enabled": p.enabled} for p in mine])

    def entities(self, args):
        c = self.connection
        projects = PROJECT.list_all(c, name=args.name or "", domain_id=c.domain_id(args.domain),
                                    parent_id=c.find_id("project", args.parent, args.domain))
        if args.user:
            held = holders(c, "project", user_id=c.find_id("user", args.user, args.user_domain))
            projects = [p for p in projects if p.id in held]
        return projects


class ShowProject(ShowFound):
    """Show a project"""
    resource = PROJECT


class SetProject(SetFound):
    """Change a project"""
    resource, enabling, changes = PROJECT, True, ("name", "description", "enabled")

    def more_options(self, parser):
        parser.add_argument("--parent", metavar="PROJECT",
                            help="move it under this project ('' for the top)")

    def more(self, args, request):
        if args.parent is not None:
            request.parent_id = self.connection.find_id("project", args.parent, args.domain)


class DeleteProject(DeleteFound):
    """Delete projects"""
    resource = PROJECT


COMMANDS = {"project create": CreateProject, "project list": ListProject,
            "project show": ShowProject, "project set": SetProject,
            "project delete": DeleteProject}
