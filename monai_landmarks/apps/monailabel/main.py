"""The module ``monailabel start_server --app`` loads: MONAI Label looks here for a ``MONAILabelApp`` subclass."""

from monai_landmarks.apps.monailabel.app import LandmarkApp

__all__ = ["LandmarkApp"]
