"""`identity implied role`s: `role implies create|delete|list`."""

from identity_api.admin.v1 import admin_pb2 as apb

from .base import Command, Lister, ShowOne, listing, show


class Implication(Command):
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("prior", metavar="PRIOR_ROLE", help="name or id")
        parser.add_argument("implied", metavar="IMPLIED_ROLE", help="name or id")
        return parser

    def implication(self, args) -> apb.ImpliedRole:
        return apb.ImpliedRole(prior_role_id=self.connection.find_id("role", args.prior),
                               implied_role_id=self.connection.find_id("role", args.implied))


class CreateImpliedRole(Implication, ShowOne):
    """Make one role imply another"""

    def take_action(self, args):
        made = self.connection.call("Roles", "CreateImpliedRole", self.implication(args))
        return show({"prior_role_id": made.prior_role_id, "implied_role_id": made.implied_role_id,
                     "prior_role": args.prior, "implied_role": args.implied})


class DeleteImpliedRole(Implication):
    """Stop one role implying another"""

    def take_action(self, args):
        self.connection.call("Roles", "DeleteImpliedRole", self.implication(args))


class ListImpliedRole(Lister):
    """List role implications"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("role", metavar="ROLE", nargs="?", help="only what this role implies")
        return parser

    def take_action(self, args):
        c = self.connection
        implied = c.call("Roles", "ListImpliedRoles", apb.ListImpliedRolesRequest(
            prior_role_id=c.find_id("role", args.role))).implied_roles
        names = {r.id: r.name for r in c.list_all("Roles", "ListRoles", apb.ListRolesRequest(),
                                                  "roles")}
        rows = [{"prior_role_id": i.prior_role_id, "prior_role_name": names.get(i.prior_role_id, ""),
                 "implied_role_id": i.implied_role_id,
                 "implied_role_name": names.get(i.implied_role_id, "")} for i in implied]
        return listing([("prior_role_id", "Prior Role ID"), ("prior_role_name", "Prior Role Name"),
                        ("implied_role_id", "Implied Role ID"),
                        ("implied_role_name", "Implied Role Name")], rows)


COMMANDS = {"role implies create": CreateImpliedRole, "role implies delete": DeleteImpliedRole,
            "role implies list": ListImpliedRole}
