"""Settings for the network tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Run the (tiny) test networks on one thread.

    Small convolutions gain nothing from two threads, and on a shared 2-core machine every parallel region of a
    2-thread run can wait a scheduler slice (~30 ms) for a busy core: one thread keeps the suite fast and steady.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
