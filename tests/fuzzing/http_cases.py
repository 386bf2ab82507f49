"""Gateway cases: every route of every module in `ROUTE_MODULES`, read from the route
tables, with path parameters, query strings, headers and bodies drawn.

Path parameters get real ids (of the kind the path names), junk, overlong and
percent-encoded garbage. Bodies are mutations of valid ones: Keystone's recorded
requests (`shared/keystone-samples`) and every body literal in the gateway tests,
found by reading their source, so that a body added to a test is fuzzed too.
Mutations: wrong types, huge strings, NUL, lone surrogates, number text no parser
holds, deep nesting, invalid UTF-8, truncation, random bytes.
"""

import ast
import http.client
import inspect
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from hypothesis import strategies as st

from identity_grpc.config import Settings
from identity_grpc.gateway.server import ROUTE_MODULES

import support

from .cases import Case, Outcome, secrets_in
from .values import (HOSTILE_TEXT, HUGE_TEXT, JSON_VALUES, RAW_NUMBERS, SHORT_TEXT, SURROGATES,
                     chance, pick)
from .world import World, kind_of_field

TESTS = Path(__file__).resolve().parent.parent
PLACEHOLDER = "\x00fuzz-placeholder\x00"
PERCENT_GARBAGE = ["%", "%z", "%zz", "%00", "%ff", "%C0%AF", "%ED%A0%80", "%2F", "%2e%2e", "..",
                   "%u2215", "a%00b", "%25", "%F0%9F%98", "%0d%0a", "?", "#", ";x=1", "%20"]
GENERIC_QUERY = ["name", "enabled", "domain_id", "parent_id", "limit", "marker", "page_size",
                 "page_token", "nocatalog", "allow_expired", "type", "interface", "service_id",
                 "region_id", "parent_region_id", "effective", "include_names", "include_subtree",
                 "user.id", "group.id", "role.id", "scope.project.id", "scope.domain.id",
                 "scope.system", "scope.OS-INHERIT:inherited_to", "is_domain"]
OTHER_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FUZZ"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain",
                 "application/x-www-form-urlencoded", "application/json; charset=latin-1", ";;"]
DEPTHS = [64, 999, 5_000, 100_000]
RAW_QUERIES = ["%", "&&&", "=", "a=%zz", "a=1&a=2", "%00=%00", "x" * 5000, "a[]=1", "a=%ED%A0%80",
               "=&=&"]
ACCEPTS = ["application/json"] * 4 + ["application/json-home", "*/*", "text/html", ";q=x"]
QUERY_VALUES = st.one_of(st.sampled_from(["", "true", "false", "0", "1", "yes"]), SHORT_TEXT)
NEW_VALUES = st.one_of(JSON_VALUES, HOSTILE_TEXT, HUGE_TEXT, st.sampled_from(SURROGATES))
NEW_KEYS = st.one_of(SHORT_TEXT, st.sampled_from(
    ["password", "email", "description", "enabled", "domain_id", "extra", "options", "id", "name"]))


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    handler: str
    args: tuple[tuple[str, str | None], ...]  # (parameter, kind of entity it names)
    query_names: tuple[str, ...]
    entity: str                               # the body key its bodies use: "user", "auth"


def gateway_routes() -> list[Route]:
    routes = []
    for module in ROUTE_MODULES:
        names = _query_names(inspect.getsource(module))
        for method, rule, handler in module.ROUTES:
            args = tuple((name, _path_kind(rule, name))
                         for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule))
            first = rule.split("/")[2] if rule.count("/") >= 2 else ""
            routes.append(Route(method, rule, handler.__name__, args, names,
                                first[:-1] if first.endswith("s") else first))
    return routes


def _query_names(source: str) -> tuple[str, ...]:
    found = re.findall(r'(?:query_text|query_flag)\(request, "([^"{}]+)"\)', source)
    found += re.findall(r'"([^"{}]+)"\s+(?:not\s+)?in\s+(?:request\.)?args', source)
    found += re.findall(r'args\.get\("([^"{}]+)"', source)
    return tuple(dict.fromkeys(found + GENERIC_QUERY))


def _path_kind(rule: str, name: str) -> str | None:
    """`projects/<target_id>` names a project: the segment before a parameter says
    its kind, else the parameter's own name does."""
    before = rule.split(f"<{name}>")[0].rstrip("/").rsplit("/", 1)[-1]
    return kind_of_field(before[:-1] + "_id", None) or kind_of_field(name, None)


# ---- valid bodies to start from --------------------------------------------------------

def body_templates() -> list[dict]:
    """Request bodies of Keystone's samples and every `{"entity": {...}}` literal in
    the gateway tests (anything not a literal in them becomes a placeholder id)."""
    templates = [s["request"]["body"] for s in _samples() if isinstance(s["request"]["body"], dict)]
    for path in sorted(TESTS.glob("test_gateway_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                value = _literal(node)
                if (isinstance(value, dict) and len(value) == 1
                        and isinstance(next(iter(value.values())), dict)):
                    templates.append(value)
    unique = {json.dumps(t, sort_keys=True): t for t in templates}
    return [unique[k] for k in sorted(unique)]


def _samples() -> list[dict]:
    path = support.SAMPLES_DIR / "samples.json"
    return json.loads(path.read_text())["samples"] if path.exists() else []


def _literal(node):
    if isinstance(node, ast.Dict):
        keys = [_literal(k) if k is not None else None for k in node.keys]
        if not all(isinstance(k, str) for k in keys):
            return PLACEHOLDER
        return {k: _literal(v) for k, v in zip(keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(v) for v in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    return PLACEHOLDER


# ---- drawing a request --------------------------------------------------------------------

def draw_case(data, world: World, route: Route, templates: list[dict], index: int) -> Case:
    method = route.method if pick(data, range(0, 20)) else pick(data, OTHER_METHODS)
    destructive = world.is_destructive(route.handler)
    path = route.rule
    for name, kind in route.args:
        path = path.replace(f"<{name}>", _path_value(data, world, kind, destructive), 1)
    if pick(data, range(0, 10)) == 0:
        path = pick(data, [path + "/", path + "//", path + "/%00", "/v3/fuzz" + path])
    query = _query(data, route)
    target = path + (f"?{query}" if query else "")
    headers, label = _headers(data, world, route, destructive)
    body, shown, secrets = b"", "", ()
    if method in ("POST", "PUT", "PATCH") or pick(data, range(0, 10)) == 0:
        body, shown, secrets = _body(data, world, route, templates, destructive)
        content_type = pick(data, CONTENT_TYPES[:1] * 6 + CONTENT_TYPES + [None])
        if content_type:
            headers.append(("Content-Type", content_type))
    return Case(index=index, transport="http", method=method, route=f"{route.method} {route.rule}",
                target=target, token_label=label, headers=tuple(headers), body=body,
                shown=shown, secrets=secrets, handler=route.handler)


def _path_value(data, world: World, kind: str | None, destructive: bool) -> str:
    choice = pick(data, range(0, 9))
    if choice <= 5:
        ids = world.ids.get(kind, []) if kind else world.all_ids()
        value = pick(data, ids, "none")
        return quote(world.spare(value, kind) if destructive else value, safe="")
    if choice == 6:
        return pick(data, PERCENT_GARBAGE)
    return quote(data.draw(SHORT_TEXT), safe="") or "x"


def _query(data, route: Route) -> str:
    shape = pick(data, range(0, 6))
    if shape <= 2:
        return ""
    if shape == 5:
        return pick(data, RAW_QUERIES)
    pairs = []
    for _ in range(pick(data, range(1, 4))):
        name = pick(data, route.query_names)
        value = data.draw(QUERY_VALUES)
        pairs.append(f"{quote(name, safe='.:')}={quote(value, safe='')}")
    return "&".join(pairs)


def _headers(data, world: World, route: Route, destructive: bool) -> tuple[list, str]:
    headers = [("Accept", pick(data, ACCEPTS))]
    label = world.draw_caller(data, ["missing"])
    if label != "missing":
        headers.append(("X-Auth-Token", world.tokens[label]))
    if "auth/tokens" in route.rule or pick(data, range(0, 10)) == 0:
        subject = pick(data, list(world.tokens.values()) + world.disposable_tokens + ["\xe9t\xe9", " "])
        if subject:
            headers.append(("X-Subject-Token", world.spare(subject, None) if destructive else subject))
    return headers, label


def _body(data, world: World, route: Route, templates: list[dict], destructive: bool):
    shape = pick(data, range(0, 20))
    if shape == 0:
        raw = data.draw(st.binary(max_size=64))
        return raw, repr(raw), ()
    fitting = [t for t in templates if route.entity in t] or templates
    body = json.loads(json.dumps(pick(data, fitting if shape > 3 else templates)))
    body = _fill(data, world, body, None, destructive)
    raws: list[str] = []
    for _ in range(pick(data, range(0, 4))):
        body = _mutate(data, body, raws)
    text = json.dumps(body, ensure_ascii=chance(data, 0.5))
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(_raw_marker(i)), raw, 1)
    wire = text.encode("utf-8", "surrogatepass")
    wire = _mutate_bytes(data, wire)
    return wire, text if len(text) < 2000 else f"{text[:2000]}...", secrets_in(_pairs(body))


def _fill(data, world: World, value, key: str | None, destructive: bool):
    """Placeholders and ids in a template become real ids of the kind their key
    names (or, in calls that destroy, unprotected ones); token ids become tokens."""
    if isinstance(value, dict):
        kind_key = key if key and key not in ("id", "identity", "auth") else None
        return {k: _fill(data, world, v, k if k != "id" else (kind_key or "id"), destructive)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(data, world, v, key, destructive) for v in value]
    if not isinstance(value, str) or not key:
        return value
    if key == "token" or (key.endswith("id") and value.startswith("gAAAA")):
        return pick(data, list(world.tokens.values()) + world.disposable_tokens)
    kind = kind_of_field(key if key.endswith("id") else key + "_id", None)
    if value == PLACEHOLDER or (kind and chance(data, 0.5)):
        ids = world.ids.get(kind, []) if kind else world.all_ids()
        chosen = pick(data, ids, "none")
        return world.spare(chosen, kind) if destructive else chosen
    return value


def _raw_marker(i: int) -> str:
    return f"\x00raw-json-{i}\x00"


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _mutate(data, body, raws: list[str]):
    paths = list(_paths(body))
    path = pick(data, paths)
    op = pick(data, ["set", "set", "set", "add", "delete", "raw", "deep"])
    if op == "raw":
        raws.append(pick(data, RAW_NUMBERS))
        new = _raw_marker(len(raws) - 1)
    elif op == "deep":
        depth = pick(data, DEPTHS)
        raws.append("[" * depth + "]" * depth if chance(data, 0.5)
                    else '{"a":' * depth + "1" + "}" * depth)
        new = _raw_marker(len(raws) - 1)
    else:
        new = data.draw(NEW_VALUES)
    if not path:
        return new if op in ("set", "raw", "deep") else body
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "add" and isinstance(parent, dict):
        parent[data.draw(NEW_KEYS)] = new
    else:
        parent[last] = new
    return body


def _mutate_bytes(data, wire: bytes) -> bytes:
    shape = pick(data, range(0, 12))
    if shape == 0 and wire:
        return wire[: pick(data, range(0, len(wire)))]
    if shape == 1:
        at = pick(data, range(0, len(wire) + 1))
        junk = pick(data, [b"\xff", b"\xc0\x80", b"\x00", b"\xed\xa0\x80", b"\x80"])
        return wire[:at] + junk + wire[at:]
    if shape == 2:
        return b""
    return wire


def _pairs(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _pairs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _pairs(v)


# ---- sending it -----------------------------------------------------------------------

# The gateway's default `max_request_body_size` (the fixtures keep the default).
MAX_REQUEST_BODY_SIZE = Settings().max_request_body_size


class HttpClient:
    """One kept-alive connection to the gateway, opened again after any failure."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._conn: http.client.HTTPConnection | None = None

    def send(self, world: World, case: Case) -> Outcome:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn = self._conn
        try:
            conn.putrequest(case.method, case.target, skip_accept_encoding=True)
            for name, value in case.headers:
                conn.putheader(name, value.encode("latin-1"))
            if case.body or case.method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(case.body)))
            conn.endheaders(case.body or None)
            response = conn.getresponse()
            raw = response.read()
        except http.client.InvalidURL:
            raise  # the fuzzer drew a target no client could send: its own bug
        except (TimeoutError, socket.timeout) as e:
            self.close()
            return Outcome("TIMEOUT", str(e))
        except (BrokenPipeError, ConnectionResetError) as e:
            if len(case.body or b"") <= MAX_REQUEST_BODY_SIZE:
                self.close()
                return Outcome(f"DROPPED: {type(e).__name__}", str(e))
            # The gateway refuses an oversized body from its Content-Length and closes
            # the connection without reading it: the client may still be sending.
            outcome = self._refusal_of_oversized_body(conn)
            self.close()
            return outcome
        except (http.client.HTTPException, OSError) as e:
            self.close()
            return Outcome(f"DROPPED: {type(e).__name__}", str(e))
        if response.getheader("Connection", "").lower() == "close" or response.will_close:
            self.close()
        text = raw[:2000].decode("utf-8", "replace")
        if response.status < 300 and response.getheader("Content-Type", "").startswith("application/json"):
            try:
                world.harvest_json(json.loads(raw))
            except ValueError:
                pass
        subject = response.getheader("X-Subject-Token")
        if response.status == 201 and subject:
            world.disposable_tokens.append(subject)
        return Outcome(f"HTTP {response.status}", text)

    @staticmethod
    def _refusal_of_oversized_body(conn: http.client.HTTPConnection) -> Outcome:
        """The 413 the gateway sent before closing, when it is still there to read."""
        try:
            response = conn.getresponse()
            return Outcome(f"HTTP {response.status}", response.read()[:2000].decode("utf-8", "replace"))
        except (http.client.HTTPException, OSError):
            return Outcome("HTTP 413", "the connection was closed while the oversized body "
                                       "was being sent (refused from its Content-Length)")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
