"""`identity endpoint create|list|show|set|delete`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowOne, copy_set, enable_disable, listing, \
    show

INTERFACES = ["public", "internal", "admin"]
COLUMNS = [("id", "ID"), ("region", "Region"), ("service_name", "Service Name"),
           ("service_type", "Service Type"), ("enabled", "Enabled"),
           ("interface", "Interface"), ("url", "URL")]


def endpoint_fields(e, services: dict) -> dict:
    service = services.get(e.service_id)
    return {"id": e.id, "region": e.region_id, "region_id": e.region_id,
            "service_id": e.service_id, "service_name": service.name if service else "",
            "service_type": service.type if service else "", "enabled": e.enabled,
            "interface": e.interface, "url": e.url}


def services_by_id(connection) -> dict:
    return {s.id: s for s in connection.list_all("Services", "ListServices",
                                                 apb.ListServicesRequest(), "services")}


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


class ListEndpoint(Lister):
    """List endpoints"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--service", metavar="SERVICE", help="id, name or type")
        parser.add_argument("--interface", choices=INTERFACES)
        parser.add_argument("--region", metavar="REGION_ID")
        return parser

    def take_action(self, args):
        c = self.connection
        request = apb.ListEndpointsRequest(service_id=c.find_id("service", args.service),
                                           interface=args.interface or "",
                                           region_id=args.region or "")
        endpoints = c.list_all("Endpoints", "ListEndpoints", request, "endpoints")
        services = services_by_id(c)
        return listing(COLUMNS, [endpoint_fields(e, services) for e in endpoints])


class ShowEndpoint(ShowOne):
    """Show an endpoint"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("endpoint", metavar="ENDPOINT_ID")
        return parser

    def take_action(self, args):
        endpoint = self.connection.call("Endpoints", "GetEndpoint",
                                        apb.GetRequest(id=args.endpoint))
        return show(endpoint_fields(endpoint, services_by_id(self.connection)))


class SetEndpoint(Command):
    """Change an endpoint"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("endpoint", metavar="ENDPOINT_ID")
        parser.add_argument("--interface", choices=INTERFACES)
        parser.add_argument("--region", metavar="REGION_ID")
        parser.add_argument("--url")
        enable_disable(parser, "endpoint")
        return parser

    def take_action(self, args):
        request = apb.UpdateEndpointRequest(id=args.endpoint)
        copy_set(request, args, ("interface", "region", "url", "enabled"),
                 ("interface", "region_id", "url", "enabled"))
        self.connection.call("Endpoints", "UpdateEndpoint", request)


class DeleteEndpoint(DeleteFound):
    """Delete endpoints"""
    kind, in_domain, by_id = "endpoint_id", False, True
    service, method = "Endpoints", "DeleteEndpoint"


COMMANDS = {"endpoint create": CreateEndpoint, "endpoint list": ListEndpoint,
            "endpoint show": ShowEndpoint, "endpoint set": SetEndpoint,
            "endpoint delete": DeleteEndpoint}
