"""Throttles of failed password attempts, by where they come from.

Keystone's account lockout (see `identity`) stops guessing at one account, but anyone
who knows the name can use it to lock the owner out. These throttles slow the guesser
instead of the account: they count failed password checks per (account, source
address) and per source address over a sliding window, and past a limit refuse that
source's further attempts at once, before any password is checked, until its oldest
failures leave the window. The same account keeps working from every other address.

An attempt counts as a failure from the moment it is admitted (so that concurrent
attempts cannot slip past the limit together) until it proves the password; an
attempt shed before any check counts for nothing. The answer never depends on
whether the account exists: a refusal says the same thing either way.

The counts live in memory, per server process: each process (and each replica) keeps
its own, so with N of them a source gets up to N times the budget, and a restart
forgets them. Their size is bounded: past `max_keys` keys the least recently used
are forgotten first.
"""

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable

from .errors import ResourceExhausted

MAX_KEYS = 100_000  # per table: about 20 MB at most
REFUSED = "too many failed password attempts from this address: try again in {} s"


def source_of(address: str) -> str:
    """What counts as one source: an IPv4 address; an IPv6 /64 (what one customer's
    network, often one host, holds); any other address as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class FailureWindow:
    """The times of the failures of each key within the last `window` seconds."""

    def __init__(self, limit: int, window: float, max_keys: int = MAX_KEYS):
        self.limit = limit
        self._window = window
        self._max_keys = max_keys
        self._times: OrderedDict[object, deque] = OrderedDict()

    def wait(self, key, now: float) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        times = self._times.get(key)
        if not self.limit or times is None:
            return 0.0
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._times[key]
            return 0.0
        return times[0] + self._window - now if len(times) >= self.limit else 0.0

    def add(self, key, now: float) -> None:
        if not self.limit:
            return
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = deque()
            if len(self._times) > self._max_keys:
                self._times.popitem(last=False)
        else:
            self._times.move_to_end(key)
        times.append(now)

    def remove(self, key, at: float) -> None:
        times = self._times.get(key)
        if times is not None and at in times:
            times.remove(at)

    def clear(self, key) -> None:
        self._times.pop(key, None)


class Attempt:
    """One admitted password check: a failure unless `succeeded` or `cancelled`."""

    __slots__ = ("_throttle", "_address", "_account", "_at")

    def __init__(self, throttle: "LoginThrottle | None", address: str, account: str, at: float):
        self._throttle, self._address, self._account, self._at = throttle, address, account, at

    def succeeded(self) -> None:
        """The password was right: the attempt is no failure, and the account's earlier
        failures from this source are forgiven (not the source's own count)."""
        if self._throttle is not None:
            self._throttle._settle(self, forgive=True)

    def cancelled(self) -> None:
        """Nothing was checked (shed, or the store failed): the attempt does not count."""
        if self._throttle is not None:
            self._throttle._settle(self, forgive=False)


class LoginThrottle:
    """Owns the throttles of failed passwords per (account, address) and per address;
    promises a guesser's budget, however it names the account."""

    def __init__(self, per_account_and_address: int, per_address: int, window: float,
                 clock: Callable[[], float] = time.time):
        """Limits of failures within `window` seconds; 0 turns one off."""
        self._pairs = FailureWindow(per_account_and_address, window)
        self._addresses = FailureWindow(per_address, window)
        self._clock = clock
        self._lock = threading.Lock()

    def admit(self, address: str | None, account: str) -> Attempt:
        """An attempt from `address` at `account` (an id, or a name as given), or
        ResourceExhausted when that source has failed too often. With no address (a
        call from inside the server, not from a client) nothing is throttled."""
        if address is None:
            return Attempt(None, "", account, 0.0)
        source = source_of(address)
        with self._lock:
            now = self._clock()
            wait = max(self._pairs.wait((source, account), now), self._addresses.wait(source, now))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise ResourceExhausted(REFUSED.format(seconds), retry_after=seconds)
            self._pairs.add((source, account), now)
            self._addresses.add(source, now)
        return Attempt(self, source, account, now)

    def _settle(self, attempt: Attempt, forgive: bool) -> None:
        pair = (attempt._address, attempt._account)
        with self._lock:
            self._addresses.remove(attempt._address, attempt._at)
            if forgive:
                self._pairs.clear(pair)
            else:
                self._pairs.remove(pair, attempt._at)
