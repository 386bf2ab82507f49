"""The keys that encrypt credential blobs at rest: a repository of their own.

Kept apart from the token signing keys (`tokens/keys.py`) but in the same scheme, the
one Keystone uses for its credential keys: one directory (`credential_key_dir`), one
Fernet key per file, named by integer.

* ``0`` is the *staged* key: it decrypts but never encrypts. The next rotation makes
  it the primary, so once the directory has been copied to every replica each of them
  can already read what the new primary will write.
* the highest number is the *primary*, the only key that encrypts.
* the others are *secondaries*: former primaries, kept until no row is encrypted with
  them any more (`identity-manage credential-keys rotate` re-encrypts every row with
  the new primary, then drops the secondaries no row needs).

Each row records the hash of the key that encrypted it (`key_hash`), so decrypting
takes the right key at once and a rotation knows which rows to re-encrypt. The
encryption is `cryptography`'s Fernet (AES-128-CBC with HMAC-SHA256, authenticated):
nothing here is hand-rolled. The directory is read when first needed and again
whenever it changes on disk (one readdir and a stat per key), so a rotation on this
node, or a copy from another, takes effect without a restart.
"""

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import FailedPrecondition
from . import key_files



# The credential key repository is missing, empty or unreadable, or a row was encrypted
# with a key it no longer holds: no blob can be read or written. FAILED_PRECONDITION /
# HTTP 409 with the fix in the message (transports map the error's exact type).
CredentialKeyError = FailedPrecondition


def key_hash(key: bytes) -> str:
    """What a row records of the key that encrypted it: a hash, never the key."""
    return hashlib.sha256(key).hexdigest()


@dataclass(frozen=True, slots=True)
class CredentialKeySet:
    """One consistent view of the repository; replaced whole, never changed."""

    primary_hash: str
    by_hash: dict[str, Fernet]
    indexes: dict[int, str]  # file number -> key hash
    fingerprint: tuple

    def encrypt(self, plaintext: str) -> tuple[str, str]:
        """(the encrypted blob, the hash of the key that encrypted it)."""
        token = self.by_hash[self.primary_hash].encrypt(plaintext.encode("utf-8"))
        return token.decode("ascii"), self.primary_hash

    def decrypt(self, encrypted: str, hashed: str, what: str) -> str:
        fernet = self.by_hash.get(hashed)
        if fernet is None:
            raise CredentialKeyError(f"{what} was encrypted with a key that is no longer in "
                                     "the credential key repository")
        try:
            return fernet.decrypt(encrypted.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise CredentialKeyError(f"{what} cannot be decrypted with its key "
                                     "(the row or the key was altered)") from None

    def reencrypt(self, encrypted: str, hashed: str, what: str) -> tuple[str, str]:
        """The blob encrypted with the primary key (unchanged if it already is)."""
        if hashed == self.primary_hash:
            return encrypted, hashed
        return self.encrypt(self.decrypt(encrypted, hashed, what))


def _load(directory: Path) -> CredentialKeySet:
    try:
        fingerprint = key_files.fingerprint(directory)
    except FileNotFoundError:
        raise CredentialKeyError(
            f"credential key directory {directory} does not exist: run `identity-manage "
            "init` (or `identity-manage credential-keys setup`) to create it") from None
    except OSError as e:
        raise CredentialKeyError(f"credential key directory {directory}: cannot read: "
                                 f"{e.strerror}") from None
    by_hash, indexes = {}, {}
    for name, *_ in fingerprint:
        path = directory / name
        try:
            raw = path.read_bytes().strip()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CredentialKeyError(f"{path}: cannot read: {e.strerror}") from None
        try:
            fernet = Fernet(raw)
        except (ValueError, TypeError):
            raise CredentialKeyError(f"{path}: not a Fernet key") from None
        hashed = key_hash(raw)
        by_hash[hashed] = fernet
        indexes[int(name)] = hashed
    if max(indexes, default=0) == 0:
        raise CredentialKeyError(
            f"no credential key in {directory}: run `identity-manage init` (or "
            "`identity-manage credential-keys setup`) to create one")
    return CredentialKeySet(indexes[max(indexes)], by_hash, indexes, fingerprint)


class CredentialKeys:
    """The credential key repository of one server (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._key_set: CredentialKeySet | None = None

    @classmethod
    def initialize(cls, directory: str | os.PathLike) -> "CredentialKeys":
        """Create the repository (a staged and a primary key) if it has no keys yet;
        existing keys are kept, since replacing them would make every row unreadable."""
        directory = Path(directory)
        try:
            directory.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        else:
            os.chmod(directory, 0o700)
        if not key_files.fingerprint(directory):
            key_files.write_key(directory, 0, Fernet.generate_key())
            key_files.write_key(directory, 1, Fernet.generate_key())
            key_files.fsync_dir(directory)
        return cls(directory)

    @property
    def key_set(self) -> CredentialKeySet:
        """The keys as the directory holds them now (read again when it changed);
        CredentialKeyError when there are none."""
        current = self._key_set
        try:
            unchanged = current is not None and key_files.fingerprint(self.directory) == current.fingerprint
        except OSError:
            unchanged = False
        if unchanged:
            return current
        with self._lock:
            self._key_set = _load(self.directory)
            return self._key_set

    def rotate(self) -> str:
        """Promote the staged key to primary and stage a new one. Returns the new
        primary's hash. Secondaries are kept: see `drop_unused`."""
        directory = self.directory
        with self._lock:
            indexes = sorted(_load(directory).indexes)
            primary = max(indexes) + 1
            if 0 in indexes:
                os.replace(directory / "0", directory / str(primary))
            else:
                key_files.write_key(directory, primary, Fernet.generate_key())
            key_files.write_key(directory, 0, Fernet.generate_key())
            key_files.fsync_dir(directory)
            self._key_set = _load(directory)
            return self._key_set.primary_hash

    def drop_unused(self, in_use: set[str]) -> list[int]:
        """Delete the secondary keys whose hash no row records, except the newest (the
        primary before the last rotation: a replica not yet given the rotated
        directory still encrypts with it). The file numbers gone."""
        directory = self.directory
        with self._lock:
            keys = _load(directory)
            primary = max(keys.indexes)
            secondaries = [i for i in sorted(keys.indexes) if 0 < i < primary]
            gone = [i for i in secondaries[:-1] if keys.indexes[i] not in in_use]
            for index in gone:
                os.unlink(directory / str(index))
            key_files.fsync_dir(directory)
            self._key_set = _load(directory)
            return gone

    def multi(self) -> MultiFernet:
        """Every active key, the primary first (for tools and tests)."""
        keys = self.key_set
        ordered = [keys.by_hash[keys.primary_hash]] + [
            f for h, f in keys.by_hash.items() if h != keys.primary_hash]
        return MultiFernet(ordered)
