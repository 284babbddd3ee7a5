"""MONAI Label app that serves the landmark bundles: inference returns landmarks as ``centroids`` (and a JSON result
in pixels, mm and confidences), training reads landmarks JSON labels from the datastore.

Needs the ``monailabel`` extra, in its own environment (``pip install -e ".[monailabel]"``). Start it with::

    monailabel start_server --app "$(python -m monai_landmarks.apps.monailabel)" --studies <images folder or URL> \\
        --conf bundles <bundle folder>[,<bundle folder>...] [--conf overrides '{"<bundle>": {...}}']

``monailabel start_server`` creates ``bin/ lib/ logs/ model/`` in the ``--app`` folder, so the app folder is not
this package but a data folder of its own (:func:`make_app_dir`), holding only a ``main.py`` that imports
:class:`~.app.LandmarkApp`. Importing this package does not import ``monailabel``; :mod:`.labels` (the label
format) needs only the package.
"""

from __future__ import annotations

import os
from pathlib import Path

from monai_landmarks.utils.io import atomic_write_text

__all__ = ["MAIN_PY", "default_app_dir", "make_app_dir"]

#: the ``main.py`` that ``monailabel start_server --app <folder>`` loads (it looks there for a MONAILabelApp)
MAIN_PY = '''"""monai-landmarks' MONAI Label app (written by `python -m monai_landmarks.apps.monailabel`)."""

from monai_landmarks.apps.monailabel.app import LandmarkApp

__all__ = ["LandmarkApp"]
'''


def default_app_dir() -> Path:
    """``$XDG_DATA_HOME/monai-landmarks/monailabel-app`` (``~/.local/share/...`` when it is not set)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser().absolute() / "monai-landmarks" / "monailabel-app"


def make_app_dir(folder=None) -> Path:
    """The app folder for ``monailabel start_server --app``: ``folder`` (default :func:`default_app_dir`) with
    :data:`MAIN_PY` in it. MONAI Label writes its ``bin/ lib/ logs/ model/`` there, and the app its DICOMweb cache.

    Raises:
        ValueError: ``folder`` is a file, or a non-empty folder that is not an app folder of this package (nothing
            is written then).
    """
    folder = Path(folder).expanduser().absolute() if folder else default_app_dir()
    main = folder / "main.py"
    if main.is_file() and main.read_text(encoding="utf-8") == MAIN_PY:
        return folder
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; give a new or empty folder for the MONAI Label app.")
    if folder.is_dir() and any(folder.iterdir()):
        raise ValueError(
            f"{folder}: not empty and not an app folder of monai-landmarks (no main.py of this app); MONAI Label "
            "would add bin/ lib/ logs/ model/ to it. Give a new or empty folder."
        )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(main, MAIN_PY)
    return folder
