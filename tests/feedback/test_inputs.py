"""InputOptimizer: inputs optimised by the gradients that come back through chains of components on a real hub."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from swergio_nb import Client, Hub
from swergio_nb.feedback import FunctionComponent, InputOptimizer

# A convex toy process: y = A x + b (one output per task), and a second hop z = y^3 + y (monotone, smooth).
A = torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64)
B = 0.25


def linear(x: torch.Tensor) -> torch.Tensor:
    return (x @ A.T)[:, 0] + B


def cubic(y: torch.Tensor) -> torch.Tensor:
    return y**3 + y


def squared_miss(targets: torch.Tensor):
    return lambda y, rows: (y - targets[rows]) ** 2


async def chain(hub: Hub, *fns) -> list[Client]:
    """Components between rooms input -> hop1 -> ... -> output, each a FunctionComponent in its own client."""
    rooms = ["input", *[f"hop{i}" for i in range(1, len(fns))], "output"]
    clients = []
    for i, fn in enumerate(fns):
        client = Client(f"stage{i}", hub.url)
        FunctionComponent(fn, dtype=torch.float64).attach(client, input_room=rooms[i], output_room=rooms[i + 1])
        clients.append(await client.connect())
    return clients


async def optimise(fns, optimizer: InputOptimizer, max_steps: int):
    async with Hub(port=0) as hub:
        stages = await chain(hub, *fns)
        try:
            async with Client("optimiser", hub.url) as client:
                return await optimizer.run(client, max_steps, timeout=10)
        finally:
            for stage in stages:
                await stage.close()


async def test_converges_on_a_convex_chain_and_reports_how():
    targets = torch.tensor([1.0, -2.0, 3.5], dtype=torch.float64)
    start = np.zeros((3, 3))
    opt = InputOptimizer(start, squared_miss(targets), lower=-5, upper=5, tol=1e-8)
    result = await optimise([linear], opt, max_steps=200)
    assert result.reason == ["tolerance"] * 3
    np.testing.assert_allclose(result.outputs, targets.numpy(), atol=1e-4)
    np.testing.assert_allclose(linear(torch.from_numpy(result.inputs)).numpy(), result.outputs)
    assert (result.objective <= 1e-8).all() and result.converged.all()
    # history: one row per round trip, NaN once a task had stopped; round trips counted per task
    assert result.history.shape == (result.round_trips.max(), 3)
    assert (np.isfinite(result.history).sum(axis=0) == result.round_trips).all()
    assert result.history[0] == pytest.approx(((B - targets) ** 2).numpy())


async def test_bounds_are_respected_at_every_step_and_an_unreachable_target_stalls_on_them():
    targets = torch.tensor([100.0, 0.0], dtype=torch.float64)  # the first is out of reach in the box
    lower, upper = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.0])  # the third input is held at 0
    opt = InputOptimizer(np.zeros((2, 3)), squared_miss(targets), lower=lower, upper=upper, tol=1e-10)
    seen = []
    opt.listeners.append(lambda step, objective: seen.append(opt.inputs.copy()))
    result = await optimise([linear], opt, max_steps=300)
    seen = np.stack(seen)
    assert len(seen) == result.history.shape[0] > 5
    assert (seen >= lower).all() and (seen <= upper).all() and (seen[:, :, 2] == 0).all()
    # the closest point of the box to y = 100: x = (1, -2, 0), y = 4.25
    assert result.reason == ["stalled", "tolerance"]
    np.testing.assert_allclose(result.inputs[0], [1.0, -2.0, 0.0])
    assert result.outputs[0] == pytest.approx(2 + 2 + B)


async def test_the_gradient_it_uses_equals_autograd_through_the_same_two_hop_chain():
    targets = torch.tensor([0.5, 3.0, -1.0, 10.0], dtype=torch.float64)
    start = np.random.default_rng(0).uniform(-1, 1, (4, 3))
    received = []

    class Recording(InputOptimizer):
        def step(self, rows, input_gradient):
            received.append((rows.copy(), np.asarray(input_gradient)))
            super().step(rows, input_gradient)

    opt = Recording(start, squared_miss(targets), lower=-3, upper=3)
    hub_result = await optimise([linear, cubic], opt, max_steps=15)

    # autograd through the composition, at the first round trip's inputs
    x = torch.from_numpy(start).requires_grad_(True)
    ((cubic(linear(x)) - targets) ** 2).sum().backward()
    rows, first = received[0]
    assert list(rows) == [0, 1, 2, 3]
    np.testing.assert_allclose(first, x.grad.numpy(), rtol=1e-12)

    # the whole optimisation, done locally with autograd, takes the same steps
    local = InputOptimizer(start, squared_miss(targets), lower=-3, upper=3)
    local_result = local.run_local(lambda x: cubic(linear(x)), max_steps=15)
    np.testing.assert_array_equal(hub_result.history, local_result.history)
    np.testing.assert_array_equal(hub_result.inputs, local_result.inputs)
    assert hub_result.reason == local_result.reason


async def test_a_multi_hop_chain_in_separate_clients_is_optimised_end_to_end():
    targets = torch.tensor([2.0, 30.0], dtype=torch.float64)
    opt = InputOptimizer(np.zeros((2, 3)), squared_miss(targets), lower=-2, upper=2, tol=1e-10)
    double = lambda y: 2 * y  # noqa: E731
    result = await optimise([linear, cubic, double], opt, max_steps=300)
    assert result.reason == ["tolerance", "tolerance"]
    final = double(cubic(linear(torch.from_numpy(result.inputs)))).numpy()
    np.testing.assert_allclose(final, targets.numpy(), atol=1e-4)


def double_well(x: torch.Tensor) -> torch.Tensor:
    """x^4 - 2 x^2 + x / 2: a local minimum near x = 0.93 (-0.517) and the global one near x = -1.06 (-1.515)."""
    return x[:, 0] ** 4 - 2 * x[:, 0] ** 2 + 0.5 * x[:, 0]


async def test_several_starts_of_a_task_travel_together_and_the_best_one_is_its_result():
    # task 0 starts on both sides, task 1 only on the right: only task 0 finds the global minimum
    opt = InputOptimizer([[1.0], [-1.0], [1.0]], lambda y, rows: y, lower=-2, upper=2, tasks=[0, 0, 1])
    result = await optimise([double_well], opt, max_steps=300)
    assert result.inputs.shape == (2, 1) and result.reason == ["stalled", "stalled"]
    assert result.inputs[0, 0] == pytest.approx(-1.06, abs=0.01) and result.inputs[1, 0] == pytest.approx(
        0.93, abs=0.01
    )
    assert result.objective[0] < -1.5 and -0.6 < result.objective[1] < -0.5
    assert result.round_trips[0] == max(opt.round_trips[:2]) and result.round_trips[1] == opt.round_trips[2]
    assert result.history.shape == (result.round_trips.max(), 2)
    # a task's history is the best of its starts: at the first round trip f(-1) = -1.5 for task 0, f(1) = -0.5
    np.testing.assert_array_equal(result.history[0], [-1.5, -0.5])


def test_a_task_stops_with_all_its_starts_when_one_reaches_the_tolerance():
    targets = torch.tensor([1.0, 1.0], dtype=torch.float64)  # the rows' targets: both starts aim at 1
    start = np.array([[0.3, 0.0, 0.0], [-4.0, 4.0, 0.0]])  # the first start is 0.1 from the answer, the second far
    opt = InputOptimizer(start, squared_miss(targets), lower=-5, upper=5, tol=1e-6, tasks=[0, 0])
    result = opt.run_local(linear, max_steps=200)
    assert result.reason == ["tolerance"] and opt.reason == ["tolerance", "tolerance"]
    assert opt.round_trips[0] == opt.round_trips[1] == result.round_trips[0] < 200
    assert abs(linear(torch.from_numpy(result.inputs)).item() - 1.0) <= 1e-3


def test_the_budget_stops_every_task_still_running():
    targets = torch.tensor([1.0], dtype=torch.float64)
    opt = InputOptimizer(np.zeros((1, 3)), squared_miss(targets), tol=0.0, patience=None)
    result = opt.run_local(linear, max_steps=3)
    assert result.reason == ["budget"] and result.round_trips.tolist() == [3] and result.history.shape == (3, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": np.zeros(3)}, "finite (B, D) array"),
        ({"inputs": [[0.0, np.nan]]}, "finite (B, D) array"),
        ({"lower": np.zeros(4)}, "must broadcast"),
        ({"lower": [0.0, 2.0], "upper": 1.0}, "lower bound exceeds the upper bound at row 0, input 1 (2, 1)"),
        ({"inputs": [[0.5, 3.0]], "upper": 1.0}, "outside its bounds at row 0, input 1 (3, 0, 1)"),
        ({"tasks": [1]}, "tasks must number the 1 rows' tasks 0 to T - 1"),
        ({"tasks": [0.0]}, "tasks must number"),
        ({"inputs": [[0.5], [0.5]], "tasks": [0, 2]}, "tasks must number"),
    ],
)
def test_bad_setup_is_refused_with_what_was_wrong(kwargs, message):
    args = {"inputs": [[0.5, 0.5]], "objective": lambda y, rows: y, "lower": 0.0, "upper": 10.0, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        InputOptimizer(args.pop("inputs"), args.pop("objective"), **args)


def test_outputs_or_gradients_that_do_not_fit_the_tasks_are_refused():
    opt = InputOptimizer(np.zeros((2, 3)), lambda y, rows: y.sum(dim=1))
    rows, _ = opt.forward_inputs()
    with pytest.raises(ValueError, match=r"outputs of shape \(3, 1\) for 2 rows of inputs"):
        opt.output_gradient(rows, np.zeros((3, 1)))
    opt.output_gradient(rows, np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"input gradient has shape \(2, 2\), expected \(2, 3\)"):
        opt.step(rows, np.zeros((2, 2)))
    before = opt.inputs
    with pytest.raises(ValueError, match=r"not finite for rows \[1\]"):
        opt.step(rows, np.array([[0.0, 1.0, 0.0], [np.nan, 0.0, 0.0]]))
    np.testing.assert_array_equal(opt.inputs, before)
    bad = InputOptimizer(np.zeros((2, 3)), lambda y, rows: y)
    with pytest.raises(ValueError, match=r"one value per row \(2,\), got \(2, 1\)"):
        bad.output_gradient(rows, np.zeros((2, 1)))
