"""`identity service create|list|show|set|delete` (a service named by id, name or type)."""

from .base import CreateNamed, DeleteFound, ListAll, Resource, SetFound, ShowFound

COLUMNS = (("id", "ID"), ("name", "Name"), ("type", "Type"))


def service_fields(s) -> dict:
    return {"id": s.id, "name": s.name, "type": s.type, "description": s.description,
            "enabled": s.enabled}


SERVICE = Resource("service", service_fields, columns=COLUMNS,
                   long=(*COLUMNS, ("description", "Description"), ("enabled", "Enabled")))


class CreateService(CreateNamed):
    """Create a service"""
    resource, enabling, or_show = SERVICE, True, False

    def subject(self, parser):
        parser.add_argument("type", metavar="TYPE", help="e.g. compute, identity")
        parser.add_argument("--name", help="e.g. nova")

    def more(self, args):
        return {"type": args.type}


class ListService(ListAll):
    """List services"""
    resource = SERVICE


class ShowService(ShowFound):
    """Show a service (by id, name or type)"""
    resource = SERVICE


class SetService(SetFound):
    """Change a service"""
    resource, enabling, ref_help = SERVICE, True, "id, name or type"
    changes = ("type", "name", "description", "enabled")

    def options(self, parser):
        parser.add_argument("--type", help="a new type")
        super().options(parser)


class DeleteService(DeleteFound):
    """Delete services (by ids, names or types) and their endpoints"""
    resource = SERVICE


COMMANDS = {"service create": CreateService, "service list": ListService,
            "service show": ShowService, "service set": SetService,
            "service delete": DeleteService}
