"""MONAI Label app that serves the landmark bundles: inference returns landmarks as ``centroids`` (and a JSON result
in pixels, mm and confidences), training reads landmarks JSON labels from the datastore.

Needs the ``monailabel`` extra, in its own environment (``pip install -e ".[monailabel]"``). Start it with::

    monailabel start_server --app "$(python -m monai_landmarks.apps.monailabel)" --studies <images folder> \\
        --conf bundles <bundle folder>[,<bundle folder>...] [--conf overrides '{"<bundle>": {...}}']

Importing this package does not import ``monailabel``; :mod:`.labels` (the label format) needs only the package.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["APP_DIR"]

#: the app folder to give ``monailabel start_server --app`` (it holds ``main.py``)
APP_DIR = Path(__file__).resolve().parent
