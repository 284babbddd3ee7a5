"""Landmark detection networks."""

from monai_landmarks.networks.nets.gu2net import GU2Net, GU2NetDomain
from monai_landmarks.networks.nets.htc import HTC
from monai_landmarks.networks.nets.refiner import LandmarkRefiner

__all__ = ["HTC", "GU2Net", "GU2NetDomain", "LandmarkRefiner"]
