"""Run OpenStack's own identity conformance suite (Tempest) against this service.

`make tempest` runs this. It installs the pinned Tempest into a virtualenv of its own
(`var/tempest-venv`), sets up a fresh store the way `make run` does (bootstrap admin,
catalog; no demo data), starts `server.py` on free loopback ports, renders
`tempest.conf` from `tempest.conf.template` with the settings of the reference run
against Keystone 30 (../shared/tempest: admin system-scoped, enforce_scope on, region
RegionOne), and runs `tempest.api.identity` with one worker. Then a second, short run
of the user tests with `security_compliance = true`, against a server whose lockout
and password-history settings are the ones the configuration names. Then a third,
short run of the tests that read `domain_specific_drivers` (users, groups, domain
configuration) with it true, against a server with a `domain_config_dir` (Keystone's
domain_specific_drivers_enabled: domains may have identity drivers of their own).

It fails when a test that passes on Keystone 30 (`keystone-30-results.txt`) does not
pass here, when a security-compliance test does not pass, or when a test of the
domain-drivers run fails. Results are written to the work directory (`var/tempest/`
by default): `identity-results.txt`, `security-compliance-results.txt` and
`domain-drivers-results.txt`, one `<pass|fail|skip> <test id>` per line, and
each run's Tempest log.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REFERENCE = HERE / "keystone-30-results.txt"
REQUIREMENTS = HERE / "requirements.txt"
TEMPLATE = HERE / "tempest.conf.template"
IDENTITY_TESTS = r"^tempest\.api\.identity"
COMPLIANCE_TESTS = r"^tempest\.api\.identity\.(admin\.)?v3\.test_users\."
# What the template's [identity] section asks of a compliant server.
COMPLIANCE_SETTINGS = {"lockout_failure_attempts": 2, "lockout_duration": 5,
                       "unique_last_password_count": 2, "minimum_password_age_days": 0}
# The tests whose requests change with [identity-feature-enabled] domain_specific_drivers
# (test_list_users, test_groups: a domain filter on every list) and the domain
# configuration API the drivers are configured through.
DOMAIN_DRIVER_TESTS = (r"^tempest\.api\.identity\.admin\.v3\."
                       r"(test_list_users|test_groups|test_domain_configuration)\.")
START_TIMEOUT = 60
RUN_TIMEOUT = 45 * 60

# Reads a subunit v2 stream (stdin) into "<status> <test id>" lines; run with the
# Tempest virtualenv's python, which has python-subunit and testtools.
SUBUNIT_READER = r"""
import sys, subunit, testtools
results = {}
def record(test):
    results[test["id"]] = test["status"]
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
summary = testtools.StreamToDict(record)
summary.startTestRun()
stream.run(summary)
summary.stopTestRun()
names = {"success": "pass", "skip": "skip"}
for test_id, status in sorted(results.items()):
    if test_id.startswith("setUpClass") or test_id.startswith("tearDownClass"):
        if status == "fail":
            print("fail", test_id)
        continue
    print(names.get(status, "fail"), test_id)
"""


def log(message: str) -> None:
    print(f"tempest: {message}", flush=True)


def ensure_tempest(venv: Path) -> Path:
    """The virtualenv's `tempest`, installing the pinned release when it is missing or
    the pin changed since."""
    stamp = venv / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if not (stamp.exists() and stamp.read_text() == wanted):
        log(f"installing {wanted.strip()} into {venv}")
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)],
                       check=True)
        stamp.write_text(wanted)
    return venv / "bin" / "tempest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`identity-manage setup` over a fresh SQLite store, then `server.py`, on free
    loopback ports; the admin's password is a fresh one."""

    def __init__(self, directory: Path, profile: str, **settings):
        self.directory = directory
        self.admin_password = secrets.token_urlsafe(16)
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}/v3"
        config = {
            "database_url": f"sqlite:////{(directory / 'identity.db').as_posix().lstrip('/')}",
            "key_dir": str(directory / "keys"),
            "credential_key_dir": str(directory / "credential-keys"),
            "admin_password_file": str(directory / "admin-password"),
            "listen": f"127.0.0.1:{free_port()}",
            "http_listen": f"127.0.0.1:{self.http_port}",
            "policy_profile": profile,
            **settings,
        }
        self.config = directory / "identity.toml"
        self.config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items()))
        env = {**os.environ, "IDENTITY_ADMIN_PASSWORD": self.admin_password}
        subprocess.run([sys.executable, "-m", "identity_grpc.manage", "--config",
                        str(self.config), "setup"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        self.log_path = directory / "server.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--config",
                                      str(self.config)], cwd=ROOT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        if "gRPC on" not in line:
            self.stop()
            raise SystemExit(f"tempest: the server did not start: {line!r}; "
                             f"see {self.log_path}")
        self.proc.stdout.readline()  # the gateway's line
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        import urllib.request
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


def render_conf(workspace: Path, server: Server, security_compliance: bool,
                domain_specific_drivers: bool = False) -> str:
    values = {
        "TEMPEST_WS": str(workspace), "ADMIN_USER": "admin",
        "ADMIN_PASSWORD": server.admin_password, "ADMIN_DOMAIN": "Default",
        "ADMIN_PROJECT_CONF": "", "ADMIN_SYSTEM": "all", "USE_SYSTEM_TOKEN": "true",
        "ENFORCE_SCOPE": "true", "REGION": "RegionOne", "IDENTITY_URL": server.url,
        "SECURITY_COMPLIANCE": "true" if security_compliance else "false",
        "DOMAIN_SPECIFIC_DRIVERS": "true" if domain_specific_drivers else "false",
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if "@" in "".join(line.split("#")[0] for line in text.splitlines()):
        raise SystemExit("tempest: a placeholder of the template was left unfilled")
    return text


def run_tempest(tempest: Path, workspace: Path, conf: str, regex: str) -> dict[str, str]:
    """Tempest's results by test id (pass, fail or skip)."""
    if workspace.exists():
        shutil.rmtree(workspace)
    # A workspace registry of the run's own: ~/.tempest's would refuse a name used before.
    registry = workspace.parent / "workspaces.yaml"
    registry.unlink(missing_ok=True)
    subprocess.run([str(tempest), "init", "--workspace-path", str(registry), str(workspace)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "TEMPEST_CONFIG_DIR": str(workspace / "etc")})
    (workspace / "etc" / "tempest.conf").write_text(conf)
    env = {**os.environ, "TEMPEST_CONFIG_DIR": str(workspace / "etc")}
    with open(workspace / "run.log", "w") as out:
        subprocess.run([str(tempest), "run", "--regex", regex, "--concurrency", "1"],
                       cwd=workspace, env=env, stdout=out, stderr=subprocess.STDOUT,
                       timeout=RUN_TIMEOUT)
    stestr = tempest.parent / "stestr"
    stream = subprocess.run([str(stestr), "last", "--subunit"], cwd=workspace,
                            capture_output=True, check=True).stdout
    reader = subprocess.run([str(tempest.parent / "python"), "-c", SUBUNIT_READER],
                            input=stream, capture_output=True, check=True).stdout.decode()
    results = {}
    for line in reader.splitlines():
        status, test_id = line.split(" ", 1)
        results[test_id] = status
    return results


def read_results(path: Path) -> dict[str, str]:
    return {test_id: status for status, test_id in
            (line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())}


def write_results(path: Path, results: dict[str, str]) -> None:
    path.write_text("".join(f"{status} {test_id}\n" for test_id, status in sorted(results.items())))


def counts(results: dict[str, str]) -> str:
    statuses = list(results.values())
    return ", ".join(f"{statuses.count(s)} {s}" for s in ("pass", "fail", "skip"))


def one_run(tempest: Path, work: Path, name: str, profile: str, regex: str,
            security_compliance: bool, settings: dict,
            domain_specific_drivers: bool = False) -> dict[str, str]:
    directory = Path(tempfile.mkdtemp(prefix=f"identity-{name}-", dir=work))
    if domain_specific_drivers:
        (directory / "domains").mkdir()
        settings = {"domain_config_dir": str(directory / "domains"), **settings}
    server = Server(directory, profile, **settings)
    try:
        log(f"{name}: {server.url} (policy profile {profile}), tests {regex}")
        conf = render_conf(work / f"{name}-workspace", server, security_compliance,
                           domain_specific_drivers)
        results = run_tempest(tempest, work / f"{name}-workspace", conf, regex)
    finally:
        server.stop()
        shutil.copy(server.log_path, work / f"{name}-server.log")
        shutil.rmtree(directory, ignore_errors=True)
    write_results(work / f"{name}-results.txt", results)
    log(f"{name}: {counts(results)} (results in {work / f'{name}-results.txt'})")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(ROOT / "var" / "tempest"),
                        help="where results, logs and the workspaces go")
    parser.add_argument("--venv", default=str(ROOT / "var" / "tempest-venv"))
    parser.add_argument("--profile", default="keystone", choices=("keystone", "scoped"),
                        help="the server's policy_profile")
    parser.add_argument("--regex", default=IDENTITY_TESTS, help="which tests (main run)")
    parser.add_argument("--no-compliance", action="store_true",
                        help="skip the security-compliance run")
    parser.add_argument("--no-domain-drivers", action="store_true",
                        help="skip the run with domain_specific_drivers = true")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tempest = ensure_tempest(Path(args.venv))

    ours = one_run(tempest, work, "identity", args.profile, args.regex, False, {})
    reference = read_results(REFERENCE)
    missing = sorted(t for t, s in reference.items() if s == "pass" and ours.get(t) != "pass"
                     and (args.regex == IDENTITY_TESTS or t in ours))
    log(f"Keystone 30 with the same configuration: {counts(reference)}")
    for test_id in missing:
        log(f"passes on Keystone 30, not here ({ours.get(test_id, 'not run')}): {test_id}")
    failed = bool(missing)

    if not args.no_compliance:
        compliance = one_run(tempest, work, "security-compliance", args.profile,
                             COMPLIANCE_TESTS, True, COMPLIANCE_SETTINGS)
        wanted = sorted(t for t, s in reference.items() if s == "skip")
        for test_id in wanted:
            if compliance.get(test_id) != "pass":
                log(f"security compliance test not passing "
                    f"({compliance.get(test_id, 'not run')}): {test_id}")
                failed = True
        broken = sorted(t for t, s in compliance.items() if s == "fail")
        for test_id in broken:
            log(f"fails with security compliance on: {test_id}")
        failed = failed or bool(broken)

    if not args.no_domain_drivers:
        drivers = one_run(tempest, work, "domain-drivers", args.profile,
                          DOMAIN_DRIVER_TESTS, False, {}, domain_specific_drivers=True)
        expected = {t for t, s in reference.items()
                    if s == "pass" and re.match(DOMAIN_DRIVER_TESTS, t)}
        for test_id in sorted(expected | {t for t, s in drivers.items() if s == "fail"}):
            if drivers.get(test_id) != "pass":
                log(f"not passing with domain_specific_drivers on "
                    f"({drivers.get(test_id, 'not run')}): {test_id}")
                failed = True
    log("FAILED" if failed else "passed: every test that passes on Keystone 30 passes here")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
