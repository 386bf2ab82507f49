"""`identity region create|list|show|set|delete` (a region named by its id)."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import DeleteFound, ListAll, Resource, SetFound, ShowFound, ShowOne, \
    add_description, show


def region_fields(r) -> dict:
    return {"region": r.id, "parent_region": r.parent_region_id, "description": r.description}


REGION = Resource("region", region_fields, by_id=True, columns=(
    ("region", "Region"), ("parent_region", "Parent Region"), ("description", "Description")))


class CreateRegion(ShowOne):
    """Create a region"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("region", metavar="REGION_ID")
        parser.add_argument("--parent-region", metavar="REGION", help="the parent region's id")
        add_description(parser)
        return parser

    def take_action(self, args):
        return show(region_fields(self.connection.call("Regions", "CreateRegion", apb.Region(
            id=args.region, parent_region_id=args.parent_region or "",
            description=args.description or ""))))


class ListRegion(ListAll):
    """List regions"""
    resource, with_long = REGION, False

    def options(self, parser):
        parser.add_argument("--parent-region", metavar="REGION",
                            help="only the children of this region")

    def request(self, args):
        return {"parent_region_id": args.parent_region or ""}


class ShowRegion(ShowFound):
    """Show a region"""
    resource = REGION


class SetRegion(SetFound):
    """Change a region"""
    resource, changes, fields_changed = REGION, ("parent_region", "description"), \
        ("parent_region_id", "description")

    def options(self, parser):
        parser.add_argument("--parent-region", metavar="REGION", help="a new parent ('' for none)")
        add_description(parser)


class DeleteRegion(DeleteFound):
    """Delete regions"""
    resource = REGION


COMMANDS = {"region create": CreateRegion, "region list": ListRegion, "region show": ShowRegion,
            "region set": SetRegion, "region delete": DeleteRegion}
