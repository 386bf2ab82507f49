"""Hypothesis strategies for hostile values, and an exact but short repr of them.

Hypothesis gives the edge cases that matter here (empty, huge, NUL, non-ASCII,
integer limits, NaN, recursive JSON) and reproducible draws from a seed. Huge values
are built as one character times a length, never drawn character by character, so
that an example stays within Hypothesis's size limits and its repr stays short.
"""

import functools
import math
import re

from hypothesis import strategies as st

SPECIAL_TEXT = [
    "", " ", "\t", "\x00", "a\x00", "\x00a", "null", "None", "true", "0", "-1", "[]", "{}",
    "%00", "%ff", "%", "../../etc/passwd", "/", "\\", "'", '"', "' OR '1'='1", "; DROP TABLE user; --",
    "$(project_id)s", "$(tenant_id)s", "$(nope)s", "$(", "%s%s%n", "{0}", "\u202e", "\ufeff",
    "\uffff", "\U0010ffff", "\U0001f600", "\xe9", "\r\n", "\x7f", "\x1b[31m", "<script>", "*",
    "default", "Default", "RegionOne", "public", "admin", "http://", "http://127.0.0.1:1/$(project_id)s",
    "a" * 8, "a" * 32, "a" * 64, "a" * 65, "a" * 255, "a" * 256, "\xe9" * 128, "\xe9" * 256,
    "\U0001f600" * 64, "\U0001f600" * 256,
]
HUGE_SIZES = [1_025, 4_097, 65_536, 70_000, 300_000]
HUGE_CHARS = ["a", "\xe9", "\x00", "\U0001f600", " "]
# Only JSON can carry these (a protobuf string field refuses them before sending).
SURROGATES = ["\ud800", "a\udfff", "\udc80\ud800", "\udbff\udfff"[0]]

INT32 = (-2**31, 2**31 - 1)
INT64 = (-2**63, 2**63 - 1)
EDGE_INTS = [0, 1, -1, 2, 99, 100, 101, 999, 1000, 1001, 2**31 - 1, -2**31, 2**32, 2**53 + 1,
             2**63 - 1, -2**63, 2**64, 10**30, -10**30]


def _huge(ch: str, n: int) -> str:
    return ch * n


HUGE_TEXT = st.builds(_huge, st.sampled_from(HUGE_CHARS), st.sampled_from(HUGE_SIZES))
# Strings a careless server mishandles: empty, blank, overlong, NUL, control
# characters, astral planes, injection-shaped, placeholders. SHORT_TEXT leaves out
# the huge ones (for URLs, which have their own limits).
SHORT_TEXT = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=24),
                       st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=12))
HOSTILE_TEXT = st.one_of(SHORT_TEXT, HUGE_TEXT)


def integers_in(low: int, high: int) -> st.SearchStrategy[int]:
    return _integers_in(low, high)


@functools.lru_cache(maxsize=None)
def _integers_in(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [i for i in EDGE_INTS if low <= i <= high] + [low, high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


@functools.lru_cache(maxsize=None)
def index_below(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


RANDOMS = st.randoms(use_true_random=True)


def uniform(data):
    """The case's own `random.Random`, seeded by one Hypothesis draw: for choices
    that must be even (which caller, which id, which mutation), where Hypothesis's
    leaning towards its simplest choice would call the first of a list far more
    often than the rest."""
    rnd = getattr(data, "fuzz_random", None)
    if rnd is None:
        rnd = data.fuzz_random = data.draw(RANDOMS)
    return rnd


def chance(data, probability: float) -> bool:
    return uniform(data).random() < probability


def pick(data, values, empty=""):
    """One of `values`, which may be a list that grows as the run learns (ids,
    tokens): evenly, and taking the same one number from the case's Random whatever
    the list holds (`choice` takes more or fewer by length), so what the run has
    learnt never changes what is drawn next: the same seed gives the same choices,
    and Hypothesis sees the same draws for the same choices."""
    at = uniform(data).random()  # always one draw, whatever the length: see above
    return values[int(at * len(values))] if len(values) else empty


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_INTS),
                         st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT,
                         st.sampled_from(SURROGATES))
# Any JSON value, nested a little: wrong types for every field.
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(SHORT_TEXT, st.sampled_from(SURROGATES)), inner, max_size=3)),
    max_leaves=6)


# JSON number text no Python int or float holds (spliced into bodies as text: the
# fuzzer's own json.dumps would refuse a 5,000-digit int just as the server's loads).
RAW_NUMBERS = ["1" + "0" * 5000, "1e999999", "-1e999999", "-0", "1.0e-400", "NaN", "Infinity",
               "-Infinity", "18446744073709551616", "-9223372036854775809", "0.1e1", "1E400"]


# ---- exact and short ------------------------------------------------------------

_RUN = re.compile(r"(.)\1{15,}", re.DOTALL)
_BYTE_RUN = re.compile(rb"(.)\1{15,}", re.DOTALL)


def compact(value) -> str:
    """A Python expression equal to `value`, with long runs of one character written
    as `'a' * 70000`: exact, so a case can be replayed, yet short enough to read."""
    if isinstance(value, str):
        return _runs(value, _RUN, lambda part: repr(part))
    if isinstance(value, bytes):
        return _runs(value, _BYTE_RUN, lambda part: repr(part))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{compact(k)}: {compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(compact(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**40:
        return hex(value)  # decimal text of this size is refused by int()
    return repr(value)


def _runs(value, pattern, show) -> str:
    parts, at = [], 0
    for match in pattern.finditer(value):
        if match.start() > at:
            parts.append(show(value[at:match.start()]))
        parts.append(f"{show(match.group(1))} * {match.end() - match.start()}")
        at = match.end()
    if at < len(value) or not parts:
        parts.append(show(value[at:]))
    return " + ".join(parts)
