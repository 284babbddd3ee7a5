"""Atomic file output: write to a temporary file beside the target, then rename over it.

A crash or a kill mid-write leaves either the old file or the new one, never half of one: checkpoints,
metric reports and predictions all go through here. The file gets the mode a plain ``open`` would give
(``0666`` less the umask, 0644 under umask 022): ``mkstemp`` creates it 0600, which is why MONAI's
``CheckpointSaver`` keeps atomic saving off.

A failed write (a full disk, no permission) raises :class:`WriteError`, which names the file being written and
what to do; the temporary file is removed, so nothing half-written is left.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = [
    "WriteError",
    "atomic_path",
    "atomic_torch_save",
    "atomic_write_json",
    "atomic_write_text",
    "current_umask",
    "write_error",
]

_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or write to another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or write to another folder",
    errno.EACCES: "no permission to write there: choose a folder you can write to",
    errno.EPERM: "no permission to write there: choose a folder you can write to",
    errno.EROFS: "the file system is read-only: write to another folder",
}


class WriteError(OSError):
    """Writing ``filename`` failed; the message names the file, the reason and what to do (``errno`` is kept)."""

    def __str__(self) -> str:
        from monai_landmarks.utils.paths import display

        advice = _ADVICE.get(self.errno, "check the folder and the disk, then run again")
        return f"{display(self.filename)}: could not write it ({self.strerror}); {advice}."


def write_error(path, error: OSError) -> WriteError:
    """``error`` (raised while writing ``path``) as a :class:`WriteError` naming ``path``."""
    if isinstance(error, WriteError):
        return error
    code = error.errno if error.errno is not None else errno.EIO
    return WriteError(code, error.strerror or str(error) or os.strerror(code), os.fspath(path))


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed.

    Raises:
        WriteError: an :class:`OSError` while creating, writing or renaming, naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from e
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, e) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN and infinity as JSON null)."""
    atomic_write_text(path, json.dumps(_finite(obj), indent=2) + "\n")


def atomic_torch_save(obj, path) -> None:
    """``torch.save`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as e:  # torch's zip writer reports a failed write as "[enforce fail ...]", no errno
            if "inline_container" not in str(e) and "PytorchStreamWriter" not in str(e):
                raise
            raise _failed_torch_write(tmp, e) from e


def _failed_torch_write(tmp: Path, error: RuntimeError) -> OSError:
    full = shutil.disk_usage(tmp.parent).free < max(tmp.stat().st_size, 1 << 20)
    code = errno.ENOSPC if full else errno.EIO
    return OSError(code, f"{os.strerror(code)}; torch: {str(error).splitlines()[0]}")


def _finite(obj):
    # JSON has no NaN or infinity; null is what readers in other languages can parse.
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
