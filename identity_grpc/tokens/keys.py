"""Token signing keys, kept the way Keystone keeps its fernet keys.

One directory, one PEM file per Ed25519 key, named by integer:

* ``0`` is the *staged* key: it verifies but never signs. The next rotation makes it
  the primary, so once the repository has been copied to every replica, each of them
  already accepts the tokens the new primary will sign.
* the highest number is the *primary*, the only key that signs.
* the others are *secondaries*, former primaries kept so that the tokens they signed
  stay valid until they expire. Deleting one revokes every token it signed.

Keys are read once and kept in memory because validation must never touch the disk.
A reload builds a complete new `KeySet` and swaps one attribute, so a reader sees the
old key set or the new one, never a mix, without taking a lock.
"""

import hashlib
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from identity_api.tokens import KEY_ID_SIZE

from .. import key_files

# Process-wide so that no two key sets, even of different repositories, share one:
# caches keyed by generation can then never confuse them.
_generations = itertools.count(1)


class KeyRepositoryError(RuntimeError):
    """The key directory is missing, empty or unreadable: no token can be issued."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    index: int
    key_id: bytes
    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey
    public_bytes: bytes


@dataclass(frozen=True, slots=True)
class KeySet:
    """One consistent view of the repository; replaced whole, never changed."""

    generation: int
    primary: SigningKey
    keys: dict[int, SigningKey]
    by_id: dict[bytes, Ed25519PublicKey]
    fingerprint: tuple

    def verifier(self, key_id: bytes) -> Ed25519PublicKey | None:
        return self.by_id.get(key_id)


def key_id_of(public_bytes: bytes) -> bytes:
    """Tokens name their key by this so that verification costs one signature check,
    not one per active key."""
    return hashlib.sha256(public_bytes).digest()[:KEY_ID_SIZE]


def _signing_key(index: int, private_key: Ed25519PrivateKey) -> SigningKey:
    public_key = private_key.public_key()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(index, key_id_of(raw), private_key, public_key, raw)


def _check_max_active_keys(value: int) -> int:
    # Fewer than two would leave no room for the staged key next to the primary.
    if not isinstance(value, int) or value < 2:
        raise ValueError(f"max_active_keys must be at least 2, got {value!r}")
    return value


def _new_key(taken: set[bytes]) -> Ed25519PrivateKey:
    """A fresh key whose id no active key has (ids are 4 bytes: rare, not impossible)."""
    while True:
        key = Ed25519PrivateKey.generate()
        key_id = _signing_key(0, key).key_id
        if key_id not in taken:
            taken.add(key_id)
            return key


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _key_indexes(directory: Path) -> list[int]:
    return sorted(int(name) for name, *_ in key_files.fingerprint(directory))


def _load(directory: Path) -> KeySet:
    try:
        # Taken before reading: a change during the read shows at the next check.
        fingerprint = key_files.fingerprint(directory)
    except FileNotFoundError:
        raise KeyRepositoryError(
            f"key directory {directory} does not exist: run `identity-manage init` to create it"
        ) from None
    except OSError as e:  # not a directory, no permission
        raise KeyRepositoryError(f"key directory {directory}: cannot read: {e.strerror}") from None
    keys: dict[int, SigningKey] = {}
    for name, *_ in fingerprint:
        path = directory / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise KeyRepositoryError(f"{path}: cannot read: {e.strerror}") from None
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise KeyRepositoryError(f"{path}: not an unencrypted PEM private key") from e
        if not isinstance(private_key, Ed25519PrivateKey):
            raise KeyRepositoryError(f"{path}: not an Ed25519 key")
        keys[int(name)] = _signing_key(int(name), private_key)
    if max(keys, default=0) == 0:
        raise KeyRepositoryError(
            f"no token signing key in {directory}: run `identity-manage init` to create one"
        )
    by_id, public_bytes = {}, {}
    for key in keys.values():
        # One key under two names is a repository caught mid-copy from the node that
        # rotated: the new primary has arrived, the new staged key not yet. Harmless.
        if public_bytes.setdefault(key.key_id, key.public_bytes) != key.public_bytes:
            raise KeyRepositoryError(f"{directory}: two keys share the key id {key.key_id.hex()}")
        by_id[key.key_id] = key.public_key
    primary = keys[max(keys)]
    return KeySet(next(_generations), primary, keys, by_id, fingerprint)


class KeyRepository:
    """The signing keys of one service; see the module docstring for the scheme.

    Rotation is meant to run on one node, then the directory is copied to the others,
    which pick it up with `reload_if_changed` (poll it, e.g. every few seconds).
    """

    def __init__(self, directory: str | os.PathLike, max_active_keys: int = 3):
        self.directory = Path(directory)
        self.max_active_keys = _check_max_active_keys(max_active_keys)
        self._write_lock = threading.Lock()  # reload and rotate only; reads take none
        self._key_set = _load(self.directory)

    @classmethod
    def initialize(cls, directory: str | os.PathLike, max_active_keys: int = 3) -> "KeyRepository":
        """Create the repository if needed; existing keys are kept, never replaced,
        since replacing them would revoke every token in circulation."""
        _check_max_active_keys(max_active_keys)
        directory = Path(directory)
        try:
            directory.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        else:
            os.chmod(directory, 0o700)  # whatever the umask
        if not _key_indexes(directory):
            taken: set[bytes] = set()
            key_files.write_key(directory, 0, _pem(_new_key(taken)))
            key_files.write_key(directory, 1, _pem(_new_key(taken)))
            key_files.fsync_dir(directory)
        return cls(directory, max_active_keys)

    @property
    def key_set(self) -> KeySet:
        """Read once per operation, so it uses one consistent set of keys."""
        return self._key_set

    @property
    def generation(self) -> int:
        """Changes whenever the keys do, so caches of verified tokens know to drop."""
        return self._key_set.generation

    @property
    def primary(self) -> SigningKey:
        return self._key_set.primary

    def verifier(self, key_id: bytes) -> Ed25519PublicKey | None:
        return self._key_set.verifier(key_id)

    def public_keys(self) -> dict[str, bytes]:
        return {k.key_id.hex(): k.public_bytes for k in self._key_set.keys.values()}

    def indexes(self) -> list[int]:
        return sorted(self._key_set.keys)

    def reload_if_changed(self) -> bool:
        """Re-read the keys if the directory changed. On error the keys in memory stay
        in effect and the error propagates."""
        with self._write_lock:
            if key_files.fingerprint(self.directory) == self._key_set.fingerprint:
                return False
            self._key_set = _load(self.directory)
            return True

    def rotate(self) -> int:
        """Promote the staged key, stage a new one, and drop the oldest secondaries
        (revoking their tokens) beyond `max_active_keys`. Returns the new primary."""
        directory = self.directory
        with self._write_lock:
            indexes = _key_indexes(directory)
            primary = max(indexes, default=0) + 1
            taken = set(self._key_set.by_id)
            if 0 in indexes:
                os.replace(directory / "0", directory / str(primary))
            else:  # staged key lost: the new primary is one no replica has seen yet
                key_files.write_key(directory, primary, _pem(_new_key(taken)))
            key_files.write_key(directory, 0, _pem(_new_key(taken)))
            secondaries = [i for i in _key_indexes(directory) if 0 < i < primary]
            excess = len(secondaries) + 2 - self.max_active_keys
            for index in secondaries[: max(excess, 0)]:
                os.unlink(directory / str(index))
            key_files.fsync_dir(directory)
            self._key_set = _load(directory)
            return primary
