"""Parsing a request body as JSON that the rest of the service can hold safely.

Python's `json` accepts two things that blow up later, far from the request, as a
500: nesting deep enough to exhaust the interpreter's recursion limit (in the
parser itself, or in whatever walks the value next, such as `json.dumps` of a user's
extra attributes), and `\\ud800`-style escapes that leave a lone surrogate in a
string, which no UTF-8 encoder (the store's driver, the log, the response) accepts.
Both are refused here, as are the non-JSON constants `NaN` and `Infinity`, so that
every JSON entry point of the gateway answers them with a 400.
"""

import json

# Containers inside containers. Keystone's deepest body (an auth request scoped to
# a project named with its domain) is 6; free-form user attributes get the rest.
MAX_DEPTH = 32


class BodyError(ValueError):
    """The body is not JSON the service accepts; the message says why."""


def _refuse_constant(name: str):
    raise BodyError(f"{name} is not a JSON value")


def parse(text: str):
    """The JSON value of `text`, or BodyError. Invalid JSON is a plain ValueError."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(_too_deep()) from None
    _check(value)
    return value


def _too_deep() -> str:
    return f"The request body is nested more than {MAX_DEPTH} levels deep."


def _check(value) -> None:
    """Walk `value` without recursion: depth, and every key and string valid Unicode."""
    pending = [(value, "", 0)]
    while pending:
        node, path, depth = pending.pop()
        if isinstance(node, str):
            _check_text(node, path)
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            raise BodyError(_too_deep())
        if isinstance(node, dict):
            for key, item in node.items():
                child = f"{path}.{key}" if path else key
                _check_text(key, path)
                pending.append((item, child, depth + 1))
        else:
            pending.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))


def _check_text(text: str, path: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        where = f"field '{path}'" if path else "the request body"
        raise BodyError(f"Invalid input for {where}: a string is not valid Unicode "
                        "(it holds a lone surrogate such as \\ud800)") from None
