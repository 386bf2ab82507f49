"""`identity endpoint create|list|show|set|delete`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import DeleteFound, ListAll, Resource, SetFound, ShowFound, ShowOne, enable_disable, \
    show

INTERFACES = ["public", "internal", "admin"]


def endpoint_fields(e, services: dict) -> dict:
    service = services.get(e.service_id)
    return {"id": e.id, "region": e.region_id, "region_id": e.region_id,
            "service_id": e.service_id, "service_name": service.name if service else "",
            "service_type": service.type if service else "", "enabled": e.enabled,
            "interface": e.interface, "url": e.url}


def services_by_id(connection) -> dict:
    return {s.id: s for s in connection.list_all("Services", "ListServices",
                                                 apb.ListServicesRequest(), "services")}


ENDPOINT = Resource("endpoint", endpoint_fields, by_id=True, columns=(
    ("id", "ID"), ("region", "Region"), ("service_name", "Service Name"),
    ("service_type", "Service Type"), ("enabled", "Enabled"), ("interface", "Interface"),
    ("url", "URL")))


class CreateEndpoint(ShowOne):
    """Create an endpoint"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("service", metavar="SERVICE", help="id, name or type")
        parser.add_argument("interface", metavar="INTERFACE", choices=INTERFACES,
                            help="public, internal or admin")
        parser.add_argument("url", metavar="URL")
        parser.add_argument("--region", metavar="REGION_ID")
        enable_disable(parser, "endpoint")
        return parser

    def take_action(self, args):
        service = self.connection.find("service", args.service)
        request = apb.CreateEndpointRequest(service_id=service.id, interface=args.interface,
                                            url=args.url, region_id=args.region or "")
        if args.enabled is not None:
            request.enabled = args.enabled
        made = self.connection.call("Endpoints", "CreateEndpoint", request)
        return show(endpoint_fields(made, {service.id: service}))


class ListEndpoint(ListAll):
    """List endpoints"""
    resource, with_long = ENDPOINT, False

    def options(self, parser):
        parser.add_argument("--service", metavar="SERVICE", help="id, name or type")
        parser.add_argument("--interface", choices=INTERFACES)
        parser.add_argument("--region", metavar="REGION_ID")

    def request(self, args):
        return {"service_id": self.connection.find_id("service", args.service),
                "interface": args.interface or "", "region_id": args.region or ""}

    def entities(self, args):
        endpoints = super().entities(args)
        self.services = services_by_id(self.connection)
        return endpoints

    def fields(self, endpoint):
        return endpoint_fields(endpoint, self.services)


class ShowEndpoint(ShowFound):
    """Show an endpoint"""
    resource = ENDPOINT

    def fields(self, endpoint):
        return endpoint_fields(endpoint, services_by_id(self.connection))


class SetEndpoint(SetFound):
    """Change an endpoint"""
    resource = ENDPOINT
    changes = ("interface", "region", "url", "enabled")
    fields_changed = ("interface", "region_id", "url", "enabled")

    def options(self, parser):
        parser.add_argument("--interface", choices=INTERFACES)
        parser.add_argument("--region", metavar="REGION_ID")
        parser.add_argument("--url")
        enable_disable(parser, "endpoint")


class DeleteEndpoint(DeleteFound):
    """Delete endpoints"""
    resource = ENDPOINT


COMMANDS = {"endpoint create": CreateEndpoint, "endpoint list": ListEndpoint,
            "endpoint show": ShowEndpoint, "endpoint set": SetEndpoint,
            "endpoint delete": DeleteEndpoint}
