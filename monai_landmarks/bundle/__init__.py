"""Bundle helpers: a training run folder written as a bundle of its own."""

from __future__ import annotations

from .run_bundle import RUN_FOLDER, run_folder, run_metadata, save_run_bundle, write_run_bundle

__all__ = ["RUN_FOLDER", "run_folder", "run_metadata", "save_run_bundle", "write_run_bundle"]
