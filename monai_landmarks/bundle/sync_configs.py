"""Config files and blocks several bundles share: kept once in ``shared_configs/``, copied into each bundle.

A bundle stays a complete folder (model-zoo's ``verify_bundle`` and ``python -m monai.bundle run`` read one bundle
folder and nothing outside it), so a model-zoo user still reads every config in the bundle itself; the shared
ones are copies, generated from here and checked by ``tests/bundles/test_shared_configs.py``. To change one, edit
its source in ``monai_landmarks/bundle/shared_configs/`` and run::

    python -m monai_landmarks.bundle.sync_configs          # lists the copies that differ from their source (exit 1)
    python -m monai_landmarks.bundle.sync_configs --write  # rewrites those copies

A shared *block* is a set of top-level keys inside otherwise different configs (the cascade's refiner settings in
the ceph bundles' ``evaluate.json`` and ``inference.json``): its values are set in place, the rest of the file kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monai_landmarks.utils.io import atomic_write_text

__all__ = ["BLOCKS", "FILES", "SOURCES", "expected_copies", "stale_copies"]

SOURCES = Path(__file__).resolve().parent / "shared_configs"
BUNDLES = Path(__file__).resolve().parents[2] / "bundles"

_CEPH = ("gu2net_ceph", "htc_ceph")
_ALL = ("gu2net_ceph", "gu2net_chest", "gu2net_spine", "gu2net_universal", "htc_ceph", "htc_hand")

#: whole files: source in shared_configs/ -> (its name in each bundle's configs/, the bundles)
FILES = {
    "logging.conf": ("logging.conf", _ALL),
    "multi_gpu_train.json": ("multi_gpu_train.json", tuple(b for b in _ALL if b != "gu2net_universal")),
    "refine.json": ("refine.json", _CEPH),
    "evaluate_plain.json": ("evaluate.json", ("gu2net_chest", "gu2net_spine")),  # no flip test, no refiner
}

#: blocks: source in shared_configs/ (its top-level keys) -> the configs holding them, as ``bundle/configs/name``
BLOCKS = {
    "cascade.json": tuple(f"{b}/configs/{name}" for b in _CEPH for name in ("evaluate.json", "inference.json")),
}


def _with_block(target: Path, block: dict) -> str:
    text = target.read_text(encoding="utf-8")
    config = json.loads(text)
    missing = [k for k in block if k not in config]
    if missing:
        raise ValueError(f"{target}: has no {missing} of the shared block; add the keys where they belong, then sync.")
    config.update(block)  # existing keys keep their place
    return json.dumps(config, indent=4) + ("\n" if text.endswith("\n") else "")


def expected_copies(bundles: Path = BUNDLES) -> dict[Path, str]:
    """Every shared copy's path and the text it must have."""
    copies = {}
    for source, (name, names) in FILES.items():
        text = (SOURCES / source).read_text(encoding="utf-8")
        copies.update({bundles / b / "configs" / name: text for b in names})
    for source, targets in BLOCKS.items():
        block = json.loads((SOURCES / source).read_text(encoding="utf-8"))
        copies.update({bundles / t: _with_block(bundles / t, block) for t in targets})
    return copies


def stale_copies(bundles: Path = BUNDLES) -> list[Path]:
    """The copies that are missing or differ from their source."""
    return [p for p, text in expected_copies(bundles).items() if not p.is_file() or p.read_text("utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monai_landmarks.bundle.sync_configs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--bundles", type=Path, default=BUNDLES, help="the bundles folder (default: this checkout's)")
    parser.add_argument("--write", action="store_true", help="rewrite the copies that differ from their source")
    args = parser.parse_args(argv)
    if not args.bundles.is_dir():
        parser.error(f"{args.bundles}: no bundles folder here; pass --bundles")
    expected = expected_copies(args.bundles)  # every block checked before anything is written
    stale = stale_copies(args.bundles)
    if args.write:
        for path in stale:
            atomic_write_text(path, expected[path])
            print(f"wrote {path}")
        return 0
    for path in stale:
        print(f"{path}: differs from its source in {SOURCES}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
