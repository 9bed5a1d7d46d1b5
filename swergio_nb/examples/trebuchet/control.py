"""The control network component: (wind, target) -> (release angle, counterweight), trained from downstream.

Run as a process: ``python -m swergio_nb.examples.trebuchet.control --hub ws://127.0.0.1:8765``.

Listens to ``DATA/FORWARD`` in ``input`` (DATA: float32 array (B, 2) of [wind m/s, target m]) and sends
``DATA/FORWARD`` to ``aim`` (DATA: float32 array (B, 3) of [wind m/s, release angle deg, counterweight lb]); the wind
is passed through for the simulator. The counterweight is in Trebuchet.jl's unit, pounds (see
:mod:`~swergio_nb.examples.trebuchet.physics`). ``DATA/GRADIENT`` in ``aim`` (dL/d(B, 3)) is back-propagated
through the network, one Adam step is taken (learning rate annealed by :func:`cosine_annealing`), and dL/d(input)
goes upstream to ``input``. ``COMMAND/SAVEMODELWEIGHTS`` sent to this component is answered with
``LOG/MODELWEIGHTS`` whose ``WEIGHTS`` is the state dict as numpy arrays.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...feedback.components import ModuleComponent
from ...transport.client import SENDER, Client, Trigger
from .._component import component_parser, serve_component

__all__ = ["ControlNetwork", "build", "cosine_annealing", "main", "WIND_SD", "TARGET_RANGE"]

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


def build(
    url: str,
    *,
    name: str = "control",
    seed: int = 0,
    lr: float = 1e-2,
    anneal_steps: int | None = None,
    weight_scale: float = 1.0,
    input_room: str = "input",
    output_room: str = "aim",
) -> Client:
    """The control component's client (connect it, or ``await client.run()``).

    Args:
        url: hub URL.
        name: component name.
        seed: seeds the network's initial weights.
        lr: Adam learning rate.
        anneal_steps: if given, the rate anneals to lr / 100 over this many steps (:func:`cosine_annealing`).
        weight_scale: see :class:`ControlNetwork`.
        input_room: room of incoming [wind, target] batches.
        output_room: room the [wind, angle, weight] batches go to.

    Returns:
        The client; ``client.context["component"]`` is the :class:`~swergio_nb.feedback.ModuleComponent`.
    """
    network = ControlNetwork.seeded(seed, weight_scale=weight_scale)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    scheduler = None if anneal_steps is None else cosine_annealing(optimizer, anneal_steps)
    component = ModuleComponent(network, optimizer, scheduler=scheduler)
    client = Client(name, url, component=component)
    component.attach(client, input_room=input_room, output_room=output_room)

    def save_weights(msg: dict) -> dict:
        weights = {k: v.detach().numpy().copy() for k, v in network.state_dict().items()}
        return {"WEIGHTS": weights, "COMPONENT": name, "STEPS": component.steps}

    client.add_handler(
        save_weights, Trigger("COMMAND/SAVEMODELWEIGHTS", []), reply_type="LOG/MODELWEIGHTS", reply_to=SENDER
    )
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Trebuchet control network component.", "control")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default %(default)s)")
    parser.add_argument("--anneal-steps", type=int, default=None, help="cosine-anneal the rate over this many steps")
    parser.add_argument("--weight-scale", type=float, default=1.0, help="lb per unit of the weight output")
    args = parser.parse_args(argv)
    serve_component(
        lambda: build(
            args.hub,
            name=args.name,
            seed=args.seed,
            lr=args.lr,
            anneal_steps=args.anneal_steps,
            weight_scale=args.weight_scale,
        ),
        args,
    )


if __name__ == "__main__":
    main()
