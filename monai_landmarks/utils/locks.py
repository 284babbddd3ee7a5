"""One writer per folder: a lock file that names its holder and is released by the kernel if the holder dies.

A training run locks its checkpoint folder and ``predict`` locks its output folder, so a second run into the
same folder stops with an error naming the first (process id, host, command, start time) instead of
silently replacing its files. The lock is a POSIX record lock (``fcntl.lockf``) on ``<folder>/.lock``: a
process that is killed loses it at once, and the next run notices the stale file and takes over.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from monai_landmarks.utils.io import write_error

__all__ = ["FolderLock", "FolderLockedError", "LOCK_FILE"]

LOCK_FILE = ".lock"
_logger = logging.getLogger(__name__)


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock."""


def _describe(holder: dict) -> str:
    if not holder:
        return "an unknown process"
    return (
        f"process {holder.get('pid')} on {holder.get('host')} (started {holder.get('started')}, "
        f"command: {holder.get('command')})"
    )


def _read_holder(path: Path, fd: int | None = None) -> dict:
    """The holder record; read through ``fd`` when this process holds the lock (closing another descriptor of
    the file would release a POSIX lock)."""
    try:
        text = os.pread(fd, 4096, 0) if fd is not None else path.read_bytes()[:4096]
        holder = json.loads(text.decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


class FolderLock:
    """Exclusive lock of ``folder`` for ``what`` (e.g. ``"training"``), held by this process until released.

    Usable as a context manager. Locking again from the process that holds the lock succeeds (POSIX record
    locks belong to processes), so a run restarted in the same Python process after an exception is not
    refused.

    Args:
        folder: the folder to lock (created if missing).
        what: what the holder does, for messages.
    """

    def __init__(self, folder, what: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.0) -> FolderLock:
        """Take the lock, or raise :class:`FolderLockedError` naming the process that holds it.

        Args:
            wait: seconds to wait for another holder to release it (0: refuse at once).
        """
        if self._fd is not None:
            return self
        deadline = time.monotonic() + wait
        while True:
            fd = self._open()
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                waited = f" (waited {wait:g} s)" if wait else ""
                raise FolderLockedError(
                    f"{self.folder}: another {self.what} is writing here{waited}, "
                    f"{_describe(_read_holder(self.path))}. Wait for it to finish or use another folder "
                    f"(lock file {self.path})."
                ) from None
            if self._same_file(fd):
                break
            os.close(fd)  # the previous holder removed the file between our open and lock: try the new one
        self._take_over(fd)
        return self

    def _open(self) -> int:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise write_error(self.path, e) from e

    def _same_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _take_over(self, fd: int) -> None:
        previous = _read_holder(self.path, fd)
        if previous and previous.get("pid") != os.getpid():
            _logger.warning(
                f"{self.path}: stale lock of {_describe(previous)}, which ended without releasing it; taking over."
            )
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(sys.argv)[:500],
            "what": self.what,
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode("utf-8"), 0)
        except OSError as e:  # a full disk: leave no lock file behind and say which file
            if self._same_file(fd):
                self.path.unlink(missing_ok=True)
            os.close(fd)
            raise write_error(self.path, e) from e
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and unlock; nothing happens if the lock is not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self._same_file(fd):
            self.path.unlink(missing_ok=True)
        os.close(fd)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
