"""`identity domain create|list|show|set|delete`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, DeleteFound, Lister, ShowFound, ShowOne, add_description, \
    add_long, add_or_show, copy_set, \
    create_or_show, enable_disable, listing, show

COLUMNS = [("id", "ID"), ("name", "Name"), ("enabled", "Enabled"),
           ("description", "Description")]


def domain_fields(d) -> dict:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled}


class CreateDomain(ShowOne):
    """Create a domain"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME")
        add_description(parser)
        enable_disable(parser, "domain")
        add_or_show(parser)
        return parser

    def take_action(self, args):
        request = apb.CreateDomainRequest(name=args.name, description=args.description or "")
        if args.enabled is not None:
            request.enabled = args.enabled
        return show(domain_fields(create_or_show(self.connection, "domain", "Domains",
                                                 "CreateDomain", request, None, args.or_show)))


class ListDomain(Lister):
    """List domains"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="only the domain of this name")
        add_long(parser)
        return parser

    def take_action(self, args):
        domains = self.connection.list_all("Domains", "ListDomains",
                                           apb.ListDomainsRequest(name=args.name or ""), "domains")
        return listing(COLUMNS, [domain_fields(d) for d in domains])


class ShowDomain(ShowFound):
    """Show a domain"""
    kind, in_domain, fields = "domain", False, staticmethod(domain_fields)


class SetDomain(Command):
    """Change a domain"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("domain", metavar="DOMAIN", help="name or id")
        parser.add_argument("--name", help="a new name")
        add_description(parser)
        enable_disable(parser, "domain")
        return parser

    def take_action(self, args):
        request = apb.UpdateDomainRequest(id=self.connection.find_id("domain", args.domain))
        copy_set(request, args, ("name", "description", "enabled"))
        self.connection.call("Domains", "UpdateDomain", request)


class DeleteDomain(DeleteFound):
    """Delete domains (disable them first)"""
    kind, in_domain, service, method = "domain", False, "Domains", "DeleteDomain"


COMMANDS = {"domain create": CreateDomain, "domain list": ListDomain,
            "domain show": ShowDomain, "domain set": SetDomain, "domain delete": DeleteDomain}
