"""An LDAP user against an SQL user, side by side in one run: password authentication
and a domain's user list through the HTTP gateway.

Starts a real slapd (tests/ldap_server.py) holding `--users` users and a real
`server.py` over a fresh SQLite store, makes a SQL domain with as many users and an
LDAP domain on the directory, then times, interleaved so both see the same machine,
`POST /v3/auth/tokens` (password, by name and domain) and
`GET /v3/users?domain_id=...` for each. Prints medians and the LDAP/SQL ratios, and
writes them as JSON to bench/ldap-latest.json.

    .venv/bin/python bench/ldap_vs_sql.py [--users 50] [--rounds 30]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from ldap_server import Person, Slapd, skip_reason  # noqa: E402
from support import clean_env  # noqa: E402


def request(url: str, method: str = "GET", token: str | None = None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as response:
        return response.headers, json.loads(response.read() or b"null")


def password_auth(name: str, domain: str, password: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"name": domain}, "password": password}}}}}


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        print(f"ldap_vs_sql: cannot run: {reason}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="ldap-bench-"))
    people = [Person(f"e{i:04}", f"employee{i:04}", "employee-secret") for i in range(args.users)]
    directory = Slapd(users=people).start()
    admin_password = "bench-admin-password"
    env = clean_env(IDENTITY_DATABASE_URL=f"sqlite:///{work}/identity.db",
                    IDENTITY_KEY_DIR=str(work / "keys"),
                    IDENTITY_CREDENTIAL_KEY_DIR=str(work / "credential-keys"),
                    IDENTITY_LISTEN="127.0.0.1:0", IDENTITY_HTTP_LISTEN="127.0.0.1:0",
                    IDENTITY_ADMIN_PASSWORD=admin_password)
    subprocess.run([sys.executable, "-m", "identity_grpc.manage", "setup"], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([sys.executable, str(ROOT / "server.py")], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()
        base = f"http://127.0.0.1:{int(server.stdout.readline().rsplit(':', 1)[1])}"
        headers, _ = request(base + "/v3/auth/tokens", "POST", body={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": admin_password}}},
            "scope": {"system": {"all": True}}}})
        token = headers["X-Subject-Token"]
        sql = request(base + "/v3/domains", "POST", token,
                      {"domain": {"name": "Services"}})[1]["domain"]["id"]
        for person in people:
            request(base + "/v3/users", "POST", token, {"user": {
                "name": person.name, "domain_id": sql, "password": "employee-secret"}})
        ldap_domain = request(base + "/v3/domains", "POST", token,
                              {"domain": {"name": "Employees"}})[1]["domain"]["id"]
        request(base + f"/v3/domains/{ldap_domain}/config", "PUT", token,
                {"config": directory.config()})
        cases = {
            "authenticate": {
                "sql": lambda: request(base + "/v3/auth/tokens", "POST",
                                       body=password_auth("employee0001", "Services",
                                                          "employee-secret")),
                "ldap": lambda: request(base + "/v3/auth/tokens", "POST",
                                        body=password_auth("employee0001", "Employees",
                                                           "employee-secret"))},
            "list_users": {
                "sql": lambda: request(base + f"/v3/users?domain_id={sql}", token=token),
                "ldap": lambda: request(base + f"/v3/users?domain_id={ldap_domain}", token=token)},
        }
        results = {}
        for name, sides in cases.items():
            for side in sides.values():
                side()  # warm: connections, caches
            times = {"sql": [], "ldap": []}
            for _ in range(args.rounds):
                for side, fn in sides.items():
                    times[side].append(timed(fn))
            medians = {side: statistics.median(t) for side, t in times.items()}
            results[name] = {**{f"{s}_median_ms": round(m, 2) for s, m in medians.items()},
                             "ldap_over_sql": round(medians["ldap"] / medians["sql"], 2)}
            print(f"{name:13} SQL {medians['sql']:7.2f} ms   LDAP {medians['ldap']:7.2f} ms   "
                  f"LDAP/SQL {results[name]['ldap_over_sql']:.2f}")
        results["users_per_domain"] = args.users
        results["rounds"] = args.rounds
        (ROOT / "bench" / "ldap-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        server.terminate()
        server.wait(timeout=30)
        directory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
