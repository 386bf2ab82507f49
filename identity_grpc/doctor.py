"""`identity-manage doctor`: is this host ready to serve? One line per finding.

    ok    settings          loaded (identity.toml, 2 IDENTITY_* variables)
    warn  store             schema version 6, this release's is 7: ...
    fail  token keys        no staged key (0) in var/keys: ...
    skip  tls files         not checked: ...

`ok`, `warn` (works, but look at it) or `fail` (will not work, or is unsafe), with the
reason; `skip` when a check could not run (no settings to check with) or is not wired
in yet. The exit status is 1 when any finding is `fail`.

Each check is a small function of the settings returning one `Finding` or several,
listed in `CHECKS`: adding one is one line there. A check that raises is reported as
its own `fail`, never as a traceback that hides the other checks.
"""

import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import peewee as pw

from .config import Settings, load_settings
from .credential_keys import CredentialKeys
from .store import schema
from .store.db import StoreError, describe_url, open_database, sqlite_file
from .tokens.keys import KeyRepository, KeyRepositoryError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass(frozen=True)
class Finding:
    status: str  # OK, WARN, FAIL or SKIP
    check: str  # what was checked, a few words
    reason: str

    def line(self) -> str:
        return f"{self.status:<5} {self.check:<17} {self.reason}"


Check = Callable[[Settings], "Finding | Iterable[Finding]"]


def store(settings: Settings) -> Finding:
    """Reachable, and its schema this release's (a server upgrades an older one as it
    starts, so older is a warning; newer means this release must not serve it)."""
    path = sqlite_file(settings.database_url)
    if path is not None and not os.path.exists(path):
        return Finding(FAIL, "store", f"no SQLite store at {path}: run `identity-manage setup`")
    try:
        db = open_database(settings.database_url, upgrade=False)
    except StoreError as e:
        return Finding(FAIL, "store", f"{describe_url(settings.database_url)}: {e}")
    try:
        version = schema.current_version(db)
    finally:
        db.close()
    if version > schema.LATEST:
        return Finding(FAIL, "store", f"schema version {version} is newer than this "
                       f"release's ({schema.LATEST}): run the newer release")
    if version < schema.LATEST:
        return Finding(WARN, "store", f"schema version {version}, this release's is "
                       f"{schema.LATEST}: `identity-manage db upgrade --check` lists what "
                       "a server would apply as it starts")
    return Finding(OK, "store", f"reachable, schema version {version} (current)")


def token_keys(settings: Settings) -> list[Finding]:
    try:
        indexes = KeyRepository(settings.key_dir, settings.max_active_keys).indexes()
    except KeyRepositoryError as e:
        return [Finding(FAIL, "token keys", str(e))]
    findings = [Finding(OK, "token keys", f"primary key {max(indexes)} in {settings.key_dir}")]
    if 0 not in indexes:
        findings.append(Finding(FAIL, "token keys", f"no staged key (0) in {settings.key_dir}: "
                                "the next rotation would have nothing to promote; copy the "
                                "directory from the node that rotated last"))
    return findings + _private(Path(settings.key_dir), "token keys")


def credential_keys(settings: Settings) -> list[Finding]:
    directory = Path(settings.credential_key_dir)
    try:
        CredentialKeys(directory).key_set
    except Exception as e:  # CredentialKeyError: missing, empty or unreadable
        return [Finding(FAIL, "credential keys", str(e))]
    return [Finding(OK, "credential keys", f"present in {directory}"),
            *_private(directory, "credential keys")]


def _private(directory: Path, check: str) -> list[Finding]:
    """A key directory and its files: others may read nothing (fail), the group
    nothing either (warn)."""
    findings = []
    for path in [directory, *sorted(p for p in directory.iterdir() if p.is_file())]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            findings.append(Finding(FAIL, check, f"{path} is open to others (mode {mode:04o}): "
                                    f"chmod {'0700' if path.is_dir() else '0600'} it"))
        elif mode & 0o070:
            findings.append(Finding(WARN, check, f"{path} is open to its group (mode "
                                    f"{mode:04o}): chmod {'0700' if path.is_dir() else '0600'} it"))
    return findings


CLOCK_QUERY = {"postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())",
               "mysql": "SELECT UNIX_TIMESTAMP(SYSDATE(6))"}


def clock(settings: Settings) -> Finding:
    """The database server's clock against this host's: the servers sharing a store
    should agree within `clock_skew_tolerance`, or tokens one issues look issued in
    the future to another, which refuses them."""
    tolerance = settings.clock_skew_tolerance
    if settings.database_url.startswith("sqlite"):
        return Finding(OK, "clock", "the SQLite store is on this host: one clock")
    try:
        db = open_database(settings.database_url, upgrade=False)
    except StoreError as e:
        return Finding(SKIP, "clock", f"not checked: the store cannot be reached ({e})")
    try:
        backend = "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "mysql"
        before = time.time()
        (database_time,) = db.execute_sql(CLOCK_QUERY[backend]).fetchone()
        after = time.time()
    finally:
        db.close()
    skew = float(database_time) - (before + after) / 2
    what = (f"the database server's clock is {abs(skew):.3f} s "
            f"{'ahead of' if skew > 0 else 'behind'} this host's (to within "
            f"{(after - before) / 2:.3f} s; clock_skew_tolerance {tolerance:g} s)")
    if abs(skew) > tolerance:
        return Finding(FAIL, "clock", what + ": synchronise the clocks (NTP)")
    if abs(skew) > tolerance / 2:
        return Finding(WARN, "clock", what)
    return Finding(OK, "clock", what)


def tls_files(settings: Settings) -> list[Finding]:
    """The files `tls.check_tls_files` reads at start, and plaintext beyond loopback."""
    from . import tls
    if not tls.enabled(settings):
        plain = tls.plaintext_beyond_loopback(settings)
        return [Finding(WARN, "tls files", p) for p in plain] or [
            Finding(OK, "tls files", "TLS off; plaintext on loopback only")]
    problems = tls.check_tls_files(settings)  # expiring soon: a warning, the rest fail
    return [Finding(WARN if " expires on " in p else FAIL, "tls files", p)
            for p in problems] or [
        Finding(OK, "tls files", f"{settings.tls_cert_file} and its key match"
                + (", client certificates required" if settings.tls_client_ca_file else ""))]


def demo_passwords(settings: Settings) -> Finding:
    """The demo's published passwords, checked as a server started without --demo does."""
    from .core import Core
    from .demo_passwords import demo_passwords_in_use
    try:
        core = Core(settings)
    except StoreError as e:
        return Finding(SKIP, "demo passwords", f"not checked: the store cannot be read ({e})")
    try:
        in_use = demo_passwords_in_use(core)
    finally:
        core.close()
    if in_use:
        return Finding(FAIL, "demo passwords", f"{', '.join(in_use)} still have the demo's "
                       "published passwords: change them or delete the users")
    return Finding(OK, "demo passwords", "none of the demo's published passwords opens an account")


CHECKS: list[Check] = [store, token_keys, credential_keys, clock, tls_files, demo_passwords]


def findings(settings: Settings, checks: list[Check] = CHECKS) -> list[Finding]:
    found: list[Finding] = []
    for check in checks:
        try:
            result = check(settings)
        except Exception as e:
            name = check.__name__.replace("_", " ")
            result = Finding(FAIL, name, f"the check failed: {type(e).__name__}: {e}")
        found.extend([result] if isinstance(result, Finding) else result)
    return found


def run(config: str | None) -> int:
    """Print every finding; 1 if any is `fail`, else 0."""
    try:
        settings = load_settings(config)
    except (ValueError, OSError) as e:
        print(Finding(FAIL, "settings", str(e)).line())
        for check in CHECKS:
            print(Finding(SKIP, check.__name__.replace("_", " "),
                          "not checked: the settings do not load").line())
        return 1
    env = sorted(k for k in os.environ if k.startswith("IDENTITY_") and k != "IDENTITY_CONFIG")
    sources = [config] if config else []
    if env:
        sources.append(f"{len(env)} IDENTITY_* variable{'s' if len(env) > 1 else ''}")
    found = [Finding(OK, "settings", f"loaded ({', '.join(sources) or 'defaults only'})"),
             *findings(settings)]
    for finding in found:
        print(finding.line())
    return 1 if any(f.status == FAIL for f in found) else 0
