"""`identity api key create|list|delete` (the secret is printed once)."""

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.admin.v1 import admin_pb2 as apb

from .base import DeleteFound, Lister, Resource, ShowOne, UsageError, add_domain, listing, show, \
    timestamp

COLUMNS = [("id", "ID"), ("name", "Name"), ("project_id", "Project ID"), ("roles", "Roles"),
           ("expires_at", "Expires At")]
LONG = [*COLUMNS, ("user_id", "User ID"), ("created_at", "Created At")]


def api_key_fields(key) -> dict:
    return {"id": key.id, "name": key.name, "user_id": key.user_id, "project_id": key.project_id,
            "roles": list(key.role_ids), "expires_at": timestamp(key.expires_at) or None,
            "created_at": timestamp(key.created_at) or None}


def parse_expiry(text: str) -> Timestamp:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--expires: not an ISO 8601 date and time: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = Timestamp()
    stamp.FromDatetime(when.astimezone(timezone.utc))
    return stamp


class CreateApiKey(ShowOne):
    """Create an API key (the secret is shown this once)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="NAME", nargs="?", default="", help="a name for the key")
        parser.add_argument("--project", metavar="PROJECT", required=True,
                            help="the project it is scoped to")
        add_domain(parser, "--project", "--project-domain")
        parser.add_argument("--role", metavar="ROLE", action="append", default=[], help=(
            "a role it carries (repeatable; default: every role on the project)"))
        parser.add_argument("--expires", metavar="ISO8601",
                            help="when it stops working (default: never)")
        parser.add_argument("--user", metavar="USER", help="whose key (default: yours)")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--on-behalf", action="store_true", help=(
            "required when --user is someone else: create that user's key "
            "(system admins; audited)"))
        return parser

    def take_action(self, args):
        c = self.connection
        expires = parse_expiry(args.expires) if args.expires else None
        request = apb.CreateApiKeyRequest(
            name=args.name, user_id=c.find_id("user", args.user, args.user_domain),
            project_id=c.find_id("project", args.project, args.project_domain),
            role_ids=[c.find_id("role", r) for r in args.role], on_behalf=args.on_behalf)
        if expires is not None:
            request.expires_at.CopyFrom(expires)
        made = c.call("ApiKeys", "CreateApiKey", request)
        return show({**api_key_fields(made.api_key), "secret": made.secret})


class ListApiKey(Lister):
    """List API keys (yours, or a user's)"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--user", metavar="USER")
        add_domain(parser, "--user", "--user-domain")
        parser.add_argument("--long", action="store_true", help="more columns")
        return parser

    def take_action(self, args):
        keys = self.connection.call("ApiKeys", "ListApiKeys", apb.ListApiKeysRequest(
            user_id=self.connection.find_id("user", args.user, args.user_domain))).api_keys
        return listing(LONG if args.long else COLUMNS, [api_key_fields(k) for k in keys])


class DeleteApiKey(DeleteFound):
    """Delete API keys"""
    resource = Resource("api key", api_key_fields, by_id=True, name="ApiKey", metavar="ID")


COMMANDS = {"api key create": CreateApiKey, "api key list": ListApiKey,
            "api key delete": DeleteApiKey}
