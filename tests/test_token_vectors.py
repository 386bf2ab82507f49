"""The token format pinned by golden vectors (tests/fixtures/tokens.json), in both
directions and through both entry points: the service's TokenCodec (its keys on
disk) and the client library's decode_token (keys as GetSigningKeys gives them).

A failure here means the format changed: tokens in circulation, and consumer
libraries already deployed, would stop agreeing with the service."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from identity_api import tokens
from identity_api.tokens import TokenPayload, UnknownSigningKey

from identity_client.verifier import TokenRejected, decode_token
from identity_grpc.errors import Unauthenticated
from identity_grpc.tokens.codec import TokenCodec
from identity_grpc.tokens.keys import KeyRepository, key_id_of

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "tokens.json").read_text())
PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["key"]["private_seed"]))
KEY_ID = bytes.fromhex(VECTORS["key"]["key_id"])
PUBLIC_KEYS = {KEY_ID: PRIVATE_KEY.public_key()}  # what a consumer fetched


def payload_of(vector: dict) -> TokenPayload:
    fields = dict(vector["payload"])
    return TokenPayload(**{**fields, "methods": tuple(fields["methods"]),
                           "audit_ids": tuple(fields["audit_ids"])})


def named(cases):
    return pytest.mark.parametrize("vector", cases, ids=[c["name"] for c in cases])


@pytest.fixture(scope="module")
def codec(tmp_path_factory) -> TokenCodec:
    """The service's codec, over a key repository holding the vectors' key as primary."""
    directory = tmp_path_factory.mktemp("keys")
    pem = PRIVATE_KEY.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    (directory / "1").write_bytes(pem)
    (directory / "1").chmod(0o600)
    return TokenCodec(KeyRepository(directory))


def test_the_key_is_named_as_the_service_names_its_keys():
    public = bytes.fromhex(VECTORS["key"]["public_key"])
    assert PRIVATE_KEY.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw) == public
    assert key_id_of(public) == KEY_ID


def test_the_vectors_cover_every_method_and_scope_type():
    payloads = [payload_of(v) for v in VECTORS["tokens"]]
    assert {m for p in payloads for m in p.methods} == set(tokens.METHODS)
    assert {p.scope_type for p in payloads} == set(tokens.SCOPE_TYPES)
    assert any(len(p.audit_ids) == 2 for p in payloads)


@named(VECTORS["tokens"])
def test_encoding_the_payload_gives_exactly_the_token(vector, codec):
    payload = payload_of(vector)
    assert tokens.encode(payload, KEY_ID, PRIVATE_KEY) == vector["token"]
    assert codec.encode(payload) == vector["token"]


@named(VECTORS["tokens"])
def test_decoding_the_token_gives_exactly_the_payload(vector, codec):
    payload = payload_of(vector)
    assert codec.decode(vector["token"]) == payload
    assert decode_token(vector["token"], PUBLIC_KEYS) == payload
    assert tokens.signing_key_id(vector["token"]) == KEY_ID.hex()


@named(VECTORS["malformed"])
def test_malformed_token_is_refused_by_the_service(vector, codec):
    with pytest.raises(Unauthenticated) as refused:
        codec.decode(vector["token"])
    assert str(refused.value) == vector["error"]


@named(VECTORS["malformed"])
def test_malformed_token_is_refused_by_the_client(vector):
    with pytest.raises((TokenRejected, UnknownSigningKey)) as refused:
        decode_token(vector["token"], PUBLIC_KEYS)
    assert str(refused.value) == vector["error"]
