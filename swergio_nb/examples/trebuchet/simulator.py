"""The trebuchet simulator component: a differentiable function with no parameters.

Run as a process: ``python -m swergio_nb.examples.trebuchet.simulator --hub ws://127.0.0.1:8765``.

Listens to ``DATA/FORWARD`` in ``aim`` (DATA: array (B, 3) of [wind m/s, release angle deg, counterweight lb]) and
sends ``DATA/FORWARD`` to ``output`` (DATA: float64 array (B,) of distances in m, from
:func:`~swergio_nb.examples.trebuchet.physics.shoot`). ``DATA/GRADIENT`` in ``output`` (dL/d distance, (B,)) is turned
into dL/d[wind, angle, weight] (B, 3) by the simulator's vector-Jacobian product and sent upstream to ``aim``.
"""

from __future__ import annotations

import torch

from ...feedback.components import FunctionComponent
from ...swarm.component import component
from ...transport.client import Client
from .options import SimulatorOptions
from .physics import shoot

__all__ = ["simulate", "build"]


def simulate(x: torch.Tensor) -> torch.Tensor:
    """Distances (B,) in metres for a batch x (B, 3) of [wind m/s, release angle deg, counterweight lb]."""
    return shoot(x[:, 0], x[:, 1], x[:, 2])


@component("trebuchet", SimulatorOptions, "Trebuchet simulator component.")
def build(url: str, *, name: str, seed: int, options: SimulatorOptions) -> Client:
    """The simulator component's client (arguments as for ``Component.build``; ``seed`` and ``options`` are
    unused: the float64 simulation is deterministic); ``client.context["component"]`` is its FunctionComponent."""
    component = FunctionComponent(simulate, dtype=torch.float64)
    client = Client(name, url, component=component)
    component.attach(client, input_room="aim", output_room="output")
    return client


if __name__ == "__main__":
    build.main()
