"""The control network component: (wind, target) -> (release angle, counterweight), trained from downstream.

Run as a process: ``python -m swergio_nb.examples.trebuchet.control --hub ws://127.0.0.1:8765``.

Listens to ``DATA/FORWARD`` in ``input`` (DATA: float32 array (B, 2) of [wind m/s, target m]) and sends
``DATA/FORWARD`` to ``aim`` (DATA: float32 array (B, 3) of [wind m/s, release angle deg, counterweight lb]); the wind
is passed through for the simulator. The counterweight is in Trebuchet.jl's unit, pounds (see
:mod:`~swergio_nb.examples.trebuchet.physics`). ``DATA/GRADIENT`` in ``aim`` (dL/d(B, 3)) is back-propagated
through the network, one Adam step is taken (learning rate annealed by :func:`cosine_annealing`), and dL/d(input)
goes upstream to ``input``. The model commands (:class:`~swergio_nb.feedback.commands.ModelCommands`) are answered:
``COMMAND/SAVEMODELWEIGHTS`` with ``LOG/MODELWEIGHTS`` whose ``WEIGHTS`` is the state dict as numpy arrays (and the
optimizer's and scheduler's state), ``COMMAND/LOADMODELWEIGHTS``, ``COMMAND/SAVESETTINGS`` and
``COMMAND/LOADSETTINGS`` (``lr`` can change while it trains). With ``--resume FILE`` it starts from a saved model.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...feedback.commands import ModelCommands, load_file
from ...feedback.components import ModuleComponent
from ...swarm.component import component, option_values
from ...transport.client import Client
from .options import ControlOptions

__all__ = [
    "ControlNetwork",
    "ControlOptions",
    "build",
    "cosine_annealing",
    "WIND_SD",
    "TARGET_RANGE",
]

#: Standard deviation of the wind the trainer samples, m/s (swergio's trainer: ``randn() * 5``).
WIND_SD = 5.0
#: Range of targets the trainer samples, metres (swergio and the Flux model zoo: 20 to 100 m).
TARGET_RANGE = (20.0, 100.0)


class ControlNetwork(nn.Module):
    """The aiming network of the Flux model zoo's differentiable trebuchet: a 2-16-64-16-2 sigmoid MLP.

    Input: float tensor (B, 2) of [wind in m/s, target distance in m]. Output: (B, 3) of [wind in m/s (passed
    through), release angle in degrees, counterweight in lb]. As in the model zoo (FluxML/model-zoo
    ``games/differentiable-programming/trebuchet/DiffRL.jl``, ``aim``), the angle is ``sigmoid(out1) * 90`` and
    the counterweight ``out2 * weight_scale + 200`` (lb, Trebuchet.jl's unit); unlike it, the inputs are
    standardised (wind / 5, (target - 60) / 40) so the sigmoid layers start in their sensitive range.

    Args:
        weight_scale: pounds per unit of the second output (1.0 in the model zoo).
    """

    def __init__(self, weight_scale: float = 1.0) -> None:
        super().__init__()
        self.weight_scale = weight_scale
        self.net = nn.Sequential(
            nn.Linear(2, 16),
            nn.Sigmoid(),
            nn.Linear(16, 64),
            nn.Sigmoid(),
            nn.Linear(64, 16),
            nn.Sigmoid(),
            nn.Linear(16, 2),
        )

    @classmethod
    def seeded(cls, seed: int, **kwargs: float) -> ControlNetwork:
        """A network whose initial weights depend only on ``seed`` (the global torch RNG is left untouched)."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return cls(**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wind, target = x[:, :1], x[:, 1:2]
        mid = sum(TARGET_RANGE) / 2
        half = (TARGET_RANGE[1] - TARGET_RANGE[0]) / 2
        z = self.net(torch.cat([wind / WIND_SD, (target - mid) / half], dim=1))
        angle = torch.sigmoid(z[:, :1]) * 90.0
        weight = z[:, 1:2] * self.weight_scale + 200.0
        return torch.cat([wind, angle, weight], dim=1)


def cosine_annealing(
    optimizer: torch.optim.Optimizer, steps: int, final_fraction: float = 0.01
) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine learning-rate annealing (Loshchilov & Hutter, SGDR, ICLR 2017) from the optimizer's rate down to
    ``final_fraction`` of it over ``steps`` optimizer steps, then constant (no restart)."""

    def factor(step: int) -> float:
        progress = min(step, steps) / max(steps, 1)
        return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@component("control", ControlOptions, "Trebuchet control network component.")
def build(url: str, *, name: str, seed: int, options: ControlOptions) -> Client:
    """The control component's client (arguments as for ``Component.build``): ``seed`` seeds the network's
    initial weights; ``client.context["component"]`` is the :class:`~swergio_nb.feedback.ModuleComponent`."""
    network = ControlNetwork.seeded(seed, weight_scale=options.weight_scale)
    optimizer = torch.optim.Adam(network.parameters(), lr=options.lr)
    scheduler = None if options.anneal_steps is None else cosine_annealing(optimizer, options.anneal_steps)
    component = ModuleComponent(network, optimizer, scheduler=scheduler)
    client = Client(name, url, component=component)
    component.attach(client, input_room="input", output_room="aim")
    ModelCommands(component, settings=option_values(options)).attach(client)
    if options.resume is not None:
        load_file(component, options.resume)
    return client


if __name__ == "__main__":
    build.main()
