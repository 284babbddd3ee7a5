"""Sphinx configuration of the API reference: ``sphinx-build -W docs docs/_build`` (the ``docs`` extra).

autodoc renders the docstrings (napoleon reads their Google-style ``Args:`` / ``Returns:`` / ``Raises:``), myst-parser
the Markdown pages: the README as the getting-started page and each bundle's ``docs/README.md``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, whatever is installed

import monai_landmarks  # noqa: E402

project = "monai-landmarks"
author = "monai-landmarks contributors"
copyright = "monai-landmarks contributors"
release = version = monai_landmarks.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# The MONAI Label app's base classes come from the `monailabel` extra, which cannot be installed beside `dev`
autodoc_mock_imports = ["monailabel"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False

myst_heading_anchors = 3
html_theme = "alabaster"
html_title = f"monai-landmarks {release}"
