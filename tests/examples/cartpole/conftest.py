"""The CartPole tests run the tiny networks on one torch thread (as the component processes do): on a shared
2-core machine, torch's default thread pool makes each 64-unit layer call wait for busy cores."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
