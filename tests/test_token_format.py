"""Unit tests of the token format and the signing key repository."""

import base64
import os
import random
import shutil
import stat
import struct
import uuid

import pytest
from identity_api.tokens import METHODS, MAX_TOKEN_LENGTH, TokenPayload, new_audit_id

from identity_grpc.errors import Unauthenticated
from identity_grpc.tokens.codec import TokenCodec
from identity_grpc.tokens.keys import KeyRepository, KeyRepositoryError


def hex_id() -> str:
    return uuid.uuid4().hex


def payload(scope_type="project", scope_id="", **kw) -> TokenPayload:
    if scope_id == "":
        scope_id = {"unscoped": None, "system": "all"}.get(scope_type, hex_id())
    fields = dict(user_id=hex_id(), methods=("password",), scope_type=scope_type, scope_id=scope_id,
                  issued_at=1_700_000_000_123, expires_at=1_700_003_600, audit_ids=(new_audit_id(),))
    fields.update(kw)
    return TokenPayload(**fields)


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def repo(tmp_path):
    return KeyRepository.initialize(tmp_path / "keys")


@pytest.fixture
def codec(repo):
    return TokenCodec(repo)


def rejected(codec, token, match=None):
    with pytest.raises(Unauthenticated, match=match):
        codec.decode(token)


# --- format ---------------------------------------------------------------


@pytest.mark.parametrize("p", [
    payload("unscoped"), payload("project"), payload("domain", "default"), payload("domain"),
    payload("system"),
    payload(methods=("password", "token"), audit_ids=(new_audit_id(), new_audit_id())),
    payload(methods=("password", "token", "api_key"), api_key_id=hex_id()),
    payload(methods=("api_key",), api_key_id=hex_id(), issued_at=0, expires_at=2**32 - 1),
    payload(issued_at=(2**32 - 1) * 1000, expires_at=2**32 - 1),  # past 32 bits of milliseconds
    payload(methods=("api_key",), api_key_id="key-1"),
    payload(methods=("token", "api_key"), api_key_id=hex_id(),
            audit_ids=(new_audit_id(), new_audit_id())),
    payload(user_id="admin", scope_id="Δ-project"),
])
def test_round_trip(codec, p):
    token = codec.encode(p)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert TokenCodec(codec._keys).decode(token) == p  # fresh codec: no cache
    assert codec.decode(token) == p


def test_ids_reproduced_exactly(codec):
    for value in ["default", "ABCDEF0123456789ABCDEF0123456789", "0" * 31, "a" * 32, hex_id(), "x"]:
        p = payload("domain", value, user_id=value)
        assert codec.decode(codec.encode(p)) == p


def test_a_directory_users_public_id_takes_32_bytes_and_comes_back_exactly(codec):
    """LDAP users' ids are sha256 hex (identity_grpc/id_mapping.py): tag 2, 32 bytes."""
    import hashlib
    mapped = hashlib.sha256(b"x").hexdigest()
    hex_form = payload("project", user_id=hex_id())
    p = payload("project", user_id=mapped, methods=("password", "token"),
                audit_ids=(new_audit_id(), new_audit_id()))
    token = codec.encode(p)
    assert codec.decode(token) == p and len(token) <= MAX_TOKEN_LENGTH
    assert len(codec.encode(payload("project", user_id=mapped))) > len(codec.encode(hex_form))
    with pytest.raises(ValueError):  # upper case is no public id, and too long for tag 1
        codec.encode(payload("domain", mapped.upper(), user_id=mapped))


def test_size_bound(codec):
    for long_id in ("x" * 32, "é" * 16):
        p = payload("project", long_id, user_id=long_id, methods=("password", "token"),
                    audit_ids=(new_audit_id(), new_audit_id()))
        token = codec.encode(p)
        assert len(token) <= MAX_TOKEN_LENGTH
        assert codec.decode(token) == p


def test_api_key_token_size(codec):
    """What the service issues (hex ids everywhere) fits with room to spare; so does
    an api key token with long user and project ids, issued once (one audit id)."""
    p = payload(methods=("api_key",), api_key_id=hex_id())
    assert len(codec.encode(p)) == 199  # version 1 (issue time in seconds): 196
    rescoped = payload(methods=("token", "api_key"), api_key_id=hex_id(),
                       audit_ids=(new_audit_id(), new_audit_id()))
    assert len(codec.encode(rescoped)) == 220  # version 1: 218
    for long_id in ("x" * 32, "é" * 16):
        p = payload("project", long_id, user_id=long_id, methods=("api_key",),
                    api_key_id=hex_id())
        token = codec.encode(p)
        assert len(token) <= MAX_TOKEN_LENGTH
        assert codec.decode(token) == p


def test_api_key_id_is_signed_and_distinguishes_tokens(codec):
    base = payload(methods=("api_key",), api_key_id=hex_id())
    other = payload(methods=("api_key",), api_key_id=hex_id(), user_id=base.user_id,
                    scope_id=base.scope_id, audit_ids=base.audit_ids)
    assert codec.decode(codec.encode(base)).api_key_id == base.api_key_id
    assert codec.encode(base) != codec.encode(other)


def test_tokens_without_api_key_are_unchanged(codec):
    """The api key id costs nothing when absent: the old layout, byte for byte."""
    p = payload(methods=("password", "token"), audit_ids=(new_audit_id(),) * 2)
    data = raw(codec.encode(p))
    assert len(data) == 17 + 17 + 17 + 1 + 32 + 64


@pytest.mark.parametrize("bad", [
    dict(user_id=""), dict(user_id="x" * 33), dict(scope_id="é" * 17), dict(scope_id=None),
    dict(scope_type="tenant"), dict(scope_type="unscoped", scope_id="abc"),
    dict(scope_type="system", scope_id=None), dict(methods=()), dict(methods=("token", "password")),
    dict(methods=("password", "password")), dict(methods=("oauth",)), dict(audit_ids=()),
    dict(audit_ids=(new_audit_id(),) * 3), dict(audit_ids=("short",)),
    dict(audit_ids=("A" * 21 + "B",)),  # non-zero spare bits
    dict(issued_at=-1), dict(issued_at=2**48), dict(expires_at=2**32), dict(expires_at=1),
    dict(issued_at=1_700_003_600_001),  # a millisecond after it expires
    dict(methods=("api_key",)), dict(methods=("api_key",), api_key_id=""),
    dict(methods=("api_key",), api_key_id="x" * 33), dict(api_key_id="abc"),
    # Every id in the long form and two audit ids: more than 255 characters.
    dict(methods=("token", "api_key"), user_id="x" * 32, scope_id="y" * 32,
         api_key_id="z" * 32, audit_ids=(new_audit_id(), new_audit_id())),
])
def test_encode_rejects_bad_payload(codec, bad):
    with pytest.raises(ValueError):
        codec.encode(payload(**bad))


def test_new_audit_id():
    ids = {new_audit_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(a) == 22 and len(raw(a)) == 16 for a in ids)


def test_every_byte_flip_rejected(codec):
    token = codec.encode(payload(methods=("password", "token"), audit_ids=(new_audit_id(),) * 2))
    codec.decode(token)  # warm the cache with the genuine token
    data = raw(token)
    for i in range(len(data)):
        for mask in (0x01, 0x80):
            tampered = bytearray(data)
            tampered[i] ^= mask
            rejected(codec, b64(bytes(tampered)))


def test_truncated_and_extended_rejected(codec):
    token = codec.encode(payload())
    for n in range(len(token)):
        rejected(codec, token[:n])
    rejected(codec, b64(raw(token) + b"\0"))
    rejected(codec, b64(raw(token)[:-1]))
    rejected(codec, token[:-1] + "A" if token[-1] != "A" else token[:-1] + "B")


def test_messages(codec, tmp_path):
    token = codec.encode(payload())
    data = raw(token)
    rejected(codec, token + "!", "alphabet")
    rejected(codec, token + "=", "alphabet")
    rejected(codec, "A" * 5, "base64")
    rejected(codec, "AAAA", "truncated")
    rejected(codec, "x" * 256, "malformed")
    rejected(codec, b64(b"\x03" + data[1:]), "version")
    rejected(codec, b64(b"\x01" + data[1:]), "version")  # version 1: seconds, refused
    rejected(codec, b64(data[:1] + b"\0\0\0\0" + data[5:]), "unknown or retired key")
    rejected(codec, b64(data[:-1] + bytes([data[-1] ^ 1])), "signature")
    other = TokenCodec(KeyRepository.initialize(tmp_path / "other"))
    rejected(codec, other.encode(payload()), "unknown or retired key")


def test_signed_but_malformed_payloads_rejected(codec, repo):
    """Bodies only a holder of the key could produce; decode must still not crash."""
    key = repo.primary
    # version, key id, methods, scope, issued (high 16, low 32 bits), expires
    header = struct.Struct(">B4sBBHII")
    head = header.pack(2, key.key_id, 1, 1, 0, 0, 1)
    audit = b"\x01" + b"a" * 16
    hex_user = b"\x00" + b"u" * 16
    bodies = [
        header.pack(2, key.key_id, 0, 1, 0, 0, 1) + hex_user * 2 + audit,  # no methods
        header.pack(2, key.key_id, 1 << len(METHODS), 1, 0, 0, 1) + hex_user * 2 + audit,  # unknown method
        header.pack(2, key.key_id, 1, 9, 0, 0, 1) + hex_user * 2 + audit,  # unknown scope
        head + b"\x02" + b"u" * 16 + hex_user + audit,  # unknown id tag
        head + b"\x01\x00" + hex_user + audit,  # empty id
        head + b"\x01\x21" + b"u" * 33 + hex_user + audit,  # id too long
        head + b"\x01\x02\xff\xfe" + hex_user + audit,  # not UTF-8
        head + b"\x01\x20" + b"a" * 32 + hex_user + audit,  # hex id in long form
        head + hex_user * 2 + b"\x03" + b"a" * 48,  # three audit ids
        head + hex_user * 2 + b"\x00",  # no audit id
        head + hex_user * 2 + audit + b"\0",  # trailing byte
        head + hex_user * 2 + audit[:-1],  # short audit id
        head + b"\x01\x30" + b"u" * 30,  # length past the end
        header.pack(2, key.key_id, 4, 1, 0, 0, 1) + hex_user * 2 + audit,  # api key id missing
        header.pack(2, key.key_id, 4, 1, 0, 0, 1) + hex_user * 2 + b"\x02" + audit,  # bad key id tag
        header.pack(2, key.key_id, 1, 1, 0, 0, 1) + hex_user * 3 + audit,  # key id without api_key
    ]
    for body in bodies:
        rejected(codec, b64(body + key.private_key.sign(body)), "malformed|truncated")


def test_fuzz_never_raises_anything_else(codec):
    rng = random.Random(1234)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    token = codec.encode(payload())
    inputs = [None, 42, b"bytes", ["x"], "", " ", "\0", "é" * 10, token + "\n", " " + token]
    for _ in range(300):
        n = rng.randrange(300)
        inputs.append(bytes(rng.randrange(256) for _ in range(n)).decode("latin-1"))
        inputs.append("".join(rng.choice(alphabet) for _ in range(n)))
        inputs.append(b64(bytes(rng.randrange(256) for _ in range(n))))
        mutated = list(token)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.choice(alphabet + "=+/.!é")
        if "".join(mutated) != token:
            inputs.append("".join(mutated))
    for value in inputs:
        rejected(codec, value)


def test_verified_cache(repo):
    codec = TokenCodec(repo, verified_cache_size=2)
    tokens = [codec.encode(payload()) for _ in range(3)]
    first = codec.decode(tokens[0])
    assert codec.decode(tokens[0]) is first  # served from the cache
    codec.decode(tokens[1])
    codec.decode(tokens[2])
    assert tokens[0] not in codec._cache[1]  # oldest evicted
    assert len(codec._cache[1]) == 2


# --- keys and rotation ----------------------------------------------------


def test_initialize_layout_and_idempotence(tmp_path):
    directory = tmp_path / "a" / "keys"
    repo = KeyRepository.initialize(directory)
    assert repo.indexes() == [0, 1]
    assert repo.primary.index == 1
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("0", "1"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
        assert (directory / name).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    again = KeyRepository.initialize(directory)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert again.primary.key_id == repo.primary.key_id
    assert set(repo.public_keys()) == {k.hex() for k in repo.key_set.by_id}
    assert all(len(v) == 32 for v in repo.public_keys().values())


def test_unusable_repository_is_a_clear_error(tmp_path):
    staged_only = KeyRepository.initialize(tmp_path / "staged").directory
    os.unlink(staged_only / "1")
    for directory in (tmp_path / "nowhere", tmp_path / "staged", tmp_path):
        with pytest.raises(KeyRepositoryError, match="identity-manage init") as e:
            KeyRepository(directory)
        assert str(directory) in str(e.value)
    with pytest.raises(ValueError):
        KeyRepository.initialize(tmp_path / "few", max_active_keys=1)


@pytest.mark.parametrize("max_active", [2, 3, 5])
def test_rotation_respects_max_active_keys(tmp_path, max_active):
    repo = KeyRepository.initialize(tmp_path, max_active_keys=max_active)
    for n in range(2, 9):
        assert repo.rotate() == n
        assert repo.primary.index == n
        on_disk = sorted(int(p.name) for p in tmp_path.iterdir())
        assert on_disk == repo.indexes()
        assert on_disk[0] == 0 and on_disk[-1] == n
        assert len(on_disk) == min(n + 1, max_active)
        assert on_disk[1:] == list(range(n - len(on_disk) + 2, n + 1))  # newest kept
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())


def test_rotation_keeps_old_tokens_until_key_retired(repo, codec):
    old = codec.encode(payload())
    old_payload = codec.decode(old)  # warm the verified cache
    staged = repo.key_set.keys[0].key_id
    assert repo.rotate() == 2
    assert repo.primary.key_id == staged
    assert codec.decode(old) == old_payload  # signed by a secondary now
    new = codec.encode(payload())
    assert raw(new)[1:5] == staged
    repo.rotate()  # max_active_keys=3: key 1, which signed `old`, is deleted
    assert repo.indexes() == [0, 2, 3]
    rejected(codec, old, "unknown or retired key")
    assert codec.decode(new)


def test_staged_key_already_verifies(tmp_path, repo, codec):
    copy = tmp_path / "copy"
    shutil.copytree(repo.directory, copy)
    promoted = KeyRepository(copy)
    promoted.rotate()
    token = TokenCodec(promoted).encode(payload())
    assert codec.decode(token).scope_type == "project"


def test_second_instance_sees_rotation_after_reload(repo):
    other = KeyRepository(repo.directory)
    other_codec = TokenCodec(other)
    assert other.reload_if_changed() is False
    generation = other.generation
    repo.rotate()
    repo.rotate()
    assert other.reload_if_changed() is True
    assert other.generation != generation
    assert other.reload_if_changed() is False
    assert other.indexes() == repo.indexes() == [0, 2, 3]
    assert other.primary.key_id == repo.primary.key_id
    assert other_codec.decode(TokenCodec(repo).encode(payload()))


def test_corrupt_key_file_is_reported(tmp_path):
    KeyRepository.initialize(tmp_path)
    (tmp_path / "1").write_bytes(b"not a key")
    with pytest.raises(KeyRepositoryError, match="PEM"):
        KeyRepository(tmp_path)


def test_stray_files_ignored(repo):
    (repo.directory / ".tmp-key-leftover").write_bytes(b"junk")
    (repo.directory / "README").write_bytes(b"junk")
    (repo.directory / "01").write_bytes(b"junk")
    assert repo.reload_if_changed() is False
    assert KeyRepository(repo.directory).indexes() == [0, 1]
    os.unlink(repo.directory / "01")
