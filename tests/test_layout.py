"""The layering the code promises (docs/layout.md): transports translate, the core decides.

No module under `identity_grpc/transport/` or `identity_grpc/gateway/` imports a
manager module, the store (its models, paging, conflicts) or `peewee`, and none reaches
a manager through a `Core` (`ctx.core.users_and_groups`, `core.tokens`...): they call operations
(`identity_grpc/operations/`) and read records (`identity_grpc/records.py`). Checked on
the source, with `ast`, so a new module cannot slip past.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "identity_grpc"
TRANSPORTS = ("transport", "gateway")
# Modules of the core that hold a manager (or the store's own machinery).
MANAGER_MODULES = {"users_and_groups", "resources", "project_tags", "domain_config", "policies",
                   "limits", "assignments", "catalog", "api_keys",
                   "oauth1", "oauth1_signatures",
                   "credentials", "credential_blobs", "credential_keys", "ec2_signatures", "scopes", "tokens", "consumers", "change_feed", "assignment_pages", "passwords", "quotas",
                   "login_throttle", "revocation_limits", "cache", "bootstrap", "generate",
                   "synthetic", "endpoint_filter", "trusts", "demo", "demo_passwords"}
FORBIDDEN_PACKAGES = {"store", "peewee", "playhouse"}
# What a transport may read from a Core: its settings, and letting go of a broken
# store connection. Everything else on a Core is a manager or the store.
CORE_ALLOWED = {"settings", "drop_connection"}


def _transport_modules() -> list[Path]:
    return sorted(p for d in TRANSPORTS for p in (PACKAGE / d).rglob("*.py"))


def _imported(path: Path, tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module inside or outside identity_grpc) of every import."""
    package = ["identity_grpc", *path.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, module))
            # `from .. import identity` imports a module by name
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(PACKAGE.parent)
    problems = []
    for line, module in _imported(path, tree):
        parts = module.split(".")
        if parts[0] in FORBIDDEN_PACKAGES:
            problems.append(f"{where}:{line} imports {module}")
        elif parts[0] == "identity_grpc" and len(parts) > 1 and (
                parts[1] in FORBIDDEN_PACKAGES or parts[1] in MANAGER_MODULES):
            problems.append(f"{where}:{line} imports {module}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr not in CORE_ALLOWED
                and _is_core(node.value)):
            problems.append(f"{where}:{node.lineno} reaches core.{node.attr}")
    return problems


def _is_core(node: ast.AST) -> bool:
    """`core`, `self.core`, `ctx.core`, `self.context.core`..."""
    return (isinstance(node, ast.Name) and node.id == "core") or (
        isinstance(node, ast.Attribute) and node.attr == "core")


def test_the_rule_sees_what_it_forbids():
    """The checker itself: each kind of breach is caught."""
    source = ("import peewee\nfrom ..store.models import User\nfrom .. import users_and_groups\n"
              "from ..scopes import Scopes\nx = ctx.core.resources\ny = core.tokens\n"
              "z = core.settings\n")
    path = PACKAGE / "gateway" / "example.py"
    tree = ast.parse(source)
    imports = [m for _, m in _imported(path, tree)]
    assert "peewee" in imports and "identity_grpc.store.models" in imports
    assert "identity_grpc.users_and_groups" in imports and "identity_grpc.scopes" in imports
    reached = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and _is_core(n.value)]
    assert reached == ["resources", "tokens", "settings"]


def test_transports_reach_the_core_only_through_operations():
    modules = _transport_modules()
    assert len(modules) > 10
    problems = [p for path in modules for p in _violations(path)]
    assert not problems, "\n".join(problems)


# What code outside the store may take from its models: constants and helpers, never
# a table. (`generate.py`, the bulk loader, binds the tables of the store it opened.)
MODEL_CONSTANTS = {"DEFAULT_DOMAIN_ID", "SYSTEM_TARGET", "new_id", "now_seconds", "is_sqlite"}
BULK_LOADERS = {"generate.py"}


def _table_uses(path: Path, tree: ast.AST) -> list[str]:
    where = path.relative_to(PACKAGE)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("store.models"):
            taken = {alias.name for alias in node.names} - MODEL_CONSTANTS
            if taken and path.name not in BULK_LOADERS:
                problems.append(f"{where}:{node.lineno} imports {sorted(taken)} from the models")
        if (isinstance(node, ast.Attribute) and node.attr in ("tables", "t")
                and path.name not in BULK_LOADERS):
            problems.append(f"{where}:{node.lineno} reaches a store's tables (.{node.attr})")
    return problems


def test_only_the_store_touches_tables():
    """Managers, operations and transports reach data through the concept stores'
    methods (`identity_grpc/store/<concept>.py`), never a table: what a backend must
    do is then all in the store, where the conformance suite checks it."""
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if "store" not in p.relative_to(PACKAGE).parts]
    assert len(modules) > 40
    problems = [p for path in modules for p in _table_uses(path, ast.parse(path.read_text()))]
    assert not problems, "\n".join(problems)


def test_the_table_rule_sees_what_it_forbids():
    tree = ast.parse("from ..store.models import User, new_id\nx = self._store.t.User\n"
                     "y = core.store.tables.Project\n")
    problems = _table_uses(PACKAGE / "scopes.py", tree)
    assert len(problems) == 3 and "['User']" in problems[0]
