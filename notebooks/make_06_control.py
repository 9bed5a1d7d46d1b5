# ruff: noqa: E501 - the notebook cells are kept as written
"""Writes notebooks/06_control.ipynb (without outputs): ``python notebooks/make_06_control.py``, then
``ruff check --fix notebooks/06_control.ipynb && ruff format notebooks/06_control.ipynb``."""

from __future__ import annotations

from notebook_writer import write_notebook

CELLS = [
    (
        "md",
        """# Control: aim the trebuchet by optimising its inputs

The fourth use of the backward path: instead of training a model on a downstream goal, optimise the **inputs of the
process** by gradient. An `InputOptimizer` (`swergio_nb.feedback`) holds the inputs of a batch of tasks as parameters
inside a box, sends them forward through the components, returns the gradient of the objective at the outputs, and
steps on the gradient that comes back for the inputs.

Here the process is the differentiable trebuchet simulator: for each (wind, target) task, the release angle and the
counterweight are found by gradient descent through the simulator component itself (no control network), and
checked against a brute-force grid search of the same physics. Then a **surrogate** network, trained only on the
shots logged in the hub's `_logging` room during ordinary training, stands in for the simulator.""",
    ),
    (
        "code",
        """%load_ext swergio_nb
%swergio hub start --port 0""",
    ),
    (
        "md",
        "The control network and the simulator run as OS processes (the same `trebuchet.yaml` as notebook 02). The notebook joins as `aimer`.",
    ),
    (
        "code",
        """up = %swergio up trebuchet.yaml
await up
%swergio connect aimer
%swergio ps""",
    ),
    (
        "md",
        """Fifteen tasks; the wind is measured, so it is held fixed (lower = upper bound). Angle 5-65 deg, counterweight
50-500 lb, three starts per task (15, 35 and 55 deg at 200 lb) travelling in the same messages. The curve shows the
RMS miss of the rows still running after each forward/backward round trip.""",
    ),
    (
        "code",
        """import numpy as np
from swergio_nb.examples.aim.aiming import aim_optimizer, grid_search, task_grid
from swergio_nb.notebook.widgets import MetricsWidget

tasks = task_grid([-8.0, 0.0, 8.0], [20.0, 45.0, 70.0, 95.0, 120.0])  # [wind m/s, target m]
truth = grid_search(tasks)  # the ground truth: 121 x 181 grid shots per wind
optimizer = aim_optimizer(tasks, tol=0.02)
curve = MetricsWidget(title="RMS miss of the running tasks", x_label="optimisation step", y_label="RMS miss (m)")
curve.log_scale = True
optimizer.listeners.append(lambda step, f: curve.push("rms miss (m)", float(np.sqrt(np.nanmean(f))), step))
curve""",
    ),
    (
        "code",
        """direct = await optimizer.run(aimer, 200, input_room="aim", output_room="output")
miss = np.abs(direct.outputs - tasks[:, 1])
print(f"{'wind':>5} {'target':>6}  {'angle':>6} {'weight':>6} {'distance':>8} {'miss':>6} trips  grid: closest reachable")
for i, (wind, target) in enumerate(tasks):
    x = direct.inputs[i]
    print(f"{wind:+5.0f} {target:6.0f}  {x[1]:6.2f} {x[2]:6.1f} {direct.outputs[i]:8.3f} {miss[i]:6.3f} {direct.round_trips[i]:5d}"
          f"  {truth.closest[i]:13.3f} {'yes' if truth.reachable[i] else 'no'}")
reach = truth.reachable
print(f"reachable: {(miss[reach] <= 0.05).sum()} of {reach.sum()} hit within 0.05 m; unreachable: "
      f"closest distance within {np.abs(direct.outputs - truth.closest)[~reach].max():.3f} m of the grid's")""",
    ),
    ("md", "The shots found, against their targets (triangles)."),
    (
        "code",
        """%matplotlib inline
from matplotlib import pyplot as plt
from swergio_nb.examples.trebuchet.physics import trajectory

fig, ax = plt.subplots(figsize=(9, 3.5))
for (_, target), xy, hit in zip(tasks, trajectory(*direct.inputs.T), truth.reachable, strict=True):
    if hit:
        line, = ax.plot(xy[:, 0], xy[:, 1], lw=1)
        ax.plot([target], [0], "v", ms=8, color=line.get_color())
ax.set_xlabel("distance (m)"); ax.set_ylabel("height (m)"); ax.set_ylim(bottom=0)
ax.set_title("reachable tasks, aimed by gradient descent through the simulator component")
plt.show()""",
    ),
    (
        "md",
        """## A learned model of the process

Ordinary training of the control network (notebook 02's), while a recorder in `_logging` keeps every shot the
simulator fired: (wind, angle, counterweight) -> distance. No extra simulator runs.""",
    ),
    (
        "code",
        """import asyncio

from swergio_nb.examples.aim.recorder import TrafficRecorder
from swergio_nb.examples.trebuchet.trainer import Trainer

%swergio connect recorder
%swergio connect trainer
recorder_log = TrafficRecorder("trebuchet", input_room="aim", output_room="output")
recorder_log.attach(recorder)
await recorder.ready()
await Trainer(trainer, batch_size=100, seed=0).step(300, progress=True)
for _ in range(500):  # the log copies travel on the recorder's own connection
    if len(recorder_log) == 300 * 100:
        break
    await asyncio.sleep(0.01)
recorder_log.detach(recorder)
logged_x, logged_y = recorder_log.dataset()
lo, hi = logged_x.min(0), logged_x.max(0)
print(f"{len(recorder_log)} shots logged; wind {lo[0]:.1f}..{hi[0]:.1f} m/s, angle {lo[1]:.1f}..{hi[1]:.1f} deg, "
      f"counterweight {lo[2]:.1f}..{hi[2]:.1f} lb")""",
    ),
    (
        "md",
        "The surrogate: a small MLP fitted to the logged shots, then served as a component in the kernel, on its own rooms.",
    ),
    (
        "code",
        """import tempfile
from pathlib import Path

import torch
from swergio_nb import current_session
from swergio_nb.examples.aim import surrogate
from swergio_nb.examples.aim.options import SurrogateOptions

network, fit = surrogate.fit_surrogate(logged_x, logged_y, steps=1500)
print(f"validation RMSE {fit['validation_rmse_m']:.3f} m over {fit['validation_shots']} held-out logged shots")
model = Path(tempfile.mkdtemp()) / "aim_surrogate.pt"
torch.save(network.state_dict(), model)
session = current_session()
# one of the session's clients: closed with it, and replaced (not refused) when this cell runs again
served = await session.add_client(surrogate.build(session.hub_url, options=SurrogateOptions(model=model)))""",
    ),
    (
        "md",
        """Aim through the surrogate, inside the logged data's range and in the whole box, then shoot the real simulator
at the inputs it found.""",
    ),
    (
        "code",
        """from swergio_nb.examples.aim.aiming import ANGLE_BOUNDS, WEIGHT_BOUNDS, shoot_through

angles_logged = (max(ANGLE_BOUNDS[0], lo[1]), min(ANGLE_BOUNDS[1], hi[1]))
weights_logged = (max(WEIGHT_BOUNDS[0], lo[2]), min(WEIGHT_BOUNDS[1], hi[2]))
boxes = {"logged range": (angles_logged, weights_logged), "whole box": (ANGLE_BOUNDS, WEIGHT_BOUNDS)}
for box, (angles, weights) in boxes.items():
    found = await aim_optimizer(tasks, angle_bounds=angles, weight_bounds=weights).run(
        aimer, 200, input_room="model_aim", output_room="model_output")
    real = await shoot_through(aimer, found.inputs)
    claimed = np.abs(found.outputs - tasks[:, 1]) <= 0.02
    inside = ((found.inputs >= lo) & (found.inputs <= hi)).all(axis=1)
    real_miss = np.abs(real - tasks[:, 1])
    print(f"{box}: the surrogate claims {claimed.sum()} hits, {(claimed & inside).sum()} inside the logged range; "
          f"real miss of the claimed hits: median {np.median(real_miss[claimed]):.2f} m, max {real_miss[claimed].max():.2f} m")""",
    ),
    (
        "md",
        """Inside the range of the logged shots the surrogate's "hits" land up to a few metres from the target (the
optimiser seeks out the corners where the logged shots are sparse); outside it (the training never moved the counterweight far
from 200 lb) the surrogate invents distances, and its "hits" miss by tens of metres.""",
    ),
    (
        "code",
        """down = %swergio down
await down""",
    ),
    ("code", "%unload_ext swergio_nb"),
]


def main() -> None:
    write_notebook(CELLS, "06_control.ipynb", "control")


if __name__ == "__main__":
    main()
