"""The trebuchet trained through a real hub: in-process components, OS processes, and the demo command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from swergio_nb.examples.trebuchet.demo import train_reference, train_through_hub

SMALL = dict(batch_size=32, seed=3, eval_shots=200, lr=3e-2)
STEPS = 100


@pytest.fixture(scope="module")
def reference():
    return train_reference(STEPS, **SMALL)


async def test_training_through_the_hub_reduces_the_loss_and_equals_the_reference(reference):
    result = await train_through_hub(STEPS, **SMALL)
    losses = np.array(result.losses)
    assert len(losses) == STEPS and result.extra["hub_errors"] == 0
    assert losses[-10:].mean() < 0.25 * losses[:10].mean()
    # the backward path across components is the chain rule: same numbers as one autograd graph
    np.testing.assert_allclose(losses, reference.losses, rtol=1e-3)
    assert result.mean_miss_m == pytest.approx(reference.mean_miss_m, rel=1e-2)


async def test_components_run_as_their_own_processes():
    result = await train_through_hub(5, processes=True, **SMALL)
    assert result.mode == "hub (processes)"
    np.testing.assert_allclose(result.losses, train_reference(5, **SMALL).losses, rtol=1e-3)
    # the trained weights came back from the control process as binary arrays
    assert sum(p.numel() for p in result.network.parameters()) == 2 * 16 + 16 + 16 * 64 + 64 + 64 * 16 + 16 + 16 * 2 + 2


def _demo(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "swergio_nb.swarm.cli", "demo", "trebuchet", "--batch-size", "16", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_demo_command_writes_plots_and_model_and_resumes_from_it(tmp_path):
    out = _demo("--steps", "5", "--eval-shots", "50", "--compare", "--no-progress", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "wall-time ratio hub / reference" in out.stdout and "mean miss over 50 fresh shots" in out.stdout
    for name in ("trebuchet_loss.png", "trebuchet_shots.png", "trebuchet_model.pt"):
        assert (tmp_path / name).stat().st_size > 1000
    model = tmp_path / "trebuchet_model.pt"
    saved = torch.load(model, weights_only=True)  # the control component's state: weights and Adam's moments
    assert set(saved) == {"FORMAT", "WEIGHTS", "OPTIMIZER", "STEPS"} and saved["STEPS"] == 5
    again = _demo("--steps", "5", "--eval-shots", "50", "--no-progress", "--out", str(tmp_path), "--resume", str(model))
    assert again.returncode == 0, again.stderr
    assert f"resuming from {model}: weights and optimizer state after 5 steps" in again.stdout
    assert "hub (in-process): 5 steps" in again.stdout


async def test_a_resumed_run_continues_from_the_saved_weights_in_a_process(reference, tmp_path):
    torch.save(reference.network.state_dict(), tmp_path / "model.pt")
    resumed = await train_through_hub(5, processes=True, resume=tmp_path / "model.pt", **SMALL)
    reference = train_reference(5, resume=tmp_path / "model.pt", **SMALL)
    np.testing.assert_allclose(resumed.losses, reference.losses, rtol=1e-3)
    fresh = train_reference(5, **SMALL)
    assert resumed.losses[0] < 0.5 * fresh.losses[0]  # it starts where the first run ended, not from scratch
