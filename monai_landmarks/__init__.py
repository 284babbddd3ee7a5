"""monai-landmarks: anatomical landmark detection in 2D X-rays with MONAI.

The Python API is :class:`LandmarkPredictor` (:mod:`monai_landmarks.predictor`); it is imported on first use, so
``import monai_landmarks`` stays light (the bundle configs import it before their submodules).
"""

__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it
__all__ = ["LandmarkPredictor", "LandmarkResult", "Predictions"]


def __getattr__(name: str):
    if name in __all__:
        from monai_landmarks import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'monai_landmarks' has no attribute {name!r}")
