"""Which weights file a run uses, by path and sha256, checked against the bundle's ``large_files.yml``.

A bundle's ``large_files.yml`` (model-zoo's format) lists its weights with their size and sha256. A file it lists
is checked before it is loaded: flipped bytes can still unpickle into weights of the right shapes and give
landmarks far off without any error. A file the list does not name (a run folder's, a user's ``--weights``) is
used as it is, and its sha256 is still reported.

The hash of a file is computed once per process for one version of the file (path, size, modification time), so
checking before loading and reporting afterwards read it once.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["LARGE_FILES", "file_sha256", "listed_entry", "verify_weights_file"]

LARGE_FILES = "large_files.yml"
_SEARCH_DEPTH = 3  # large_files.yml sits in the bundle folder: models/model.pt is one level below it


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path) -> str:
    """The sha256 of ``path`` (hex), computed once per version of the file."""
    path = Path(path).resolve()
    stat = path.stat()
    return _sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _entries(listing: Path) -> list:
    import yaml

    try:
        data = yaml.safe_load(listing.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{listing}: unreadable {LARGE_FILES} ({type(e).__name__}); fix or remove it.") from e
    entries = data.get("large_files") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "path" in e for e in entries):
        raise ValueError(f"{listing}: expected 'large_files: [{{path: ..., hash_val: ..., ...}}, ...]'.")
    return entries


def listed_entry(path) -> tuple[Path, dict] | None:
    """``(large_files.yml, its entry)`` for the weights file ``path``, or None when no bundle above lists it."""
    path = Path(path).resolve()
    for folder in list(path.parents)[:_SEARCH_DEPTH]:
        listing = folder / LARGE_FILES
        if not listing.is_file():
            continue
        for entry in _entries(listing):
            if (folder / str(entry["path"])).resolve() == path:
                return listing, entry
    return None


def verify_weights_file(path) -> dict:
    """Check ``path`` against the ``large_files.yml`` that lists it (size, then sha256), if any.

    Returns:
        ``{"path": str, "sha256": hex, "listed_in": str | None}``, for the outputs that say which file ran.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the size or sha256 differs from the listing (the message names the file, the expected and the
            found value), or the listing is unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found.")
    found = listed_entry(path)
    if found is not None:
        listing, entry = found
        size = path.stat().st_size
        if entry.get("size") is not None and int(entry["size"]) != size:
            raise ValueError(
                f"{path}: {size} bytes, but {listing} lists {entry['size']}; the file is damaged or was replaced "
                "(restore it, or train into another folder)."
            )
    digest = file_sha256(path)
    if found is not None:
        hash_type, expected = str(entry.get("hash_type", "sha256")).lower(), entry.get("hash_val")
        if hash_type != "sha256":
            raise ValueError(f"{listing}: {entry['path']} has hash_type {hash_type!r}; only sha256 is checked.")
        if expected and str(expected).lower() != digest:
            raise ValueError(
                f"{path}: sha256 {digest} does not match {listing} (expected {expected}); the file is damaged or "
                "was replaced (restore it, or train into another folder)."
            )
    return {"path": str(path), "sha256": digest, "listed_in": None if found is None else str(found[0])}
