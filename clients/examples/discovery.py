#!/usr/bin/env python3
"""Discovery: the client knows only the compute service's address.

1. it asks the compute service for its servers, without a token: 401;
2. the 401's `WWW-Authenticate: Keystone uri="..."` says where to authenticate;
3. it authenticates there, over the identity service's Keystone-v3 HTTP API
   (POST /v3/auth/tokens, password and project scope; the token comes back in
   X-Subject-Token);
4. it retries with the token in X-Auth-Token, and prints the servers.

Only the standard library is used (urllib): a client that knows nothing of gRPC.
Any failure ends the script with one line on stderr and exit status 1.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request

TIMEOUT = 10.0  # seconds per request
CHALLENGE = re.compile(r'Keystone\s+uri\s*=\s*"([^"]+)"', re.IGNORECASE)


class StepFailed(Exception):
    pass


def request(method: str, url: str, body: dict | None = None,
            headers: dict[str, str] | None = None):
    """(status, headers, parsed JSON body or None); HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, answer_headers, raw = e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise StepFailed(f"{method} {url}: {getattr(e, 'reason', e)}") from None
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, answer_headers, parsed


def v3(uri: str) -> str:
    """The v3 API's root under the advertised identity URI (given with or without /v3)."""
    uri = uri.rstrip("/")
    return uri if uri.endswith("/v3") else uri + "/v3"


def print_servers(servers: list[dict]) -> None:
    print(f"   {len(servers)} server(s):")
    for s in servers:
        print(f"   - {s.get('name')} (project {s.get('project_name') or s.get('project_id')}, "
              f"{s.get('status', '?')})")


def run(args) -> None:
    servers_url = args.compute_url.rstrip("/") + "/servers"

    print(f"1. Asking the compute service for its servers, without a token: GET {servers_url}")
    status, headers, _ = request("GET", servers_url)
    if status != 401:
        raise StepFailed(f"expected 401 without a token, got {status}")
    challenge = headers.get("WWW-Authenticate", "")
    print(f"   {status} Unauthorized; WWW-Authenticate: {challenge}")
    match = CHALLENGE.search(challenge)
    if not match:
        raise StepFailed("the 401 does not say where to authenticate (no Keystone uri)")
    identity = match.group(1)
    print(f"2. The compute service says to authenticate at {identity}")

    tokens_url = v3(identity) + "/auth/tokens"
    print(f"3. Authenticating as {args.user} with a password, scoped to project "
          f"{args.project}: POST {tokens_url}")
    domain = {"name": args.domain_name} if args.domain_name else {"id": args.domain}
    status, headers, body = request("POST", tokens_url, {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": args.user, "domain": domain, "password": args.password}}},
        "scope": {"project": {"name": args.project, "domain": domain}}}})
    token = headers.get("X-Subject-Token")
    if status != 201 or not token:
        message = ((body or {}).get("error") or {}).get("message", "") if isinstance(body, dict) else ""
        raise StepFailed(f"authentication failed: {status} {message}".rstrip())
    info = (body or {}).get("token", {})
    roles = sorted(r.get("name", "") for r in info.get("roles", []))
    print(f"   201 Created; got a token ({len(token)} characters) scoped to project "
          f"{info.get('project', {}).get('name', '?')} with roles: {', '.join(roles) or '(none)'}")

    print(f"4. Retrying with the token in X-Auth-Token: GET {servers_url}")
    status, _, body = request("GET", servers_url, headers={"X-Auth-Token": token})
    if status != 200 or not isinstance(body, dict):
        message = ((body or {}).get("error") or {}).get("message", "") if isinstance(body, dict) else ""
        raise StepFailed(f"the compute service answered {status} {message}".rstrip())
    print(f"   {status} OK")
    print_servers(body.get("servers", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compute-url", default="http://127.0.0.1:8774/v2.1",
                        help="the only address the client knows")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="mypassword123")
    parser.add_argument("--domain", default="default", help="the user's and project's domain id")
    parser.add_argument("--domain-name", default="", help="name the domain by name instead")
    parser.add_argument("--project", default="acme", help="the project to scope to (by name)")
    args = parser.parse_args(argv)
    try:
        run(args)
    except StepFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
