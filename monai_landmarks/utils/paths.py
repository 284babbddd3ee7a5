"""Safe names and paths: what may name a file, where outputs may go, which inputs are files at all.

Image ids and split names become file names, so they are checked on writing *and* on reading a dataset.
Every output path built from a name is checked to stay inside its output folder, and an output folder may
not be an input folder (or lie inside one): a run never writes over the files it reads.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "SAFE_NAME",
    "check_output_folder",
    "check_safe_name",
    "child_path",
    "display",
    "is_safe_name",
    "not_a_file",
    "regular_files",
]

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # no separators, no leading dot, no '..' alone
_logger = logging.getLogger(__name__)


def is_safe_name(value) -> bool:
    """True for a string of letters, digits, ``.``, ``_``, ``-`` that starts with a letter or digit."""
    return isinstance(value, str) and bool(SAFE_NAME.match(value))


def check_safe_name(value, what: str, where: str, error: type[Exception] = ValueError) -> str:
    """Return ``value`` if :func:`is_safe_name`, else raise ``error`` naming ``where`` and ``what``."""
    if not is_safe_name(value):
        raise error(
            f"{where}: {what} must be a string of letters, digits, '.', '_' or '-' starting with a letter or "
            f"digit (it names files), got {value!r}."
        )
    return value


def display(path) -> str:
    """``path`` as printable text: bytes that are not UTF-8 shown as ``\\xNN`` escapes."""
    text = os.fsdecode(path)
    return os.fsencode(text).decode("utf-8", "backslashreplace") if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def child_path(folder, name: str) -> Path:
    """``folder / name`` for a plain file name; a name with a path separator, or ``.`` / ``..``, is refused.

    Raises:
        ValueError: the name would not be a file directly inside ``folder``.
    """
    separators = [s for s in (os.sep, os.altsep) if s]
    if name in ("", ".", "..") or any(s in name for s in separators) or "\0" in name:
        raise ValueError(f"{display(folder)}: output name {name!r} would write outside this folder; refused.")
    return Path(folder) / name


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out, inputs: Iterable, containing: bool = False, label: str = "--out") -> None:
    """Refuse an output folder that is an input folder or lies inside one, or that holds an input file.

    Args:
        out: the output folder.
        inputs: the input files and folders.
        containing: also refuse an output folder that holds an input anywhere below it (for writers that may
            replace files throughout their folder, such as a dataset writer with overwrite).
        label: what the messages call the output folder.

    Raises:
        ValueError: naming the output folder and the input it would write over.
    """
    target = Path(out).resolve()
    for given in inputs:
        source = Path(given).resolve()
        if source.is_dir() and _inside(target, source):
            where = "the" if target == source else "inside the"
            raise ValueError(
                f"{label} {display(out)} is {where} input folder {display(given)}; outputs could replace the inputs. "
                "Choose an output folder outside the inputs."
            )
        if not source.is_dir() and target == source.parent:
            raise ValueError(
                f"{label} {display(out)} is the folder of the input {display(given)}; outputs could replace the "
                "inputs. Choose another output folder."
            )
        if containing and _inside(source, target):
            raise ValueError(
                f"{label} {display(out)} holds the input {display(given)}; writing there could replace or delete "
                "the inputs. Choose an output folder outside the inputs."
            )


def not_a_file(path) -> str | None:
    """None for a regular file (symlinks followed), else what ``path`` is instead: ``"a folder"``,
    ``"a FIFO, socket or device"``, ``"a symbolic link loop"``, ``"a broken symbolic link"`` or ``"missing"``.

    Reading a FIFO blocks until something writes to it: a stray one would hang the run.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop"
        return "a broken symbolic link" if os.path.islink(path) else "missing"
    if stat.S_ISREG(mode):
        return None
    return "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"


def regular_files(paths: Iterable, warn: Callable[[str], None] | None = None) -> list[Path]:
    """The paths that are regular files (symlinks followed); FIFOs, sockets and devices skipped with a warning
    (``warn``, default: this module's logger); folders and missing paths skipped silently."""
    warn = warn or _logger.warning
    files = []
    for path in map(Path, paths):
        kind = not_a_file(path)
        if kind is None:
            files.append(path)
        elif kind == "a FIFO, socket or device":
            warn(f"{display(path)}: not a regular file (FIFO, socket or device); skipped.")
    return files
