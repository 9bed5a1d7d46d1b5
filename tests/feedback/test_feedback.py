from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from swergio_nb.feedback import FunctionComponent, ModuleComponent, PendingMemory, loss_and_gradient
from swergio_nb.protocol.codec import decode, encode


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_pending_memory_is_bounded_by_count():
    memory = PendingMemory(max_entries=3, max_age=None)
    for i in range(5):
        memory.put(i, i * 10)
    assert len(memory) == 3 and memory.stats.evicted == 2
    assert memory.pop(0) is None and memory.pop(4) == 40
    assert memory.stats.missing == 1 and memory.stats.matched == 1


def test_pending_memory_is_bounded_by_age():
    clock = FakeClock()
    memory = PendingMemory(max_entries=100, max_age=5.0, clock=clock)
    memory.put("old", 1)
    clock.now = 3.0
    memory.put("young", 2)
    clock.now = 6.0
    assert memory.pop("old") is None and memory.stats.expired == 1
    assert memory.pop("young") == 2


def test_loss_and_gradient_matches_the_analytic_mse_gradient():
    pred = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    target = np.array([1.0, 1.0, 1.0])
    loss, grad = loss_and_gradient(torch.nn.functional.mse_loss, pred, target)
    assert loss == pytest.approx((0 + 1 + 9) / 3)
    np.testing.assert_allclose(grad, 2 * (pred - target) / 3, rtol=1e-6)
    assert grad.dtype == np.float32 and grad.shape == pred.shape


def wire(msg):
    """What a message looks like after a trip through the hub."""
    return decode(encode({"TYPE": "DATA/FORWARD", "TO": "x", **msg}))


def test_chained_components_equal_backprop_through_the_composition():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    reference = copy.deepcopy(net)
    model = ModuleComponent(net, torch.optim.SGD(net.parameters(), lr=0.1), dtype=torch.float64)
    sim = FunctionComponent(lambda a: (a**2).sum(dim=1) + torch.sin(a[:, 0]), dtype=torch.float64)
    x = np.random.default_rng(0).standard_normal((5, 2))
    target = np.ones(5)

    # forward through the components, as messages
    fwd_in = {"ID": "batch-1", "DATA": x}
    out_model = wire(model.forward(fwd_in))
    out_sim = wire(sim.forward(out_model))
    loss, grad = loss_and_gradient(torch.nn.functional.mse_loss, out_sim["DATA"], target)
    # backward, as messages
    grad_sim = wire(sim.backward({"ID": "g1", "REPLY_TO": out_sim["ID"], "DATA": grad}))
    assert grad_sim["REPLY_TO"] == out_model["ID"]
    grad_model = wire(model.backward({"ID": "g2", "REPLY_TO": out_model["ID"], "DATA": grad_sim["DATA"]}))
    assert grad_model["REPLY_TO"] == "batch-1"

    # the same computation in one autograd graph
    xr = torch.tensor(x, requires_grad=True)
    a = reference(xr)
    ref_loss = torch.nn.functional.mse_loss((a**2).sum(dim=1) + torch.sin(a[:, 0]), torch.tensor(target))
    ref_loss.backward()
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    opt.step()
    assert loss == pytest.approx(ref_loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad_model["DATA"], xr.grad.numpy(), rtol=1e-10)
    for p, q in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert len(model.pending) == len(sim.pending) == 0 and model.steps == 1


def test_validate_mode_keeps_nothing_and_unknown_gradients_are_counted():
    sim = FunctionComponent(lambda a: a * 2)
    reply = sim.forward({"ID": "v", "DATA": [1.0, 2.0], "MODEL_STATUS": 2})
    assert torch.equal(reply["DATA"], torch.tensor([2.0, 4.0])) and len(sim.pending) == 0
    assert sim.backward({"ID": "nope", "DATA": [1.0, 1.0]}) is None
    assert sim.pending.stats.missing == 1


def test_gradient_of_the_wrong_size_is_an_error():
    sim = FunctionComponent(lambda a: a * 2)
    reply = sim.forward({"ID": "f", "DATA": [1.0, 2.0]})
    with pytest.raises(ValueError, match="3 elements"):
        sim.backward({"ID": "g", "REPLY_TO": reply["ID"], "DATA": [1.0, 2.0, 3.0]})
