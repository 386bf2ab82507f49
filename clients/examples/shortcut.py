#!/usr/bin/env python3
"""The shortcut: one Authenticate with a password and a project scope (the project
named by name and domain) gives a scoped token, its roles and the catalog at once.

Only the generated stubs (`identity_api.v1`) and grpc are used. A gRPC error ends
the script with one line on stderr and exit status 1.
"""

import argparse
import sys
from pathlib import Path

import grpc

try:
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc
except ImportError:  # run from a checkout without `pip install -e clients`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc

TIMEOUT = 10.0  # seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="the service's gRPC address")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="mypassword123")
    parser.add_argument("--domain", default="default", help="the user's and project's domain id")
    parser.add_argument("--domain-name", default="", help="name the domain by name instead")
    parser.add_argument("--project", default="acme", help="the project to scope to (by name)")
    args = parser.parse_args(argv)
    domain = (pb.DomainSelector(name=args.domain_name) if args.domain_name
              else pb.DomainSelector(id=args.domain))
    request = pb.AuthenticateRequest(
        password=pb.PasswordMethod(user=pb.UserSelector(name=args.user, domain=domain),
                                   password=args.password),
        scope=pb.Scope(project=pb.ProjectSelector(name=args.project, domain=domain)))

    print(f"Authenticating as {args.user} with a password, scoped to project {args.project} "
          f"in domain {args.domain_name or args.domain}, in one call.")
    with grpc.insecure_channel(args.address) as channel:
        try:
            response = rpc.IdentityStub(channel).Authenticate(request, timeout=TIMEOUT)
        except grpc.RpcError as e:
            print(f"error: authenticate failed: {e.code().name}: {e.details()} "
                  f"(service at {args.address})", file=sys.stderr)
            return 1
    info = response.token_info
    roles = sorted(r.name for r in info.roles)
    print(f"Got a token scoped to project {info.project.name} ({len(response.token)} characters).")
    print(f"Roles: {', '.join(roles) or '(none)'}")
    compute_url = next((e.url for s in info.catalog if s.type == "compute"
                        for e in s.endpoints if e.interface == "public"), None)
    if compute_url is None:
        print("error: the catalog has no public compute endpoint", file=sys.stderr)
        return 1
    print(f"Compute endpoint: {compute_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
