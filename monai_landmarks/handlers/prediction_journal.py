"""Which files of an output folder ``predict`` wrote: a journal that survives a killed run.

``predict_journal.jsonl`` starts with a header line and gets one line per output file, appended *before* the
file is written (``{"file": "a.png.json", "image": "/data/a.png"}``). A later predict run into the folder may
replace the files listed there, even when the run that wrote them was killed before its summary; any other file
is refused. Files an older version listed only in ``predict_summary.json`` count too (the writer reads both).
"""

from __future__ import annotations

import json
from pathlib import Path

from monai_landmarks.utils.io import write_error
from monai_landmarks.utils.paths import child_path, display

__all__ = ["JOURNAL_FILE", "PredictionJournal"]

JOURNAL_FILE = "predict_journal.jsonl"
_HEADER = {"predict_journal": 1, "note": "files monai-landmarks predict wrote here; later predict runs may replace"}


class PredictionJournal:
    """The journal of ``output_dir``: read what earlier runs wrote, and record what this run is about to write.

    Args:
        output_dir: the predict output folder.
    """

    def __init__(self, output_dir) -> None:
        self.path = Path(output_dir) / JOURNAL_FILE

    def files(self) -> set[str]:
        """The file names earlier runs recorded (an unreadable last line, from a kill mid-append, is ignored).

        Raises:
            ValueError: the file exists but is not a predict journal (so it is never appended to).
        """
        if not self.path.exists():
            return set()
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{display(self.path)}: unreadable predict journal ({e}); choose another --out.") from e
        if not lines or _parse(lines[0]).get("predict_journal") != 1:
            raise ValueError(
                f"{display(self.path)}: exists and is not a predict journal; refused to add to it. Choose another "
                "output folder."
            )
        names = (_parse(line).get("file") for line in lines[1:])
        return {n for n in names if isinstance(n, str) and _plain_name(self.path.parent, n)}

    def record(self, names, image: str) -> None:
        """Append ``names`` (files about to be written for ``image``) before they exist."""
        lines = "" if self.path.exists() else json.dumps(_HEADER) + "\n"
        lines += "".join(json.dumps({"file": n, "image": image}) + "\n" for n in names)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(lines)
        except OSError as e:
            raise write_error(self.path, e) from e


def _parse(line: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _plain_name(folder: Path, name: str) -> bool:
    try:
        child_path(folder, name)
    except ValueError:
        return False
    return True
