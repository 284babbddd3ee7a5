"""Phantom anatomies that live in their own modules (spine, chest); :mod:`..synthetic` dispatches to them.

Each module defines ``LANDMARK_NAMES``, ``FIELD_MM`` (the canonical film in mm), ``DEFAULT_SIZE`` and
``build(rng, size) -> (points_mm, valid, pose, draw)``, drawn with the shared helpers of :mod:`..synthetic`.
"""
