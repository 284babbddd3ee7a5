"""Which device and process-group backend a bundle runs on: CUDA where there is one, else the CPU.

Bundle configs call these instead of ``$... if torch.cuda.is_available() else ...`` expressions.
"""

from __future__ import annotations

import os

import torch

__all__ = ["ddp_device_ids", "default_device", "distributed_backend", "local_rank_device", "set_cuda_device"]


def default_device() -> torch.device:
    """``cuda:0`` when CUDA is available, else the CPU."""
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def local_rank_device() -> torch.device:
    """This process's GPU under ``torchrun`` (``cuda:$LOCAL_RANK``), else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")


def distributed_backend() -> str:
    """``nccl`` with CUDA, ``gloo`` on the CPU."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def ddp_device_ids(device: torch.device) -> list[torch.device] | None:
    """``device_ids`` of ``DistributedDataParallel``: the one GPU of this process, None on the CPU."""
    return [device] if device.type == "cuda" else None


def set_cuda_device(device: torch.device) -> None:
    """Make ``device`` the current CUDA device (NCCL needs it); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
