"""gRPC cases: every method of every service of both packages, found in the
descriptors, with requests built field by field from the message descriptors.

A request is a message of plausible and hostile values (real ids by field name,
tokens, page tokens, names, huge and NUL strings, integer limits), sometimes with its
wire bytes mutated afterwards: flipped bytes, truncation, invalid UTF-8 or an
out-of-range varint appended for a field, unknown fields, or random bytes. It goes
through a generic channel method, with one of the world's tokens (or none) in
`x-auth-token`.
"""

import base64
import json
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor as F
from hypothesis import strategies as st

from .cases import Case, Outcome, secrets_in
from .values import HOSTILE_TEXT, INT32, INT64, chance, compact, integers_in, pick
from .world import PACKAGES, World, kind_of_field, snake

RANGES = {F.TYPE_INT32: INT32, F.TYPE_SINT32: INT32, F.TYPE_SFIXED32: INT32,
          F.TYPE_INT64: INT64, F.TYPE_SINT64: INT64, F.TYPE_SFIXED64: INT64,
          F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1),
          F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1)}
WIRE_MODES = ["message"] * 8 + ["flipped", "truncated", "bad_utf8", "huge_varint", "unknown_field",
                                 "random"]
MAX_DEPTH = 4


@dataclass(frozen=True)
class Rpc:
    path: str             # /identity.admin.v1.Users/CreateUser
    name: str             # CreateUser
    kind: str | None      # the entity kind its service manages ("users"), if any
    input: type
    output: type
    streaming: bool


def contract_rpcs() -> list[Rpc]:
    rpcs = []
    for package in PACKAGES:
        for service in package.DESCRIPTOR.services_by_name.values():
            kind = snake(service.name) if package is not PACKAGES[0] else None
            for method in service.methods:
                rpcs.append(Rpc(f"/{service.full_name}/{method.name}", method.name, kind,
                                message_factory.GetMessageClass(method.input_type),
                                message_factory.GetMessageClass(method.output_type),
                                method.server_streaming))
    return rpcs


# ---- drawing a request ----------------------------------------------------------------

def draw_message(data, world: World, descriptor, kind: str | None, depth: int = 0):
    message = message_factory.GetMessageClass(descriptor)()
    chosen: dict[str, str | None] = {}
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and not oneof.name.startswith("_"):  # a real oneof, not `optional`
            if oneof.name not in chosen:
                chosen[oneof.name] = pick(data, [None] + [f.name for f in oneof.fields])
            if chosen[oneof.name] != field.name:
                continue
        elif not chance(data, _mood(data)[0]):
            continue
        try:
            _set_field(data, world, message, field, kind, depth)
        except (ValueError, TypeError, OverflowError):
            pass  # a value this field's Python type refuses: the wire mutations cover it
    return message


def _mood(data) -> tuple[float, float]:
    """How likely this case sets each field, and makes a string hostile: drawn once
    per case, so that some requests are complete and valid but for one field (and so
    reach the store), and others are garbage throughout."""
    mood = getattr(data, "fuzz_mood", None)
    if mood is None:
        mood = data.fuzz_mood = (pick(data, [0.5, 0.9, 1.0]), pick(data, [0.0, 0.1, 0.2, 0.5]))
    return mood


def _set_field(data, world, message, field, kind, depth) -> None:
    if field.type == F.TYPE_MESSAGE:
        if depth >= MAX_DEPTH:
            return
        if field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields
            for _ in range(pick(data, range(0, 4))):
                key = _draw_scalar(data, world, key_field, kind)
                getattr(message, field.name)[key] = _draw_scalar(data, world, value_field, kind)
            return
        target = getattr(message, field.name)
        items = pick(data, range(0, 4)) if field.is_repeated else 1
        for _ in range(items):
            sub = draw_message(data, world, field.message_type, kind, depth + 1)
            (target.add() if field.is_repeated else target).CopyFrom(sub)
        return
    if field.is_repeated:
        getattr(message, field.name).extend(
            _draw_scalar(data, world, field, kind) for _ in range(pick(data, range(0, 4))))
        return
    setattr(message, field.name, _draw_scalar(data, world, field, kind))


def _draw_scalar(data, world: World, field, kind):
    if field.type == F.TYPE_STRING:
        if chance(data, _mood(data)[1]):
            return data.draw(HOSTILE_TEXT)
        return plausible_text(data, world, field.name, kind)
    if field.type == F.TYPE_BOOL:
        return data.draw(st.booleans())
    if field.type in RANGES:
        return data.draw(integers_in(*RANGES[field.type]))
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return data.draw(st.floats(width=64 if field.type == F.TYPE_DOUBLE else 32))
    if field.type == F.TYPE_BYTES:
        return data.draw(st.binary(max_size=64))
    if field.type == F.TYPE_ENUM:
        return pick(data, [v.number for v in field.enum_type.values] + [999])
    raise TypeError(field.type)


def plausible_text(data, world: World, name: str, kind: str | None) -> str:
    """A value that makes sense for a field of this name: mostly real, so that calls
    get past the first check and reach the code behind it."""
    if name == "page_token":
        return pick(data, world.page_tokens) if chance(data, 0.5) else data.draw(BOGUS_PAGE_TOKENS)
    if "token" in name:
        return pick(data, list(world.tokens.values()) + world.disposable_tokens)
    if "password" in name:
        return pick(data, world.passwords) if chance(data, 0.5) else data.draw(
            st.text(min_size=8, max_size=20))
    if name == "key":
        return pick(data, world.secrets)
    if name == "name":
        names = world.names.get(kind or "", []) or world.names["users"]
        return pick(data, names) if chance(data, 0.5) else f"fz-{data.draw(FRESH)}"
    if name in FIELD_VALUES:
        return data.draw(FIELD_VALUES[name])
    target = kind_of_field(name, kind)
    if target is not None:
        return pick(data, world.ids[target])
    return data.draw(st.text(max_size=16))


FRESH = st.integers(0, 10**6)
FIELD_VALUES = {
    "interface": st.sampled_from(["public", "internal", "admin"]),
    "url": st.sampled_from(["http://127.0.0.1:9/v1", "http://x/$(project_id)s", "https://e.test/"]),
    "email": st.just("fz@example.test"),
    "type": st.sampled_from(["compute", "image", "identity", "fz-type"]),
}


def _as_page_token(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Page tokens that look like the service's own (URL-safe base64 of a JSON list) but
# hold what it never gave out: huge integers, NUL, floats, nesting, wrong length.
BOGUS_PAGE_TOKENS = st.one_of(
    st.lists(st.one_of(integers_in(-2**70, 2**70), HOSTILE_TEXT, st.booleans(), st.floats(),
                       st.lists(st.integers(), max_size=2), st.none()),
             min_size=1, max_size=3).map(_as_page_token),
    st.sampled_from(["!!!", "====", "e30", "bnVsbA", "W10"]), HOSTILE_TEXT)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def mutate_wire(data, wire: bytes, descriptor) -> tuple[bytes, str]:
    mode = pick(data, WIRE_MODES)
    fields = list(descriptor.fields)
    if mode == "flipped" and wire:
        wire = bytearray(wire)
        for _ in range(pick(data, range(1, 4))):
            wire[pick(data, range(len(wire)))] = pick(data, [0, 0xFF, 0x80, 0x7F, 0x0A])
        return bytes(wire), mode
    if mode == "truncated" and wire:
        return wire[: pick(data, range(0, len(wire)))], mode
    if mode == "random":
        return data.draw(st.binary(max_size=64)), mode
    if mode == "unknown_field":
        return wire + _varint(999 << 3 | 2) + b"\x03abc", mode
    strings = [f for f in fields if f.type == F.TYPE_STRING]
    numbers = [f for f in fields if f.type in RANGES or f.type in (F.TYPE_BOOL, F.TYPE_ENUM)]
    if mode == "bad_utf8" and strings:
        field = pick(data, strings)
        junk = pick(data, [b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"a\x80"])
        return wire + _varint(field.number << 3 | 2) + _varint(len(junk)) + junk, mode
    if mode == "huge_varint" and numbers:
        field = pick(data, numbers)
        huge = pick(data, [2**64 - 1, 2**63, 2**32, 2])
        return wire + _varint(field.number << 3) + _varint(huge), mode
    return wire, "message"


def draw_case(data, world: World, rpc: Rpc, index: int) -> Case:
    message = draw_message(data, world, rpc.input.DESCRIPTOR, rpc.kind)
    if world.is_destructive(rpc.name):
        _spare(world, message, rpc.kind)
    wire, mode = mutate_wire(data, message.SerializeToString(), rpc.input.DESCRIPTOR)
    label = world.draw_caller(data, ["missing", "twice"])
    if label == "missing":
        metadata = ()
    elif label == "twice":
        metadata = (("x-auth-token", "garbage"), ("x-auth-token", world.tokens["admin-system"]))
    else:
        metadata = (("x-auth-token", world.tokens[label]),)
    return Case(index=index, transport="grpc", method=rpc.path, route=rpc.path, target=rpc.path,
                token_label=label, headers=metadata, body=wire,
                shown=f"{rpc.input.DESCRIPTOR.name}{describe(message)} wire={mode}",
                secrets=secrets_in(_strings(message)), rpc=rpc)


def _spare(world: World, message, kind: str | None) -> None:
    for field, value in message.ListFields():
        if field.type == F.TYPE_MESSAGE:
            if not field.message_type.GetOptions().map_entry:
                for item in (value if field.is_repeated else [value]):
                    _spare(world, item, kind)
        elif field.type == F.TYPE_STRING:
            target = kind_of_field(field.name, kind)
            if field.is_repeated:
                value[:] = [world.spare(v, target) for v in value]
            else:
                setattr(message, field.name, world.spare(value, target))


def _strings(message):
    for field, value in message.ListFields():
        if field.type == F.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry:
            for item in (value if field.is_repeated else [value]):
                yield from _strings(item)
        elif field.type == F.TYPE_STRING and not field.is_repeated:
            yield field.name, value


def describe(message) -> str:
    """The set fields, with `compact` values: readable, and exact for strings."""
    parts = []
    for field, value in message.ListFields():
        if field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            shown = compact(dict(value))
        elif field.type == F.TYPE_MESSAGE:
            shown = (f"[{', '.join(describe(v) for v in value)}]" if field.is_repeated
                     else describe(value))
        else:
            shown = compact(list(value) if field.is_repeated else value)
        parts.append(f"{field.name}={shown}")
    return "{" + ", ".join(parts) + "}"


# ---- sending it ---------------------------------------------------------------------

def send(channel: grpc.Channel, world: World, case: Case, timeout: float) -> Outcome:
    rpc = case.rpc
    serializer = lambda raw: raw  # noqa: E731 - the bytes go out exactly as drawn
    try:
        if rpc.streaming:
            call = channel.unary_stream(rpc.path, request_serializer=serializer,
                                        response_deserializer=rpc.output.FromString)(
                case.body, metadata=case.headers, timeout=timeout)
            try:
                world.harvest_message(next(call))
            except StopIteration:
                pass
            finally:
                call.cancel()
        else:
            response = channel.unary_unary(rpc.path, request_serializer=serializer,
                                           response_deserializer=rpc.output.FromString)(
                case.body, metadata=case.headers, timeout=timeout)
            world.harvest_message(response)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED and rpc.streaming:
            return Outcome("OK", "")
        return Outcome(e.code().name, e.details() or "")
    return Outcome("OK", "")
