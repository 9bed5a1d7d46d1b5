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
from ...transport.client import Client
from .._component import component_parser, serve_component
from .physics import shoot

__all__ = ["simulate", "build", "main"]


def simulate(x: torch.Tensor) -> torch.Tensor:
    """Distances (B,) in metres for a batch x (B, 3) of [wind m/s, release angle deg, counterweight lb]."""
    return shoot(x[:, 0], x[:, 1], x[:, 2])


def build(
    url: str,
    *,
    name: str = "trebuchet",
    input_room: str = "aim",
    output_room: str = "output",
    dtype: torch.dtype = torch.float64,
) -> Client:
    """The simulator component's client; ``client.context["component"]`` is its FunctionComponent.

    Args:
        url: hub URL.
        name: component name.
        input_room: room of incoming [wind, angle, weight] batches.
        output_room: room the distances go to (and the loss gradients come back from).
        dtype: precision of the simulation (float64 by default).
    """
    component = FunctionComponent(simulate, dtype=dtype)
    client = Client(name, url, component=component)
    component.attach(client, input_room=input_room, output_room=output_room)
    return client


def main(argv: list[str] | None = None) -> None:
    args = component_parser("Trebuchet simulator component.", "trebuchet").parse_args(argv)
    serve_component(lambda: build(args.hub, name=args.name), args)


if __name__ == "__main__":
    main()
