"""A cheap estimate of the memory a cached value holds, so caches are bounded in bytes.

A cache bounded by entries is not bounded: one entry may be a role set, another a
user's list of a thousand projects or a whole rendered catalog. `estimate` walks a
value once (when it is inserted, never when it is read) and sums `sys.getsizeof` over
what it reaches: tuples, lists, sets, dicts and slotted records (the `records` module's
dataclasses, token payloads). An object reached twice within one value counts once;
one shared between values (a domain record many projects name) counts in each, so the
estimate errs high, the safe side for a bound.
"""

import sys
import types

MIB = 1024 * 1024
_CONTAINERS = (tuple, list, set, frozenset)
_ATOMS = (str, bytes, int, float, bool, type(None))
# Shared by everything, held by no one value: counted as a reference, never walked.
_SHARED = (type, types.ModuleType, types.FunctionType, types.MethodType)


def estimate(value: object) -> int:
    """Bytes held by `value` and what it reaches (an estimate that errs high)."""
    seen: set[int] = set()
    total = 0
    stack = [value]
    sizeof = sys.getsizeof
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, _SHARED):
            continue
        total += sizeof(obj)
        if isinstance(obj, _ATOMS):
            continue
        if isinstance(obj, _CONTAINERS):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        else:
            for name in _slots(type(obj)):
                child = getattr(obj, name, None)
                if child is not None:
                    stack.append(child)
            if hasattr(obj, "__dict__"):
                stack.append(obj.__dict__)
    return total


def _slots(cls: type) -> tuple[str, ...]:
    cached = _SLOTS.get(cls)
    if cached is None:
        names = []
        for klass in cls.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            names.extend((slots,) if isinstance(slots, str) else slots)
        cached = _SLOTS[cls] = tuple(n for n in names if n not in ("__dict__", "__weakref__"))
    return cached


_SLOTS: dict[type, tuple[str, ...]] = {}
