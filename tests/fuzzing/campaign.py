"""Running the fuzzer: draw each case with Hypothesis, send it, hear what the
server logged meanwhile, and sort the outcome into fine, known-open or bug.

Every RPC and route gets the same share of the cases, in a Hypothesis run of its own
seeded from the run's seed and its name, the two transports taking turns. Hypothesis
only draws here: the test body never raises, so nothing is shrunk and a seed and a
count always give the same cases; every bug is gathered (grouped by where and how it
failed) instead of stopping at the first. A wall-clock budget stops drawing early on
a machine far slower than expected, and says so.
"""

import logging
import os
import threading
import time
import traceback
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from . import grpc_cases, http_cases
from .cases import Case, Outcome
from .known_open import KNOWN_OPEN, KnownOpen
from .world import World

DEFAULT_SEED = 8
DEFAULT_CASES = 2000
DEFAULT_BUDGET = 300.0  # seconds: a safety net far above a normal run's
CALL_TIMEOUT = 20.0


def seed_from_env() -> int:
    return int(os.environ.get("IDENTITY_FUZZ_SEED", DEFAULT_SEED))


def cases_from_env(default: int = DEFAULT_CASES) -> int:
    return int(os.environ.get("IDENTITY_FUZZ_CASES", default))


def budget_from_env() -> float:
    return float(os.environ.get("IDENTITY_FUZZ_SECONDS", DEFAULT_BUDGET))


class ServerLog(logging.Handler):
    """Every log record with a traceback, or at ERROR and above, from any logger of
    the in-process servers (the interceptor's "unexpected error", the gateway's
    500s, grpc's and waitress's own), kept as a one-line summary."""

    def __init__(self):
        super().__init__(level=logging.NOTSET)
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info and record.levelno < logging.ERROR:
            return
        with self._lock:
            self.lines.append(summarize(record))

    def take(self) -> list[str]:
        with self._lock:
            lines, self.lines = self.lines, []
        return lines


def summarize(record: logging.LogRecord) -> str:
    text = f"{record.name} {record.levelname}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        frames = traceback.extract_tb(record.exc_info[2])
        ours = [f for f in frames if "identity_grpc" in f.filename]
        where = [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in (ours[-1:] + frames[-1:])]
        text += f" | {type(error).__name__}: {str(error)[:300]} | at {' < '.join(dict.fromkeys(where))}"
    return text


@dataclass
class Report:
    seed: int
    calls: Counter = field(default_factory=Counter)
    routes: Counter = field(default_factory=Counter)
    route_seconds: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, list[tuple[Case, Outcome]]] = field(default_factory=lambda: defaultdict(list))
    known: dict[str, list[tuple[Case, Outcome]]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    stopped_early: bool = False

    def summary(self) -> str:
        top = ", ".join(f"{s} {n}" for s, n in self.statuses.most_common(14))
        slowest = ", ".join(f"{r} {t:.1f} s" for r, t in self.route_seconds.most_common(5))
        known = ", ".join(f"{k}: {len(v)}" for k, v in self.known.items()) or "none"
        return (f"fuzz seed {self.seed}: {sum(self.calls.values())} calls ({dict(self.calls)}) "
                f"in {self.seconds:.1f} s{' (stopped by the time budget)' if self.stopped_early else ''}; "
                f"bugs: {sum(len(v) for v in self.failures.values())} in {len(self.failures)} groups; "
                f"known open: {known}; answers: {top}; slowest: {slowest}")


class Campaign:
    def __init__(self, world: World, channel, gateway_url: str, seed: int,
                 read_stderr=lambda: "", budget: float = DEFAULT_BUDGET):
        self.world, self.channel, self.seed = world, channel, seed
        host, port = gateway_url.removeprefix("http://").rsplit(":", 1)
        self.http = http_cases.HttpClient(host, int(port), CALL_TIMEOUT)
        self.rpcs = grpc_cases.contract_rpcs()
        self.routes = http_cases.gateway_routes()
        self.templates = http_cases.body_templates()
        self.read_stderr = read_stderr
        self.budget = budget
        self.report = Report(seed)
        self.log = ServerLog()
        self._started = 0.0
        self._index = 0

    def targets(self) -> list[tuple[str, object]]:
        """Every RPC and every route, the two transports taking turns; narrowed by
        IDENTITY_FUZZ_ONLY (a part of an RPC path or route) to replay one quickly."""
        grpc_targets = [(r.path, r) for r in self.rpcs]
        http_targets = [(f"{r.method} {r.rule}", r) for r in self.routes]
        mixed = [t for pair in zip_longest(grpc_targets, http_targets) for t in pair if t]
        only = os.environ.get("IDENTITY_FUZZ_ONLY", "")
        return [t for t in mixed if only in t[0]]

    def run(self, cases: int) -> Report:
        """`cases` calls, shared evenly by the targets (at least one each), each
        target's from a seed of its own derived from the run's."""
        targets = self.targets()
        per_target = max(1, cases // max(1, len(targets)))
        root = logging.getLogger()
        root.addHandler(self.log)
        self._started = time.monotonic()
        try:
            for name, target in targets:
                self._run_target(name, target, per_target)
        finally:
            root.removeHandler(self.log)
            self.http.close()
            self.report.seconds = time.monotonic() - self._started
        return self.report

    def _run_target(self, name: str, target, examples: int) -> None:
        @hypothesis_seed(zlib.crc32(f"{self.seed}:{name}".encode()))
        @settings(max_examples=examples, database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck), print_blob=False)
        @given(st.data())
        def one_case(data):
            self.play(data, target)

        one_case()

    def uncovered(self) -> list[str]:
        """The RPCs and routes no case called."""
        return [name for name, _ in self.targets() if not self.report.routes[name]]

    def play(self, data, target) -> None:
        started = time.monotonic()
        if started - self._started > self.budget:
            self.report.stopped_early = True
            return
        self._index += 1
        if isinstance(target, grpc_cases.Rpc):
            case = grpc_cases.draw_case(data, self.world, target, self._index)
        else:
            case = http_cases.draw_case(data, self.world, target, self.templates, self._index)
        self.judge(case, self.send(case))
        self.report.route_seconds[case.route] += time.monotonic() - started

    def replay(self, literal: dict) -> tuple[Case, Outcome]:
        """Send one case as a failure message printed it (`Case.literal`), with the
        tokens of this run's callers in place of the labels."""
        headers = tuple((k, self.world.tokens[v[7:-1]] if v.startswith("<token:") else v)
                        for k, v in literal["headers"])
        rpc = next((r for r in self.rpcs if r.path == literal["target"]), None)
        case = Case(index=0, transport=literal["transport"], method=literal["method"],
                    route=literal["target"], target=literal["target"], token_label="replayed",
                    headers=headers, body=literal["body"], shown="(replayed)", rpc=rpc)
        root = logging.getLogger()
        root.addHandler(self.log)
        try:
            return case, self.send(case)
        finally:
            root.removeHandler(self.log)
            self.http.close()

    def send(self, case: Case) -> Outcome:
        self.log.take()  # whatever came before belongs to no case of ours
        if case.transport == "grpc":
            outcome = grpc_cases.send(self.channel, self.world, case, CALL_TIMEOUT)
        else:
            outcome = self.http.send(self.world, case)
        outcome.tracebacks = self.log.take()
        stderr = self.read_stderr()
        if "Traceback" in stderr:
            outcome.tracebacks.append("stderr: " + stderr[-1500:])
        outcome.echoed = next((s for s in case.secrets if s in outcome.message), "")
        return outcome

    def judge(self, case: Case, outcome: Outcome) -> None:
        self.report.calls[case.transport] += 1
        self.report.routes[case.route] += 1
        self.report.statuses[outcome.status] += 1
        if not outcome.problems:
            return
        entry = known_open_entry(case, outcome)
        if entry is not None:
            self.report.known[entry.name].append((case, outcome))
            return
        self.report.failures[signature(case, outcome)].append((case, outcome))


def known_open_entry(case: Case, outcome: Outcome) -> KnownOpen | None:
    return next((entry for entry in KNOWN_OPEN if entry.matches(case, outcome)), None)


def signature(case: Case, outcome: Outcome) -> str:
    """Where and how a case failed, to group the many cases of one bug."""
    error = ""
    if outcome.tracebacks:
        parts = outcome.tracebacks[0].split(" | ")
        error = parts[1].split(":")[0] if len(parts) > 1 else parts[0][:60]
        error += f" at {parts[2].split(' < ')[0].removeprefix('at ')}" if len(parts) > 2 else ""
    problems = "+".join(outcome.problems)
    return f"{case.route} -> {outcome.status} ({problems}) {error}".strip()


def failure_message(report: Report, name: str, hits: list[tuple[Case, Outcome]],
                    tokens: dict[str, str], shown: int = 2) -> str:
    lines = [f"{name}: {len(hits)} case(s) of seed {report.seed}; the first {min(shown, len(hits))}:"]
    for case, outcome in hits[:shown]:
        lines += [case.describe(report.seed, tokens), outcome.describe()]
    lines.append(f"rerun the whole sequence: IDENTITY_FUZZ_SEED={report.seed} "
                 f"IDENTITY_FUZZ_CASES={sum(report.calls.values())} (see docs/fuzzing.md)")
    return "\n".join(lines)
