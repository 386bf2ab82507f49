"""The files of a key directory (token signing keys, credential keys): keys named
0, 1, 2... (0 staged, the highest primary), written atomically and watched cheaply.
Both repositories keep their keys this way; what a key is and how it is rotated is
their own (`tokens/keys.py`, `credential_keys.py`)."""

import contextlib
import os
import re
import tempfile
from pathlib import Path

KEY_NAME = re.compile(r"0|[1-9][0-9]*")


def fingerprint(directory: Path) -> tuple:
    """Cheap enough to poll: one readdir and a stat per key. The inode catches a key
    replaced within the same timestamp tick (keys of one kind have the same size)."""
    entries = []
    with os.scandir(directory) as it:
        for entry in it:
            if not KEY_NAME.fullmatch(entry.name):
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # removed by a rotation under way
                continue
            entries.append((entry.name, entry.inode(), st.st_mtime_ns, st.st_size))
    return tuple(sorted(entries))


def write_key(directory: Path, index: int, data: bytes) -> None:
    """Key `index` holding `data`, written atomically (mode 0600) so that a concurrent
    reader never loads half a key."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-key-")  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, directory / str(index))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (new and renamed keys) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
