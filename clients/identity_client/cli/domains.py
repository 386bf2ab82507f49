"""`identity domain create|list|show|set|delete`."""

from .base import CreateNamed, DeleteFound, ListAll, Resource, SetFound, ShowFound


def domain_fields(d) -> dict:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled}


DOMAIN = Resource("domain", domain_fields, columns=(
    ("id", "ID"), ("name", "Name"), ("enabled", "Enabled"), ("description", "Description")))


class CreateDomain(CreateNamed):
    """Create a domain"""
    resource, enabling = DOMAIN, True


class ListDomain(ListAll):
    """List domains"""
    resource = DOMAIN  # --long shows no more

    def options(self, parser):
        parser.add_argument("--name", help="only the domain of this name")

    def request(self, args):
        return {"name": args.name or ""}


class ShowDomain(ShowFound):
    """Show a domain"""
    resource = DOMAIN


class SetDomain(SetFound):
    """Change a domain"""
    resource, enabling, changes = DOMAIN, True, ("name", "description", "enabled")


class DeleteDomain(DeleteFound):
    """Delete domains (disable them first)"""
    resource = DOMAIN


COMMANDS = {"domain create": CreateDomain, "domain list": ListDomain,
            "domain show": ShowDomain, "domain set": SetDomain, "domain delete": DeleteDomain}
