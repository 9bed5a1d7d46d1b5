"""The evaluation network component: genome -> logits over the 6 rating classes, trained from the learner's labels.

Run as a process: ``python -m swergio_nb.examples.melody.evaluation --hub ws://127.0.0.1:8765``.

As swergio's ``03_evaluation_net.py``:

* ``DATA/CUSTOM`` in ``evolution`` carrying ``GENOMES`` (uint8 (N, 128)) and no ``FITNESS`` is answered in
  ``evolution`` with ``GENOMES``, ``PROBS`` (float32 (N, 6), the softmax of the logits), ``RATING`` (int64 (N,),
  the argmax: swergio's FITNESS) and ``FITNESS`` (float64 (N,), the expected rating ``sum_k k p_k`` in 0..5; a
  smooth fitness lets tournament selection tell apart melodies with the same most likely class).
* Training goes through the backward path: ``DATA/FORWARD`` in ``traininput`` (float32 (B, 128) of bits) ->
  logits (B, 6) to ``trainoutput``; the learner's ``DATA/GRADIENT`` (dL/dlogits) in ``trainoutput`` -> one Adam
  step -> dL/dinput to ``traininput`` (:class:`~swergio_nb.feedback.ModuleComponent`). ``MODEL_STATUS`` VALIDATE
  forwards without keeping anything (predictions for the learner).
* ``COMMAND/SAVEMODELWEIGHTS`` sent to it is answered with ``LOG/MODELWEIGHTS`` (``WEIGHTS``: numpy state dict).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...client import SENDER, Client, Trigger
from ...feedback import ModuleComponent
from .._component import component_parser, serve_component
from .music import GENOME_SIZE

__all__ = ["EvaluationNetwork", "NUM_CLASSES", "build_component", "evaluate_genomes", "build", "main"]

#: Rating classes 0..5.
NUM_CLASSES = 6


class EvaluationNetwork(nn.Module):
    """swergio's evaluation network: a 128-256-64-16-6 ReLU MLP from genome bits to rating logits.

    Input: float tensor (B, 128) of 0/1. Output: logits (B, 6).
    """

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(GENOME_SIZE, GENOME_SIZE * 2),
            nn.ReLU(),
            nn.Linear(GENOME_SIZE * 2, 64),
            nn.ReLU(),
            nn.Linear(64, 16),
            nn.ReLU(),
            nn.Linear(16, NUM_CLASSES),
        )

    @classmethod
    def seeded(cls, seed: int) -> EvaluationNetwork:
        """A network whose initial weights depend only on ``seed`` (the global torch RNG is left untouched)."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return cls()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_component(seed: int = 0, lr: float = 1e-3) -> ModuleComponent:
    """The network with its Adam optimizer (swergio: Adam, default rate 1e-3) as a feedback component."""
    network = EvaluationNetwork.seeded(seed)
    return ModuleComponent(network, torch.optim.Adam(network.parameters(), lr=lr))


def evaluate_genomes(network: nn.Module, genomes: Any) -> dict[str, np.ndarray]:
    """Probabilities, argmax rating and expected rating of genomes (N, 128), without gradients.

    Returns:
        ``{"PROBS": float32 (N, 6), "RATING": int64 (N,), "FITNESS": float64 (N,)}``.
    """
    x = torch.as_tensor(np.asarray(genomes, dtype=np.float32).reshape(-1, GENOME_SIZE))
    with torch.no_grad():
        probs = torch.softmax(network(x), dim=-1).numpy()
    return {
        "PROBS": probs.astype(np.float32),
        "RATING": probs.argmax(axis=1).astype(np.int64),
        "FITNESS": (probs.astype(np.float64) @ np.arange(NUM_CLASSES, dtype=np.float64)),
    }


def build(
    url: str,
    *,
    name: str = "evalnet",
    seed: int = 0,
    lr: float = 1e-3,
    evolution_room: str = "evolution",
    input_room: str = "traininput",
    output_room: str = "trainoutput",
) -> Client:
    """The evaluation network's client; ``client.context["component"]`` is its ModuleComponent.

    Args:
        url: hub URL.
        name: component name.
        seed: seeds the initial weights.
        lr: Adam learning rate.
        evolution_room: where populations arrive and their fitness goes.
        input_room, output_room: the training rooms (forward in, logits out; gradients the other way).
    """
    component = build_component(seed, lr)
    client = Client(name, url, component=component)
    component.attach(client, input_room=input_room, output_room=output_room)

    def inference(msg: dict[str, Any]) -> dict[str, Any] | None:
        if "GENOMES" not in msg or "FITNESS" in msg:
            return None
        genomes = np.asarray(msg["GENOMES"], dtype=np.uint8)
        reply = {"GENOMES": genomes, **evaluate_genomes(component.module, genomes)}
        if "GENERATION" in msg:
            reply["GENERATION"] = msg["GENERATION"]
        return reply

    client.add_handler(inference, Trigger("DATA/CUSTOM", evolution_room), reply_type="DATA/CUSTOM",
                       reply_rooms=evolution_room)  # fmt: skip

    def save_weights(msg: dict) -> dict:
        weights = {k: v.detach().numpy().copy() for k, v in component.module.state_dict().items()}
        return {"WEIGHTS": weights, "COMPONENT": name, "STEPS": component.steps}

    client.add_handler(
        save_weights, Trigger("COMMAND/SAVEMODELWEIGHTS", []), reply_type="LOG/MODELWEIGHTS", reply_to=SENDER
    )
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Melody evaluation network component.", "evalnet")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default %(default)s)")
    args = parser.parse_args(argv)
    serve_component(lambda: build(args.hub, name=args.name, seed=args.seed, lr=args.lr), args)


if __name__ == "__main__":
    main()
