"""Atomic file writes: an output appears complete or not at all, never half-written."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _read_umask() -> int:
    """The process umask. Reading it means setting it, so this runs once, at import, and
    not beside threads that create files (the batch job writes from Dask threads)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


@contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; publish it on success.

    On leaving the block normally the data is flushed to disk, given the usual mode
    (0666 less the umask; ``mkstemp`` creates 0600) and renamed onto ``path`` in one
    step. On an exception (Ctrl-C included) the temporary file is removed and ``path``
    is left as it was; a failed write (a full disk, say) names ``path``. Missing parent
    folders are created. The temporary name is short, so that a name near the file
    system's limit can still be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".nh-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.filename is not None and str(err.filename) != tmp:
            raise
        hint = ("; free some space or choose another folder" if err.errno == errno.ENOSPC
                else "")
        raise OSError(err.errno, f"{err.strerror or err}{hint}", str(path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through :func:`atomic_open`."""
    with atomic_open(path) as fh:
        fh.write(blob)


def check_writable(folder) -> Path:
    """Make sure files can be created in ``folder`` (made if missing) before any work.

    Raises
    ------
    ValueError
        Naming the folder and the reason (a file in the way, no permission, ...), so a
        long job fails before it starts rather than losing its result at the end.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder; choose a folder for the output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise ValueError(f"cannot write to {folder}: {err.strerror or err}; choose a "
                         "folder you can write to") from None
    return folder


#: The file a run holds in its output folder while it writes there (:func:`claimed`).
LOCK_NAME = ".napari-hamiltonian.lock"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextmanager
def claimed(folder, option: str = "--out") -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for one run: a second run that asks for it
    meanwhile is refused by name, so two runs never mix their frames in one results
    folder. A claim left by a run that died on this machine is taken over. A folder
    this claim created is removed again if the run leaves it empty."""
    import socket
    import time

    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock, host = folder / LOCK_NAME, socket.gethostname()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid, where, since = lock.read_text().split(" ", 2)
                stale = where == host and not _alive(int(pid))
            except (OSError, ValueError):
                pid, where, since, stale = "?", "?", "?", False
            if stale:
                lock.unlink(missing_ok=True)
                continue
            raise ValueError(
                f"{folder} is being written by another napari-hamiltonian run (process "
                f"{pid} on {where}, since {since.strip()}): wait for it to end or give "
                f"another {option} (if no run is going on, delete {lock})") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()} {host} {time.strftime('%Y-%m-%d %H:%M:%S')}")
        break
    try:
        yield folder
    finally:
        lock.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):
            folder.rmdir()
