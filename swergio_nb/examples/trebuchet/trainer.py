"""The trainer component: sends aiming tasks forward, turns the distances that come back into loss gradients.

Run as a process: ``python -m swergio_nb.examples.trebuchet.trainer --hub ws://127.0.0.1:8765 --steps 300``.

One training step (as in swergio's ``04_training.py``, but awaited instead of chained through handlers):

1. ``DATA/FORWARD`` to ``input``: a float32 batch (B, 2) of [wind, target]; wind ~ Normal(0, 5) m/s, target
   ~ Uniform(20, 100) m. ``MODEL_STATUS`` TRAIN.
2. await the distances (B,) in ``output`` (same ``ROOT_ID``);
3. ``DATA/GRADIENT`` to ``output``: dL/d distance for the mean squared miss L = mean((distance - target)^2), in m^2,
   with ``REPLY_TO`` = the distances' message id;
4. await the gradient that arrives back in ``input`` (the control network has then taken its optimizer step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ...feedback.components import loss_and_gradient
from ...protocol.messages import ModelStatus
from ...swarm.component import driver
from ...transport.client import Client
from .control import TARGET_RANGE, WIND_SD
from .options import TrainerOptions

__all__ = ["Trainer", "drive", "sample_batch"]


def sample_batch(rng: np.random.Generator, n: int) -> np.ndarray:
    """A float32 array (n, 2) of [wind in m/s ~ Normal(0, 5), target in m ~ Uniform(20, 100)]."""
    wind = rng.standard_normal(n) * WIND_SD
    target = rng.uniform(*TARGET_RANGE, n)
    return np.stack([wind, target], axis=1).astype(np.float32)


def mean_squared_miss(distance: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L = mean((distance - target)^2) in m^2."""
    return torch.mean((distance - target) ** 2)


class Trainer:
    """Drives training of the trebuchet pipeline through the hub.

    Args:
        client: a connected (or to-be-connected) client for the trainer.
        batch_size: shots per training step.
        seed: seeds the task sampler.
        input_room: where tasks go.
        output_room: where distances come back (and loss gradients go).
        timeout: seconds to wait for each reply.
    """

    def __init__(
        self,
        client: Client,
        *,
        batch_size: int = 100,
        seed: int = 0,
        input_room: str = "input",
        output_room: str = "output",
        timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.input_room = input_room
        self.output_room = output_room
        self.timeout = timeout
        self.losses: list[float] = []
        #: Called as ``listener(step, loss)`` after each training step (step counts from 1; loss in m^2).
        self.loss_listeners: list[Callable[[int, float], Any]] = []

    async def step(self, n: int = 1, *, progress: bool | Any = False) -> float:
        """Run ``n`` training steps; returns the last batch's mean squared miss in m^2 (before its update).

        Args:
            n: number of steps.
            progress: True for a tqdm progress bar (``tqdm.auto``: a widget in a notebook), or a bar to update.

        Each step's loss is appended to :attr:`losses` and passed to every ``listener(step, loss)`` in
        :attr:`loss_listeners` (e.g. a :class:`~swergio_nb.notebook.widgets.MetricsWidget`'s push).
        """
        bar = progress
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc="training")
        try:
            loss = float("nan")
            for _ in range(n):
                loss = await self._one_step()
                if bar:
                    bar.update(1)
                    bar.set_postfix(rmse_m=f"{loss**0.5:.2f}", refresh=False)
            return loss
        finally:
            if progress is True:
                bar.close()

    async def _one_step(self) -> float:
        batch = sample_batch(self.rng, self.batch_size)
        shots = await self.client.request(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": self.input_room, "DATA": batch, "MODEL_STATUS": ModelStatus.TRAIN},
            reply_room=self.output_room,
            reply_type="DATA/FORWARD",
            timeout=self.timeout,
        )
        loss, grad = loss_and_gradient(mean_squared_miss, shots["DATA"], batch[:, 1].astype(np.float64))
        await self.client.request(
            {
                "TYPE": "DATA/GRADIENT",
                "TO_ROOM": self.output_room,
                "DATA": grad,
                "REPLY_TO": shots["ID"],
                "ROOT_ID": shots["ROOT_ID"],
                "MODEL_STATUS": ModelStatus.TRAIN,
                "LOSS": loss,
            },
            reply_room=self.input_room,
            reply_type="DATA/GRADIENT",
            timeout=self.timeout,
        )
        self.losses.append(loss)
        for listener in self.loss_listeners:
            listener(len(self.losses), loss)
        return loss

    async def train(self, steps: int, progress: Any = None) -> list[float]:
        """Run ``steps`` training steps; ``progress`` (e.g. a tqdm bar) gets ``update(1)`` and the loss per step."""
        await self.step(steps, progress=progress if progress is not None else False)
        return self.losses

    async def shoot(self, tasks: np.ndarray) -> np.ndarray:
        """Distances (n,) in m for tasks (n, 2) of [wind, target], through the pipeline in VALIDATE mode."""
        reply = await self.client.request(
            {
                "TYPE": "DATA/FORWARD",
                "TO_ROOM": self.input_room,
                "DATA": np.asarray(tasks, dtype=np.float32),
                "MODEL_STATUS": ModelStatus.VALIDATE,
            },
            reply_room=self.output_room,
            reply_type="DATA/FORWARD",
            timeout=self.timeout,
        )
        return np.asarray(reply["DATA"], dtype=np.float64)

    async def evaluate(self, n: int = 1000, seed: int = 12345) -> dict[str, Any]:
        """Mean absolute miss (m) over ``n`` fresh random shots (fixed ``seed``), without training on them."""
        tasks = sample_batch(np.random.default_rng(seed), n)
        distances = await self.shoot(tasks)
        miss = np.abs(distances - tasks[:, 1])
        return {
            "mean_miss_m": float(miss.mean()),
            "median_miss_m": float(np.median(miss)),
            "tasks": tasks,
            "distances": distances,
        }

    async def fetch_state(self, component: str = "control") -> dict[str, Any]:
        """The state of a component that answers ``COMMAND/SAVEMODELWEIGHTS``: its ``LOG/MODELWEIGHTS`` answer
        (``WEIGHTS`` as numpy arrays, ``OPTIMIZER``, ``STEPS``...: :mod:`swergio_nb.feedback.commands`)."""
        return await self.client.request(
            {"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": component}, reply_type="LOG/MODELWEIGHTS", timeout=self.timeout
        )

    async def fetch_weights(self, component: str = "control") -> dict[str, np.ndarray]:
        """The state dict of a component that answers ``COMMAND/SAVEMODELWEIGHTS`` (numpy arrays)."""
        return (await self.fetch_state(component))["WEIGHTS"]


@driver("trainer", TrainerOptions, "Trebuchet trainer: trains the pipeline, then exits.")
async def drive(client: Client, *, seed: int, options: TrainerOptions) -> None:
    """The trainer process's job: ``options.steps`` training steps, printing the miss, then an evaluation."""
    trainer = Trainer(client, batch_size=options.batch_size, seed=seed)
    for i in range(options.steps):
        loss = await trainer.step()
        if i % 50 == 0 or i == options.steps - 1:
            print(f"step {i + 1}/{options.steps}  rmse {loss**0.5:.2f} m", flush=True)
    print(f"mean miss over 1000 fresh shots: {(await trainer.evaluate())['mean_miss_m']:.2f} m", flush=True)


if __name__ == "__main__":
    drive.main()
