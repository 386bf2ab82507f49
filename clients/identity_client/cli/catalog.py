"""`identity catalog list|show`: the services in the catalog of the caller's token."""

from identity_api.v1 import identity_pb2 as pb

from .base import CliError, EndpointsColumn, Lister, ShowOne, show


def catalog_row(service) -> dict:
    return {"id": service.id, "name": service.name, "type": service.type, "endpoints": [
        {"id": e.id, "interface": e.interface, "region": e.region, "url": e.url}
        for e in service.endpoints]}


class ListCatalog(Lister):
    """List the services in the catalog of your (scoped) token"""

    def take_action(self, args):
        services = self.connection.call("Identity", "Catalog", pb.CatalogRequest()).services
        return ("Name", "Type", "Endpoints"), [
            (s.name, s.type, EndpointsColumn(catalog_row(s)["endpoints"])) for s in services]


class ShowCatalog(ShowOne):
    """Show one service of your token's catalog"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("service", metavar="SERVICE", help="name or type")
        return parser

    def take_action(self, args):
        services = self.connection.call("Identity", "Catalog", pb.CatalogRequest()).services
        for s in services:
            if args.service in (s.name, s.type, s.id):
                row = catalog_row(s)
                row["endpoints"] = EndpointsColumn(row["endpoints"])
                return show(row)
        raise CliError("NOT_FOUND", f"no service {args.service!r} in the catalog")


COMMANDS = {"catalog list": ListCatalog, "catalog show": ShowCatalog}
