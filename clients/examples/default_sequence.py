#!/usr/bin/env python3
"""The default sequence a cloud client goes through, step by step:

1. authenticate with a password and no scope: an unscoped token;
2. list the projects that token's user may use;
3. exchange the unscoped token for one scoped to a project: it carries roles and
   the service catalog;
4. find the compute service's public endpoint in the catalog;
5. then, acting as the compute service: authenticate as its service user and
   validate the user's token, to decide whether to serve the request; or, with
   `--call-compute`, call the compute service itself (the demo one,
   compute_service.py): GET <compute endpoint>/servers with the scoped token.

Only the generated stubs (`identity_api.v1`) and grpc are used (and urllib for the
compute call). Any error ends the script with one line on stderr and exit status 1.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc

try:
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc
except ImportError:  # run from a checkout without `pip install -e clients`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc

TIMEOUT = 10.0  # seconds per call


class StepFailed(Exception):
    """A step that cannot go on; the message is the one line to print."""


def domain_selector(args) -> pb.DomainSelector:
    if args.domain_name:
        return pb.DomainSelector(name=args.domain_name)
    return pb.DomainSelector(id=args.domain)


def password_request(name: str, password: str, domain: pb.DomainSelector,
                     scope: pb.Scope | None = None) -> pb.AuthenticateRequest:
    request = pb.AuthenticateRequest(password=pb.PasswordMethod(
        user=pb.UserSelector(name=name, domain=domain), password=password))
    if scope is not None:
        request.scope.CopyFrom(scope)
    return request


def call(step: str, method, request, **kwargs):
    """Make one call; a gRPC error becomes a StepFailed naming the step."""
    try:
        return method(request, timeout=TIMEOUT, **kwargs)
    except grpc.RpcError as e:
        raise StepFailed(f"{step} failed: {e.code().name}: {e.details()}") from None


def auth_md(token: str) -> tuple:
    return (("x-auth-token", token),)


def expiry(token_info: pb.Token) -> str:
    return token_info.expires_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")


def public_url(catalog, service_type: str) -> str:
    for service in catalog:
        if service.type == service_type:
            for endpoint in service.endpoints:
                if endpoint.interface == "public":
                    return endpoint.url
    raise StepFailed(f"the catalog has no public {service_type} endpoint")


def call_compute(compute_url: str, token: str) -> None:
    url = compute_url.rstrip("/") + "/servers"
    print(f"5. Calling the compute service with the scoped token: GET {url}")
    req = urllib.request.Request(url, headers={"X-Auth-Token": token,
                                               "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            status, body = response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise StepFailed(f"call compute failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise StepFailed(f"call compute failed: {getattr(e, 'reason', e)}") from None
    servers = body.get("servers", [])
    print(f"   {status} OK: {len(servers)} server(s):")
    for s in servers:
        print(f"   - {s.get('name')} (project {s.get('project_name') or s.get('project_id')}, "
              f"{s.get('status', '?')})")


def run(args, stub: rpc.IdentityStub) -> None:
    domain = domain_selector(args)

    print(f"1. Authenticating as {args.user} with a password, asking for no scope.")
    unscoped = call("authenticate", stub.Authenticate,
                    password_request(args.user, args.password, domain))
    print(f"   Got an unscoped token: {len(unscoped.token)} characters, "
          f"expires {expiry(unscoped.token_info)}.")

    print("2. Listing the projects this user may use, with the unscoped token.")
    projects = call("list projects", stub.ListProjects, pb.ListProjectsRequest(),
                    metadata=auth_md(unscoped.token)).projects
    print(f"   Projects: {', '.join(p.name for p in projects) or '(none)'}.")
    project = next((p for p in projects if p.name == args.project), None)
    if project is None:
        raise StepFailed(f"project {args.project!r} is not among this user's projects")

    print(f"3. Exchanging the unscoped token for one scoped to project {project.name}.")
    scoped = call("rescope", stub.Authenticate, pb.AuthenticateRequest(
        token=pb.TokenMethod(token=unscoped.token),
        scope=pb.Scope(project=pb.ProjectSelector(id=project.id))))
    roles = sorted(r.name for r in scoped.token_info.roles)
    print(f"   Got a scoped token ({len(scoped.token)} characters) with roles: "
          f"{', '.join(roles) or '(none)'}.")

    print("4. Looking up the compute service's public endpoint in the token's catalog.")
    compute_url = public_url(scoped.token_info.catalog, "compute")
    print(f"   Compute endpoint: {compute_url}")

    if args.call_compute:
        call_compute(compute_url, scoped.token)
        return

    print(f"5. Now acting as the compute service: authenticating as {args.service_user} "
          f"on project {args.service_project}.")
    service = call("service authenticate", stub.Authenticate, password_request(
        args.service_user, args.service_password, domain,
        pb.Scope(project=pb.ProjectSelector(name=args.service_project, domain=domain))))
    print("   Validating the token the user sent to the compute service.")
    seen = call("validate token", stub.ValidateToken,
                pb.ValidateTokenRequest(subject_token=scoped.token, no_catalog=True),
                metadata=auth_md(service.token)).token_info
    seen_roles = sorted(r.name for r in seen.roles)
    print(f"   User: {seen.user.name} (domain {seen.user.domain.name})")
    print(f"   Project: {seen.project.name}")
    print(f"   Roles: {', '.join(seen_roles) or '(none)'}")
    if args.required_role in seen_roles:
        print(f"   allowed: {seen.user.name} holds {args.required_role} on {seen.project.name}")
    else:
        print(f"   denied: {seen.user.name} does not hold {args.required_role} "
              f"on {seen.project.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="the service's gRPC address")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="mypassword123")
    parser.add_argument("--domain", default="default", help="the users' and projects' domain id")
    parser.add_argument("--domain-name", default="", help="name the domain by name instead")
    parser.add_argument("--project", default="acme", help="the project to scope to (by name)")
    parser.add_argument("--service-user", default="nova", help="the compute service's user")
    parser.add_argument("--service-password", default="novapass")
    parser.add_argument("--service-project", default="service")
    parser.add_argument("--required-role", default="compute-user",
                        help="the role the compute service asks for")
    parser.add_argument("--call-compute", action="store_true",
                        help="last step: call the demo compute service (compute_service.py) "
                             "instead of validating the token as it would")
    args = parser.parse_args(argv)
    with grpc.insecure_channel(args.address) as channel:
        try:
            run(args, rpc.IdentityStub(channel))
        except StepFailed as e:
            print(f"error: {e} (service at {args.address})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
