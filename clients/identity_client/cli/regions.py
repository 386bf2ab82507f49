"""`identity region create|list|show|set|delete`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowOne, add_description, listing, show

COLUMNS = [("region", "Region"), ("parent_region", "Parent Region"),
           ("description", "Description")]


def region_fields(r) -> dict:
    return {"region": r.id, "parent_region": r.parent_region_id, "description": r.description}


class RegionCommand:
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("region", metavar="REGION_ID")
        return parser


class CreateRegion(RegionCommand, ShowOne):
    """Create a region"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--parent-region", metavar="REGION", help="the parent region's id")
        add_description(parser)
        return parser

    def take_action(self, args):
        return show(region_fields(self.connection.call("Regions", "CreateRegion", apb.Region(
            id=args.region, parent_region_id=args.parent_region or "",
            description=args.description or ""))))


class ListRegion(Lister):
    """List regions"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--parent-region", metavar="REGION",
                            help="only the children of this region")
        return parser

    def take_action(self, args):
        regions = self.connection.list_all("Regions", "ListRegions", apb.ListRegionsRequest(
            parent_region_id=args.parent_region or ""), "regions")
        return listing(COLUMNS, [region_fields(r) for r in regions])


class ShowRegion(RegionCommand, ShowOne):
    """Show a region"""

    def take_action(self, args):
        return show(region_fields(self.connection.call("Regions", "GetRegion",
                                                       apb.GetRequest(id=args.region))))


class SetRegion(RegionCommand, Command):
    """Change a region"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--parent-region", metavar="REGION", help="a new parent ('' for none)")
        add_description(parser)
        return parser

    def take_action(self, args):
        request = apb.UpdateRegionRequest(id=args.region)
        if args.parent_region is not None:
            request.parent_region_id = args.parent_region
        if args.description is not None:
            request.description = args.description
        self.connection.call("Regions", "UpdateRegion", request)


class DeleteRegion(DeleteFound):
    """Delete regions"""
    kind, in_domain, by_id, service, method = "region_id", False, True, "Regions", "DeleteRegion"


COMMANDS = {"region create": CreateRegion, "region list": ListRegion, "region show": ShowRegion,
            "region set": SetRegion, "region delete": DeleteRegion}
