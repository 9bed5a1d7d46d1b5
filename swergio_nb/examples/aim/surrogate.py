"""A learned model of the trebuchet, trained from its own logged traffic, served as a component like the simulator.

Run as a process: ``python -m swergio_nb.examples.aim.surrogate --hub ws://127.0.0.1:8765 --model surrogate.pt``.

:class:`SurrogateNetwork` maps [wind m/s, release angle deg, counterweight lb] (B, 3) to distance (B,) m. It is
fitted by :func:`fit_surrogate` to the (input, distance) pairs a
:class:`~swergio_nb.examples.aim.recorder.TrafficRecorder` collected from the ``_logging`` room while the ordinary
trebuchet training ran. The component listens to ``DATA/FORWARD`` in ``--input-room`` and answers with the predicted
distances in ``--output-room``; a ``DATA/GRADIENT`` there goes back upstream as the network's vector-Jacobian
product, exactly as the simulator component does (:class:`~swergio_nb.feedback.FunctionComponent`), so an
:class:`~swergio_nb.feedback.InputOptimizer` can aim through either. The network knows only the part of the input
space the logged shots covered: :attr:`SurrogateNetwork.data_range` says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...feedback.components import FunctionComponent
from ...swarm.component import ComponentError, component
from ...transport.client import Client
from .options import SurrogateOptions

__all__ = ["SurrogateNetwork", "fit_surrogate", "build"]


class SurrogateNetwork(nn.Module):
    """(wind, angle, counterweight) -> distance: a 3-64-64-1 tanh MLP on standardised inputs and output.

    Tanh keeps the surrogate smooth, so its input gradient is defined everywhere. The standardisation (the logged
    inputs' mean and standard deviation, the distances' likewise) and the logged inputs' range are buffers, saved
    with the weights.

    Args:
        hidden: units per hidden layer.
    """

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 1))  # fmt: skip
        self.register_buffer("x_mean", torch.zeros(3))
        self.register_buffer("x_std", torch.ones(3))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))
        self.register_buffer("x_min", torch.full((3,), -torch.inf))
        self.register_buffer("x_max", torch.full((3,), torch.inf))

    @property
    def data_range(self) -> tuple[np.ndarray, np.ndarray]:
        """The smallest and largest logged [wind, angle, counterweight], float64 (3,) each."""
        return self.x_min.double().numpy().copy(), self.x_max.double().numpy().copy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Distances (B,) in m for x (B, 3) of [wind m/s, angle deg, counterweight lb] (the module's dtype)."""
        return self.net((x - self.x_mean) / self.x_std)[:, 0] * self.y_std + self.y_mean


def fit_surrogate(
    inputs: np.ndarray,
    distances: np.ndarray,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 3e-3,
    validation: float = 0.2,
    seed: int = 0,
) -> tuple[SurrogateNetwork, dict[str, Any]]:
    """Fit a :class:`SurrogateNetwork` to logged shots by Adam on the mean squared error, the learning rate
    cosine-annealed to 0 (float32, on one torch thread: minibatches this small only lose by more).

    Args:
        inputs: float (N, 3) of [wind m/s, angle deg, counterweight lb].
        distances: float (N,) m.
        steps: minibatch steps.
        batch_size: shots per minibatch.
        lr: Adam's first learning rate.
        validation: fraction of the shots held out (chosen at random) to measure the error.
        seed: seeds the initial weights, the split and the minibatches.

    Returns:
        ``(network, figures)``: the fitted network in float64 and eval mode, its weights not requiring gradients;
        ``figures`` has ``train_shots``, ``validation_shots``, ``validation_rmse_m`` and ``validation_mae_m``.

    Raises:
        ValueError: the shapes do not fit, or fewer than 10 shots.
    """
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(distances), dtype=torch.float32)
    if x.ndim != 2 or x.shape[1] != 3 or y.shape != (len(x),) or len(x) < 10:
        raise ValueError(f"need inputs (N, 3) and distances (N,) with N >= 10, got {tuple(x.shape)}, {tuple(y.shape)}")
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = SurrogateNetwork()
    order = torch.randperm(len(x), generator=generator)
    held = max(1, int(len(x) * validation))
    val, train = order[:held], order[held:]
    with torch.no_grad():
        network.x_mean.copy_(x[train].mean(0))
        network.x_std.copy_(x[train].std(0).clamp_min(1e-6))
        network.y_mean.copy_(y[train].mean())
        network.y_std.copy_(y[train].std().clamp_min(1e-6))
        network.x_min.copy_(x.min(0).values)
        network.x_max.copy_(x.max(0).values)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            batch = train[torch.randint(len(train), (batch_size,), generator=generator)]
            loss = torch.mean((network(x[batch]) - y[batch]) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    finally:
        torch.set_num_threads(threads)
    network = network.double().eval().requires_grad_(False)
    with torch.no_grad():
        error = network(x[val].double()) - y[val].double()
    figures = {
        "train_shots": len(train),
        "validation_shots": held,
        "validation_rmse_m": float(error.pow(2).mean().sqrt()),
        "validation_mae_m": float(error.abs().mean()),
    }
    return network, figures


@component("surrogate", SurrogateOptions, "Surrogate of the trebuchet simulator: a network fitted to logged shots.")
def build(url: str, *, name: str, seed: int, options: SurrogateOptions) -> Client:
    """The surrogate component's client (arguments as for ``Component.build``; ``seed`` is unused);
    ``client.context["component"]`` is its FunctionComponent, ``client.context["network"]`` the network.

    Raises:
        ComponentError: no ``model`` file was given.
    """
    if options.model is None:
        raise ComponentError("the surrogate component needs --model FILE (a SurrogateNetwork's state dict)")
    network = SurrogateNetwork()
    network.load_state_dict(torch.load(options.model, map_location="cpu", weights_only=True))
    network = network.double().eval().requires_grad_(False)
    component = FunctionComponent(network, dtype=torch.float64)
    client = Client(name, url, component=component, network=network)
    component.attach(client, input_room=options.input_room, output_room=options.output_room)
    return client


if __name__ == "__main__":
    build.main()
