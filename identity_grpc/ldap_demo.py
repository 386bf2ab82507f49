"""`make run LDAP=1`: the demo cloud plus a domain `Employees` whose users and groups a
real OpenLDAP directory keeps.

    python -m identity_grpc.ldap_demo [--config FILE] [--ldap-port 3890] [--data var/ldap-demo]

starts slapd (`slapd.Slapd`) on `ldap://127.0.0.1:<port>` with its data in `--data`
(made afresh each time: the directory is demo data, and the service only reads it),
runs `identity-manage setup --demo --ldap-demo <url>` (which calls `load` below), then
serves with `server.py --demo` until Ctrl-C or SIGTERM, which it passes on to the server;
slapd is stopped when the server has stopped. A slapd a killed run left behind (its
pid in `--data`) is stopped first.

The directory: `carol` / `carolpassword1` and `dave` / `davepassword1`, both in group
`staff`, which holds `member` on project `hr` of domain `Employees`.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .bootstrap import Seeder
from .core import Core
from .errors import FailedPrecondition
from .slapd import Person, Slapd, Team, domain_config, skip_reason

DOMAIN, PROJECT, ROLE, GROUP = "Employees", "hr", "member", "staff"
PEOPLE = (
    Person("carol", "carol", "carolpassword1", "carol@example.org", "HR lead"),
    Person("dave", "dave", "davepassword1", "dave@example.org"),
)
TEAMS = (Team(GROUP, GROUP, ("carol", "dave"), "every employee"),)
DEFAULT_PORT = 3890
DEFAULT_DATA = "var/ldap-demo"
SERVER = Path(__file__).resolve().parent.parent / "server.py"


def load(core: Core, url: str) -> None:
    """Domain `Employees` reading the directory at `url`, project `hr` in it, and
    `member` on `hr` for the directory's group `staff`. Idempotent: the domain's
    configuration is replaced (the port may have changed), the rest found or created.
    The directory must be serving (the group is looked up in it)."""
    seed = Seeder(core)
    employees = seed.domain(DOMAIN)
    core.domain_config.create(employees, domain_config(url))
    hr = seed.project(PROJECT, employees, description="Human resources")
    staff = core.users_and_groups.find_group(GROUP, employees)
    if staff is None:
        raise FailedPrecondition(f"the directory at {url} has no group {GROUP!r}")
    seed.grant(ROLE, "project", hr, group_id=staff.id)


def stop_leftover(data: Path) -> None:
    """SIGTERM the slapd of an earlier run over `data` that outlived it (its pidfile
    names it and its command line names `data`'s slapd.conf)."""
    try:
        pid = int((data / "slapd.pid").read_text().split()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return
    if str(data.resolve() / "slapd.conf").encode() not in command:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def serve(config: list[str], slapd: Slapd) -> int:
    """setup, then server.py until it exits; SIGINT/SIGTERM are passed on to it."""
    setup = subprocess.run([sys.executable, "-m", "identity_grpc.manage", *config,
                            "setup", "--demo", "--ldap-demo", slapd.url])
    if setup.returncode:
        return setup.returncode
    # Its own session: a Ctrl-C reaches this process only, which passes it on once.
    server = subprocess.Popen([sys.executable, str(SERVER), "--demo", *config],
                              start_new_session=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: server.send_signal(received))
    return server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ldap_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="the service's settings file (TOML)")
    parser.add_argument("--ldap-port", type=int, default=DEFAULT_PORT,
                        help="slapd's port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--data", default=DEFAULT_DATA, help="slapd's directory")
    args = parser.parse_args(argv)
    reason = skip_reason()
    if reason:
        print(f"ldap demo: slapd cannot run: {reason}", file=sys.stderr)
        return 1
    data = Path(args.data).resolve()
    stop_leftover(data)
    shutil.rmtree(data, ignore_errors=True)
    try:
        slapd = Slapd(PEOPLE, TEAMS, directory=data, port=args.ldap_port).start(new_session=True)
    except RuntimeError as e:
        print(f"ldap demo: {e}", file=sys.stderr)
        return 1
    print(f"ldap demo: slapd on {slapd.url} (pid {slapd.process.pid}, data in {data})",
          flush=True)
    try:
        return serve(["--config", args.config] if args.config else [], slapd)
    except KeyboardInterrupt:  # during setup
        return 130
    finally:
        slapd.stop()
        print("ldap demo: slapd stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
