"""A bounded cache whose entries know what they were computed from.

Validation must not query the store on every call (an ORM query costs more than the
whole rest of the call), yet must never return a stale role. Each entry records the
entities it was read from, as ("user", id), ("group", id), ("project", id)...; a
change to one of them drops exactly the entries that used it, instead of flushing
everything the way Keystone does.

It is bounded in bytes, not entries: an entry may be one role set or a user's list
of a thousand projects. Each value's size is estimated once, when it is stored
(`sizing.estimate`), never when it is read; past the budget the oldest entries go.
"""

import threading
from collections import defaultdict
from typing import Callable, Hashable

from identity_api.changes import EVERY, Kind

from .sizing import MIB, estimate

# What an entry was read from: (kind, id); the kinds are those of the change feed.
Dep = tuple[Kind, str]


class DependentCache:
    def __init__(self, max_bytes: int = 64 * MIB, max_entries: int = 100_000):
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._bytes = 0
        # key -> (value, what it was computed from, its estimated size)
        self._entries: dict[Hashable, tuple[object, frozenset[Dep], int]] = {}
        self._by_dep: dict[Dep, set[Hashable]] = defaultdict(set)
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[set[Dep]], object]) -> object:
        """The cached value for `key`, else `compute(deps)`, which adds to `deps` every
        entity it reads. A value computed while an invalidation ran is returned but
        not kept, since it may predate the change."""
        entry = self._entries.get(key)
        if entry is not None:
            return entry[0]
        generation = self._generation
        deps: set[Dep] = set()
        value = compute(deps)
        size = _entry_size(key, value, deps)
        with self._lock:
            if generation == self._generation:
                self._put(key, value, frozenset(deps), size)
        return value

    def invalidate(self, entity: Kind, entity_id: str) -> None:
        """Drop the entries computed from (entity, entity_id); an id of "*" drops
        every entry that read any entity of that kind."""
        with self._lock:
            self._generation += 1
            if entity_id == EVERY:
                doomed = set()
                for dep in [d for d in self._by_dep if d[0] == entity]:
                    doomed |= self._by_dep.pop(dep)
            else:
                doomed = self._by_dep.pop((entity, entity_id), set())
            for key in doomed:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._by_dep.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """The estimated size of what the cache holds."""
        return self._bytes

    def _put(self, key: Hashable, value: object, deps: frozenset[Dep], size: int) -> None:
        self._drop(key)
        if size > self._max_bytes:
            return  # larger than the whole budget: served, never kept
        while self._entries and (len(self._entries) >= self._max_entries
                                 or self._bytes + size > self._max_bytes):
            self._drop(next(iter(self._entries)))
        self._entries[key] = (value, deps, size)
        self._bytes += size
        for dep in deps:
            self._by_dep[dep].add(key)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry[2]
        for dep in entry[1]:
            keys = self._by_dep.get(dep)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_dep[dep]


# What an entry costs besides its value: the entry tuple and dict slot, and a place
# in the set of each entity it depends on.
ENTRY_OVERHEAD = 200
DEP_OVERHEAD = 150


def _entry_size(key: Hashable, value: object, deps: set[Dep]) -> int:
    return ENTRY_OVERHEAD + estimate(key) + estimate(value) + DEP_OVERHEAD * len(deps)
