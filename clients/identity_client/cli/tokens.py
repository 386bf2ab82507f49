"""`identity token issue|revoke`."""

from identity_api.v1 import identity_pb2 as pb

from .base import Command, ShowOne, show, timestamp


def token_fields(token: str, info: pb.Token) -> dict:
    fields = {"expires": timestamp(info.expires_at), "id": token, "user_id": info.user.id}
    scope = info.WhichOneof("scope")
    if scope == "project":
        fields["project_id"] = info.project.id
    elif scope == "domain":
        fields["domain_id"] = info.domain.id
    elif scope == "system":
        fields["system"] = "all"
    return fields


class IssueToken(ShowOne):
    """Issue a token with the OS_* credentials and scope"""

    def take_action(self, args):
        return show(token_fields(*self.connection.issue()))


class RevokeToken(Command):
    """Revoke a token"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("token", metavar="TOKEN")
        return parser

    def take_action(self, args):
        self.connection.call("Identity", "RevokeToken",
                             pb.RevokeTokenRequest(subject_token=args.token))


COMMANDS = {"token issue": IssueToken, "token revoke": RevokeToken}
