"""One training process per run folder: an advisory ``flock`` on ``<out_dir>/.lock``.

Two ``sfkeras train`` into the same folder would interleave checkpoints and write every
dvclive row twice. The lock is held through an open file descriptor, so the operating
system releases it whenever the holder exits, however it exits (``kill -9`` included):
there is never a stale lock to remove by hand. The lock file itself stays, holding the
holder's process id for the message. POSIX only (``fcntl``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
from collections.abc import Iterator

from sfkeras.errors import OutputError, RunFolderInUseError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def run_folder_lock(out_dir: str | pathlib.Path) -> Iterator[pathlib.Path]:
    """Hold the exclusive lock of run folder ``out_dir`` (created if missing) in the block.

    Yields:
        The lock file's path.

    Raises:
        RunFolderInUseError: another process holds it (the message names its pid).
        OutputError: the folder or the lock file cannot be created.
    """
    path = pathlib.Path(out_dir) / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(f"cannot create the run folder lock {path}: {error.strerror}; "
                          "train into a writable folder (--out)") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            raise RunFolderInUseError(
                f"{path.parent} is in use by another training process (pid {holder}): wait "
                "for it to finish or stop it, or train into another folder (--out)") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(descriptor)  # releases the lock
