"""`identity service create|list|show|set|delete` (a service named by id, name or type)."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowFound, ShowOne, add_description, \
    add_long, copy_set, \
    enable_disable, listing, show

COLUMNS = [("id", "ID"), ("name", "Name"), ("type", "Type")]
LONG = [*COLUMNS, ("description", "Description"), ("enabled", "Enabled")]


def service_fields(s) -> dict:
    return {"id": s.id, "name": s.name, "type": s.type, "description": s.description,
            "enabled": s.enabled}


class CreateService(ShowOne):
    """Create a service"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("type", metavar="TYPE", help="e.g. compute, identity")
        parser.add_argument("--name", help="e.g. nova")
        add_description(parser)
        enable_disable(parser, "service")
        return parser

    def take_action(self, args):
        request = apb.CreateServiceRequest(type=args.type, name=args.name or "",
                                           description=args.description or "")
        if args.enabled is not None:
            request.enabled = args.enabled
        return show(service_fields(self.connection.call("Services", "CreateService", request)))


class ListService(Lister):
    """List services"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_long(parser)
        return parser

    def take_action(self, args):
        services = self.connection.list_all("Services", "ListServices",
                                            apb.ListServicesRequest(), "services")
        return listing(LONG if args.long else COLUMNS, [service_fields(s) for s in services])


class ShowService(ShowFound):
    """Show a service (by id, name or type)"""
    kind, in_domain, fields = "service", False, staticmethod(service_fields)


class SetService(Command):
    """Change a service"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("service", metavar="SERVICE", help="id, name or type")
        parser.add_argument("--type", help="a new type")
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        enable_disable(parser, "service")
        return parser

    def take_action(self, args):
        request = apb.UpdateServiceRequest(id=self.connection.find_id("service", args.service))
        copy_set(request, args, ("type", "name", "description", "enabled"))
        self.connection.call("Services", "UpdateService", request)


class DeleteService(DeleteFound):
    """Delete services (by ids, names or types) and their endpoints"""
    kind, in_domain, service, method = "service", False, "Services", "DeleteService"


COMMANDS = {"service create": CreateService, "service list": ListService,
            "service show": ShowService, "service set": SetService,
            "service delete": DeleteService}
