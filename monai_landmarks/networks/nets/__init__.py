"""Landmark detection networks."""

from monai_landmarks.networks.nets.gu2net import GU2Net, GU2NetDomain
from monai_landmarks.networks.nets.htc import HTC

__all__ = ["GU2Net", "GU2NetDomain", "HTC"]
