"""One call the fuzzer makes, what came back, and whether that is a bug.

A case is kept exactly as sent (wire bytes, headers), so that its failure message
can be replayed; `literal()` is a Python literal of it with tokens named by label
(`IDENTITY_FUZZ_REPLAY` takes it back).
"""

from dataclasses import dataclass, field

from .values import compact

# gRPC codes that say the server failed, not the caller: a bug, a crash, a dropped
# connection (UNAVAILABLE) or a call that never finished (DEADLINE_EXCEEDED).
FAILING_CODES = {"INTERNAL", "UNKNOWN", "UNAVAILABLE", "DEADLINE_EXCEEDED", "DATA_LOSS"}
SECRET_FIELDS = ("password", "original_password")


@dataclass
class Case:
    index: int
    transport: str            # "grpc" | "http"
    method: str               # the gRPC method path, or the HTTP method
    route: str                # the RPC path, or the gateway's path rule
    target: str               # what was called: RPC path, or path and query
    token_label: str          # which caller token (a label of World.tokens)
    headers: tuple            # metadata pairs, or HTTP header pairs
    body: bytes
    shown: str = ""           # the request, readable
    secrets: tuple = ()       # password values sent: never to be echoed back
    rpc: object = None
    handler: str = ""         # the gateway handler's name

    def literal(self, tokens: dict[str, str]) -> str:
        by_value = {v: k for k, v in tokens.items() if v}
        headers = tuple((k, f"<token:{by_value[v]}>" if v in by_value else v) for k, v in self.headers)
        return compact({"transport": self.transport, "method": self.method, "target": self.target,
                        "headers": headers, "body": self.body})

    def describe(self, seed: int, tokens: dict[str, str]) -> str:
        what = self.target if self.transport == "grpc" else f"{self.method} {self.target}"
        return (f"case {self.index} of seed {seed}: {self.transport} {what} as {self.token_label}\n"
                f"    request: {_clip(self.shown, 1500)}\n"
                f"    replay:  IDENTITY_FUZZ_REPLAY=\"{self.literal(tokens)}\"")


@dataclass
class Outcome:
    status: str               # a gRPC code name, "HTTP 404", "DROPPED: ...", "TIMEOUT"
    message: str              # gRPC details or the HTTP body (cut short)
    tracebacks: list[str] = field(default_factory=list)
    echoed: str = ""          # a secret found in the answer

    @property
    def problems(self) -> list[str]:
        found = []
        if self.status in FAILING_CODES or self.status.startswith(("DROPPED", "TIMEOUT")):
            found.append(f"status {self.status}")
        if self.status.startswith("HTTP 5"):
            found.append(self.status)
        if self.tracebacks:
            found.append("server traceback")
        if self.echoed:
            found.append("a password echoed in the answer")
        return found

    def text(self) -> str:
        return " ".join([self.status, self.message, *self.tracebacks])

    def describe(self) -> str:
        lines = [f"    answer:  {self.status} {_clip(self.message, 400)!r}"]
        lines += [f"    server:  {_clip(t, 1200)}" for t in self.tracebacks[:3]]
        return "\n".join(lines)


def secrets_in(pairs) -> tuple:
    """Password values of a request worth looking for in its answer: long enough to
    be told apart, and not also part of another value sent (which may be echoed).
    A password of the wrong type (a number, a list) is still a password."""
    pairs = list(pairs)
    others = [v for k, v in pairs if k not in SECRET_FIELDS and isinstance(v, str)]
    found = [leaf for k, v in pairs if k in SECRET_FIELDS for leaf in _leaves(v)]
    return tuple(v for v in found if len(v.strip()) >= 6 and not any(v in o for o in others))


def _leaves(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield repr(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
