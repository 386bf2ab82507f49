"""The policy rule language of OpenStack's policy engine (oslo.policy), standalone.

Standalone because two parties must agree on it: the identity service checks every
management call against these rules, and services that consume identity tokens check
their own calls against the same credentials. So this module imports nothing from the
service.

Rules are parsed once, at load, into a tree of small check objects; evaluating one is
attribute access and dict lookups. Every mistake an operator can make in a policy file
(syntax, a typo in a `rule:` reference, a cycle, a check on something the credentials
never hold) is refused at load with the file and line, because a bad rule found only at
call time means calls wrongly denied, or allowed. The check kinds are described in the
service's docs/policy-language.md.
"""

import json
import os
import re
from collections.abc import Mapping

import yaml

__all__ = ["PolicySyntaxError", "PolicyFileError", "Check", "parse_rule", "Enforcer",
           "CONTEXT_CREDENTIALS", "DEFAULT_RULE"]

_MISSING = object()

# What `identity_client.authz.credentials` gives rules in a consuming service: the
# credentials oslo.context gives them in OpenStack services. A check on a key outside
# an Enforcer's credentials could never hold, so the Enforcer refuses it at load.
CONTEXT_CREDENTIALS = frozenset({
    "user_id", "user", "user_domain_id", "user_name",
    "project_id", "tenant", "tenant_id", "project_name", "project_domain_id",
    "domain_id", "domain_name", "system_scope", "roles",
    "service_user_id", "service_user_domain_id", "service_project_id",
    "service_project_domain_id", "service_roles",
    "is_admin", "is_admin_project",
})
# oslo.policy's `policy_default_rule`: the rule that decides names no rule defines.
DEFAULT_RULE = "default"


class PolicySyntaxError(ValueError):
    """A rule that does not parse, or a rule set naming unknown rules or looping."""


class PolicyFileError(ValueError):
    """A policy file that cannot be used: `path:line: rule 'name': problem`."""

    def __init__(self, path, line, problem, rule=None):
        self.path, self.line, self.rule, self.problem = str(path), line, rule, problem
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: rule {rule!r}: {problem}" if rule is not None else f"{where}: {problem}")


def _target_get(target, key, path):
    """A flat key first (Keystone flattens targets: "target.user.domain_id"), then nested dicts.
    None counts as missing: an absent project_id must not equal another absent one."""
    value = target.get(key, _MISSING) if isinstance(target, Mapping) else _MISSING
    if value is _MISSING and len(path) > 1:
        value = target
        for seg in path:
            value = value.get(seg, _MISSING) if isinstance(value, Mapping) else _MISSING
    return _MISSING if value is None else value


class _Value:
    """One side of a check: a constant, or text whose %(path)s parts come from the target."""
    __slots__ = ("text", "const", "parts")

    def __init__(self, text, const=_MISSING, parts=()):
        self.text, self.const, self.parts = text, const, parts  # parts: str or (key, path)

    def resolve(self, target):
        if self.const is not _MISSING:
            return self.const
        if len(self.parts) == 1:  # a lone substitution keeps the target's type (bools)
            return _target_get(target, *self.parts[0])
        out = []
        for part in self.parts:
            value = part if part.__class__ is str else _target_get(target, *part)
            if value is _MISSING:
                return _MISSING
            out.append(str(value))
        return "".join(out)


def _as_bool(value):
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value.lower()) if isinstance(value, str) else None


def _equal(expected, actual):
    """String equality after str(), as oslo does; a bool on either side compares as a bool,
    so `is_admin:True` holds for True and "true" alike. None never matches."""
    if actual is None or expected is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return _as_bool(actual) is not None and _as_bool(actual) is _as_bool(expected)
    return str(expected) == str(actual)


def _creds_match(obj, path, i, expected):
    """Walk `path` down the credentials; a list on the way matches if any element does (oslo)."""
    while not isinstance(obj, (list, tuple)):
        if i == len(path):
            return _equal(expected, obj)
        obj = obj.get(path[i], _MISSING) if isinstance(obj, Mapping) else _MISSING
        if obj is _MISSING:
            return False
        i += 1
    return any(_creds_match(o, path, i, expected) for o in obj)


class Check:
    """A parsed rule: `check(target, creds, enforcer)` -> bool; `str(check)` renders it back."""
    __slots__ = ()

    def __init__(self, *args):
        for name, arg in zip(self.__slots__, args):
            setattr(self, name, arg)

    def __repr__(self):
        return f"<{type(self).__name__} {self}>"


class ConstCheck(Check):
    """`@` (always) or `!` (never)."""
    __slots__ = ("result",)
    __call__ = lambda self, target, creds, enforcer=None: self.result  # noqa: E731
    __str__ = lambda self: "@" if self.result else "!"  # noqa: E731


ALWAYS, NEVER = ConstCheck(True), ConstCheck(False)


class RuleCheck(Check):
    """`rule:NAME`; an unknown name is False (an Enforcer refuses one at load anyway)."""
    __slots__ = ("name",)

    def __call__(self, target, creds, enforcer=None):
        rule = enforcer.rules.get(self.name) if enforcer is not None else None
        return rule is not None and rule(target, creds, enforcer)

    def __str__(self):
        return f"rule:{self.name}"


class RoleCheck(Check):
    """`role:NAME`: the credentials' `roles` (names, or dicts with a name) hold NAME, any case."""
    __slots__ = ("value",)
    KIND, CREDENTIAL = "role", "roles"

    def __init__(self, value):
        self.value = value

    def __call__(self, target, creds, enforcer=None):
        want, roles = self.value.resolve(target), creds.get(self.CREDENTIAL)
        if want is _MISSING or not roles:
            return False
        want = str(want).lower()
        for role in (roles,) if isinstance(roles, str) else roles:
            name = role.get("name") if isinstance(role, Mapping) else role
            if name is not None and str(name).lower() == want:
                return True
        return False

    def __str__(self):
        return f"{self.KIND}:{self.value.text}"


class ServiceRoleCheck(RoleCheck):
    """`service_role:NAME`: the roles of the service token beside the user's (credentials
    `service_roles`, keystonemiddleware's X-Service-Roles) hold NAME, any case."""
    __slots__ = ()
    KIND, CREDENTIAL = "service_role", "service_roles"


class GenericCheck(Check):
    """`KEY:VALUE`: the credentials' KEY (dotted: nested dicts) equals VALUE."""
    __slots__ = ("key", "value", "path")

    def __call__(self, target, creds, enforcer=None):
        expected = self.value.resolve(target)
        if expected is _MISSING:
            return False
        actual = creds.get(self.key, _MISSING)
        if actual is not _MISSING:
            return _creds_match(actual, self.path, len(self.path), expected)
        return len(self.path) > 1 and _creds_match(creds, self.path, 0, expected)

    def __str__(self):
        return f"{self.key}:{self.value.text}"


class LiteralCheck(Check):
    """`'literal':VALUE`: a constant compared with a value taken from the target."""
    __slots__ = ("literal", "value")

    def __call__(self, target, creds, enforcer=None):
        value = self.value.resolve(target)
        return value is not _MISSING and _equal(self.literal.const, value)

    def __str__(self):
        return f"{self.literal.text}:{self.value.text}"


class NotCheck(Check):
    __slots__ = ("check",)
    __call__ = lambda self, target, creds, enforcer=None: not self.check(target, creds, enforcer)  # noqa: E731

    def __str__(self):
        return f"not ({self.check})" if isinstance(self.check, (AndCheck, OrCheck)) else f"not {self.check}"


class AndCheck(Check):
    __slots__ = ("checks",)

    def __call__(self, target, creds, enforcer=None):
        for check in self.checks:
            if not check(target, creds, enforcer):
                return False
        return True

    def __str__(self):
        return " and ".join(f"({c})" if isinstance(c, OrCheck) else str(c) for c in self.checks)


class OrCheck(Check):
    __slots__ = ("checks",)

    def __call__(self, target, creds, enforcer=None):
        for check in self.checks:
            if check(target, creds, enforcer):
                return True
        return False

    def __str__(self):
        return " or ".join(str(c) for c in self.checks)


def _combine(cls, checks):
    flat = tuple(sub for c in checks for sub in (c.checks if isinstance(c, cls) else (c,)))
    return flat[0] if len(flat) == 1 else cls(flat)


# A token is a parenthesis or a word; quotes and %(...)s keep their insides in one word.
_TOKEN = re.compile(r"""\s*(?:(\()|(\))|((?:'[^']*'|"[^"]*"|%\([^)\s]*\)s|[^\s()'"])+))""")
_SUBST = re.compile(r"%\(([^)]*)\)s")
_KEY = re.compile(r"[\w.\-]+")
_NAME = re.compile(r"[\w.\-:]+")  # rule names may hold colons: identity:get_user
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Parser:
    """Recursive descent; precedence not > and > or; keywords in any case."""

    def __init__(self, text):
        self.text, self.toks, self.i, pos = text, [], 0, 0
        while (m := _TOKEN.match(text, pos)) is not None:
            self.toks.append(m.group(m.lastindex))
            pos = m.end()
        if text[pos:].strip():
            raise self.error("unterminated quote")

    def error(self, problem):
        return PolicySyntaxError(f"{problem} in {self.text!r}")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self):
        if not self.toks:
            return ALWAYS  # oslo: "" allows everyone
        check = self.parse_binary(None, "or")
        self.expect_end(None)
        return check

    def expect_end(self, closer):
        if (tok := self.peek()) != closer:
            if tok is None or tok == ")":
                raise self.error("unbalanced parenthesis")
            raise self.error(f"expected 'and' or 'or' before {tok!r}")

    def parse_binary(self, after, keyword):
        operand = self.parse_not if keyword == "and" else lambda a: self.parse_binary(a, "and")
        checks = [operand(after)]
        while (self.peek() or "").lower() == keyword:
            self.i += 1
            checks.append(operand(keyword))
        return _combine(AndCheck if keyword == "and" else OrCheck, checks)

    def parse_not(self, after):
        tok, where = self.peek(), f" after {after!r}" if after else ""
        if tok is None:
            raise self.error(f"expected a check{where}")
        self.i += 1
        if tok.lower() == "not":
            return NotCheck(self.parse_not("not"))
        if tok == "(":
            if self.peek() == ")":
                raise self.error("empty parentheses")
            inner = self.parse_binary("(", "or")
            self.expect_end(")")
            self.i += 1
            return inner
        if tok == ")" or tok.lower() in ("and", "or"):
            raise self.error(f"expected a check{where}, got {tok!r}")
        return self.parse_check(tok)

    def parse_check(self, tok):
        if tok in ("@", "!"):
            return ALWAYS if tok == "@" else NEVER
        if tok[0] in "'\"":  # a quoted literal on the left
            end = tok.index(tok[0], 1)
            if tok[end + 1:end + 2] != ":":
                raise self.error(f"unknown check {tok!r}")
            return LiteralCheck(_Value(tok[:end + 1], tok[1:end]), self.parse_value(tok[end + 2:], tok))
        kind, colon, rest = tok.partition(":")
        if not colon:
            raise self.error(f"unknown check {tok!r}")
        if not _KEY.fullmatch(kind):
            raise self.error(f"malformed key in check {tok!r}")
        if kind == "rule":
            if not _NAME.fullmatch(rest):
                raise self.error(f"{'malformed' if rest else 'empty'} rule name in check {tok!r}")
            return RuleCheck(rest)
        value = self.parse_value(rest, tok)
        if kind == "role":
            return RoleCheck(value)
        if kind == "service_role":
            return ServiceRoleCheck(value)
        if kind in ("True", "False") or _NUMBER.fullmatch(kind):
            return LiteralCheck(_Value(kind, kind == "True" if kind in ("True", "False") else kind), value)
        return GenericCheck(kind, value, tuple(kind.split(".")))

    def parse_value(self, text, tok):
        if not text:
            raise self.error(f"empty value in check {tok!r}")
        if text[0] in "'\"":
            if len(text) < 2 or text[-1] != text[0] or text[0] in text[1:-1]:
                raise self.error(f"malformed quoted value in check {tok!r}")
            return _Value(text, text[1:-1])
        if text in ("True", "False"):
            return _Value(text, text == "True")
        parts, pos = [], 0
        for m in _SUBST.finditer(text):
            if not m.group(1):
                raise self.error(f"empty substitution in check {tok!r}")
            parts += [text[pos:m.start()], (m.group(1), tuple(m.group(1).split(".")))]
            pos = m.end()
        parts = tuple(p for p in parts + [text[pos:]] if p != "")
        if any(p.__class__ is str and re.search("['\"%]", p) for p in parts):
            raise self.error(f"malformed value in check {tok!r}")
        return _Value(text, text) if parts == (text,) else _Value(text, _MISSING, parts)


def parse_rule(rule) -> Check:
    """Parse an expression, or oslo's legacy list form: a list (or) of lists (and) of strings."""
    if isinstance(rule, Check):
        return rule
    if isinstance(rule, str):
        return _Parser(rule).parse()
    if not isinstance(rule, (list, tuple)):
        raise PolicySyntaxError(f"a rule must be a string or a list, not {type(rule).__name__}")
    if not rule:
        return ALWAYS  # oslo: [] allows everyone
    alternatives = []
    for inner in rule:
        inner = [inner] if isinstance(inner, str) else inner
        if not isinstance(inner, (list, tuple)) or not all(isinstance(item, str) for item in inner):
            raise PolicySyntaxError(f"a list rule holds lists of strings, not {inner!r}")
        if inner:  # oslo skips empty inner lists, so [[]] allows no one
            alternatives.append(_combine(AndCheck, [_Parser(item).parse() for item in inner]))
    return _combine(OrCheck, alternatives) if alternatives else NEVER


def _leaves(check):
    """Every check of a rule that is not an operator."""
    children = (check.check,) if isinstance(check, NotCheck) else getattr(check, "checks", None)
    if children is None:
        yield check
        return
    for child in children:
        yield from _leaves(child)


def _references(check):
    return (leaf.name for leaf in _leaves(check) if isinstance(leaf, RuleCheck))


def _kind_problem(check, credential_keys):
    """Why a check of `check` could never hold with credentials of `credential_keys`
    (a kind the language lacks, a typo, or a fact these credentials never carry), else None.
    oslo.policy takes any unknown kind for a credential and silently finds it False."""
    if credential_keys is None:
        return None
    for leaf in _leaves(check):
        if isinstance(leaf, RoleCheck):
            kind, known = leaf.KIND, leaf.CREDENTIAL in credential_keys
        elif isinstance(leaf, GenericCheck):
            kind, known = leaf.key, leaf.key in credential_keys or leaf.path[0] in credential_keys
        else:
            continue
        if not known:
            return (f"unknown check kind {kind!r} in {str(leaf)!r} (checks are rule:, role:, "
                    f"service_role:, literals and the credentials {', '.join(sorted(credential_keys))})")
    return None


def _graph_problem(rules, prefer=()):
    """(rule name, problem) for an unknown `rule:` reference or a cycle, else None.
    Rules in `prefer` (an override file's) are blamed first: defaults were valid already."""
    order = [n for n in rules if n in prefer] + [n for n in rules if n not in prefer]
    refs = {name: list(dict.fromkeys(_references(check))) for name, check in rules.items()}
    for name in order:
        if unknown := [ref for ref in refs[name] if ref not in rules]:
            return name, f"unknown rule {unknown[0]!r} in 'rule:{unknown[0]}'"
    state = {}

    def visit(name, stack):
        state[name] = "open"
        stack.append(name)
        for ref in refs[name]:
            if state.get(ref) == "open":
                return stack[stack.index(ref):] + [ref]
            if ref not in state and (cycle := visit(ref, stack)):
                return cycle
        state[name] = "done"
        stack.pop()

    for name in order:
        if name not in state and (cycle := visit(name, [])):
            return next((n for n in cycle if n in prefer), cycle[0]), "rule cycle: " + " -> ".join(cycle)
    return None


def _read_file(path):
    """(mapping, text, format); a syntax error carries the parser's line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyFileError(path, None, f"cannot read: {e}") from None
    ext, data, fmt = os.path.splitext(str(path))[1].lower(), None, "yaml"
    if ext not in (".yaml", ".yml") and text.strip():
        try:
            data, fmt = json.loads(text), "json"
        except json.JSONDecodeError as e:
            if ext == ".json" or text.lstrip().startswith(("{", "[")):
                raise PolicyFileError(path, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})") from None
    if fmt == "yaml":
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            raise PolicyFileError(path, mark and mark.line + 1, f"invalid YAML: {e.problem or e.context}") from None
        except yaml.YAMLError as e:
            raise PolicyFileError(path, None, f"invalid YAML: {e}") from None
    data = {} if data is None else data  # empty, or only comments: no overrides
    if not isinstance(data, dict):
        raise PolicyFileError(path, _line_of(text, fmt, None),
                              f"the top level must map rule names to rules, not be a {type(data).__name__}")
    return data, text, fmt


def _line_of(text, fmt, name):
    """The line of rule `name`'s key (the last, as duplicates override), or the top level's
    for None. Computed only to report an error, so a good file is parsed once."""
    if fmt == "yaml":
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if name is None or not isinstance(root, yaml.MappingNode):
            return root.start_mark.line + 1
        lines = [k.start_mark.line + 1 for k, _ in root.value if isinstance(k, yaml.ScalarNode) and k.value == str(name)]
        return lines[-1] if lines else None
    if name is None:
        return text.count("\n", 0, len(text) - len(text.lstrip())) + 1
    lines = [text.count("\n", 0, m.start()) + 1
             for key in {json.dumps(name), json.dumps(name, ensure_ascii=False)}
             for m in re.finditer(re.escape(key) + r"\s*:", text)]
    return max(lines) if lines else None


class Enforcer:
    """A validated set of named rules: unknown `rule:` names, cycles and checks on facts
    the credentials never hold are refused up front.

    `credential_keys` are the keys of the credentials `authorize` will be given (by
    default a consuming service's, `CONTEXT_CREDENTIALS`); None checks no kind. As in
    oslo.policy, a name no rule defines is decided by `default_rule`, or, when that is
    not given, by the rule named `default` if there is one."""

    def __init__(self, rules: Mapping = {}, default_rule: str | None = None,
                 credential_keys=CONTEXT_CREDENTIALS):
        self.credential_keys = None if credential_keys is None else frozenset(credential_keys)
        parsed = {}
        for name, rule in rules.items():
            try:
                parsed[name] = self._parse(rule)
            except PolicySyntaxError as e:
                raise PolicySyntaxError(f"rule {name!r}: {e}") from None
        if problem := _graph_problem(parsed):
            raise PolicySyntaxError(f"rule {problem[0]!r}: {problem[1]}")
        self.rules: dict[str, Check] = parsed
        self._set_default(default_rule)

    def _parse(self, rule) -> Check:
        check = parse_rule(rule)
        if problem := _kind_problem(check, self.credential_keys):
            raise PolicySyntaxError(problem)
        return check

    def _set_default(self, default_rule):
        if default_rule is not None and default_rule not in self.rules:
            raise PolicySyntaxError(f"default rule {default_rule!r} is not defined")
        self._default_rule = default_rule

    @property
    def default_rule(self) -> str | None:
        """The rule deciding names no rule defines: the one named, else `default` if defined."""
        if self._default_rule is not None:
            return self._default_rule
        return DEFAULT_RULE if DEFAULT_RULE in self.rules else None

    @classmethod
    def from_file(cls, path, defaults: Mapping = {}, default_rule: str | None = None,
                  credential_keys=CONTEXT_CREDENTIALS) -> "Enforcer":
        """The defaults (the code's own, so they must stand alone) overridden by the file."""
        enforcer = cls(defaults, credential_keys=credential_keys)
        enforcer.load_overrides(path)
        enforcer._set_default(default_rule)
        return enforcer

    def load_overrides(self, path) -> None:
        """Replace or add the file's rules; on any error nothing changes."""
        data, text, fmt = _read_file(path)
        merged = dict(self.rules)
        for name, rule in data.items():
            try:
                if not isinstance(name, str):
                    raise PolicySyntaxError(f"rule name {name!r} is not a string")
                if not isinstance(rule, (str, list)):
                    raise PolicySyntaxError(f"a rule must be a string or a list, not {type(rule).__name__}")
                merged[name] = self._parse(rule)
            except PolicySyntaxError as e:
                raise PolicyFileError(path, _line_of(text, fmt, name), str(e), rule=name) from None
        if problem := _graph_problem(merged, prefer=data):
            name, message = problem
            raise PolicyFileError(path, _line_of(text, fmt, name) if name in data else None, message, rule=name)
        self.rules = merged

    def authorize(self, rule_name: str, target: Mapping, creds: Mapping) -> bool:
        """Whether `creds` may do `rule_name` to `target`; an unknown name uses the default rule."""
        rule = self.rules.get(rule_name)
        if rule is None and (default := self.default_rule) is not None:
            rule = self.rules.get(default)
        return rule is not None and bool(rule(target, creds, self))
