"""Bundle helpers: a training run folder written as a bundle of its own; weights checked against large_files.yml."""

from __future__ import annotations

from .large_files import file_sha256, verify_weights_file
from .run_bundle import RUN_FOLDER, RUN_KEYS, SaveRunBundle, model_settings, run_folder, run_metadata, write_run_bundle

__all__ = [
    "RUN_FOLDER",
    "RUN_KEYS",
    "SaveRunBundle",
    "file_sha256",
    "model_settings",
    "run_folder",
    "run_metadata",
    "verify_weights_file",
    "write_run_bundle",
]
