"""A page token comes back from the client: a crafted one is INVALID_ARGUMENT naming
`page_token` on every paged list (the 8 of admin.proto, and ListRoleAssignments now
that it pages), never INTERNAL (integers past 64 bits used to reach the store and
fail there)."""

import base64
import json

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from support import rpc_error

# Every paged List RPC of admin.proto: (service attribute of AdminClient, method, request).
PAGED_LISTS = [
    ("domains", "ListDomains", apb.ListDomainsRequest),
    ("projects", "ListProjects", apb.ListProjectsRequest),
    ("users", "ListUsers", apb.ListUsersRequest),
    ("groups", "ListGroups", apb.ListGroupsRequest),
    ("roles", "ListRoles", apb.ListRolesRequest),
    ("regions", "ListRegions", apb.ListRegionsRequest),
    ("services", "ListServices", apb.ListServicesRequest),
    ("endpoints", "ListEndpoints", apb.ListEndpointsRequest),
    ("assignments", "ListRoleAssignments", apb.ListRoleAssignmentsRequest),
]


def _token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_VALUES = [2 ** 64, 2 ** 63, -(2 ** 63) - 1, 10 ** 40, True, False, None, 1.5, "a" * 300,
              "nul\x00inside", "\ud800", [1], {"a": 1}]


def crafted_tokens() -> list[str]:
    """Tokens of every arity up to 11 (the longest token a list gives out) holding one
    bad value, plus ones that are no token at all."""
    tokens = [_token(v) for v in ([], {}, "x", 12, None, [[[]]] * 3)]
    for arity in range(1, 12):
        for bad in BAD_VALUES:
            tokens.append(_token([bad] * arity))
            tokens.append(_token(["ok"] * (arity - 1) + [bad]))
        tokens.append(_token(["ok"] * arity + [1] * 12))  # longer than any key
    tokens += ["!!!", "%%", "a", "=" * 4, "A" * 20_000,
               base64.urlsafe_b64encode(b"\xff\xfe not utf-8").decode(),
               _token("[" * 5000)]
    return tokens


@pytest.mark.every_backend
@pytest.mark.parametrize("service_name, method, request_type", PAGED_LISTS,
                         ids=[m for _, m, _ in PAGED_LISTS])
def test_crafted_page_tokens_are_invalid_argument(admin, service_name, method, request_type):
    call = getattr(getattr(admin, service_name), method)
    for token in crafted_tokens():
        error = rpc_error(admin.call, call, request_type(page_token=token))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (token[:80], error.details())
        assert error.details().startswith("page_token:"), error.details()
    # ...and the list still answers, with the tokens it gives out itself.
    token = admin.call(call, request_type(page_size=1)).next_page_token
    if token:
        admin.call(call, request_type(page_size=1, page_token=token))
