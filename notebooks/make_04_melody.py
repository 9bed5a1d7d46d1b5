"""Writes notebooks/04_melody_active_learning.ipynb (run once; the notebook is committed without outputs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        """# Active-learning melody generator: rate melodies, the evaluation network learns from you

swergio's MelodyCreator: a genetic algorithm (**evolution**) breeds 128-bit melodies, an **evaluation network**
scores them, and an **active learner** asks a person to rate the melodies the network is least sure about, then
retrains the network on every rating through `DATA/FORWARD` / `DATA/GRADIENT`. Here the person rates in a widget
and nothing blocks: the label handler awaits the clicks while the kernel stays free.

Run headless (tests), a **simulated person** rates through the same queue as the widget's buttons; set the
environment variable `MELODY_PERSON=browser` before starting Jupyter to rate yourself (`MELODY_ROUNDS`: how many
batches of 5 to rate, default 4; `MELODY_WORKDIR`: where the label store goes, default a new temporary folder).""",
    ),
    (
        "code",
        """%load_ext swergio_nb
%swergio hub start --port 0""",
    ),
    ("md", "The GA and the evaluation network run as OS processes (`melody.yaml`)."),
    (
        "code",
        """up = %swergio up melody.yaml
await up
%swergio ps""",
    ),
    (
        "code",
        """%swergio connect conductor
monitor = %swergio monitor
monitor""",
    ),
    (
        "md",
        """The person (this notebook: the widget's queue) and the learner run in the kernel. Every rating is
committed to an SQLite store before the widget says "saved"; a restarted session loads them and trains on
them first.""",
    ),
    (
        "code",
        """import os, tempfile
from pathlib import Path
import numpy as np
from swergio_nb import current_session
from swergio_nb.notebook.widgets import MetricsWidget
from swergio_nb.examples.melody import learner as learner_mod, person as person_mod
from swergio_nb.examples.melody.labelling import LabelQueue, LabelStore
from swergio_nb.examples.melody.widget import LabellingWidget

url = current_session().hub_url
workdir = Path(os.environ.get("MELODY_WORKDIR") or tempfile.mkdtemp(prefix="melody-"))
workdir.mkdir(parents=True, exist_ok=True)
store = LabelStore(workdir / "labels.db")
queue = LabelQueue(store)
widget = LabellingWidget(queue, autoplay=False)
widget.attach(conductor)
SIMULATED = os.environ.get("MELODY_PERSON", "simulated") == "simulated"
ROUNDS = int(os.environ.get("MELODY_ROUNDS", "4"))  # batches of 5 melodies to rate
taste = person_mod.SimulatedPerson(seed=1)          # the simulated person (also the judge of the population)
if SIMULATED:
    taste.drive(queue)
test_set = person_mod.make_test_set(person_mod.SimulatedPerson(seed=2), 300)
user = await person_mod.build(url, queue=queue).connect()
options = learner_mod.LearnerOptions(strategy="entropy", pool_size=100, k=5, max_rounds=ROUNDS)
learner_client = learner_mod.build(url, seed=0, options=options, store=store, test_set=test_set)
await learner_client.connect()
rounds = learner_client.context["rounds"]
widget""",
    ),
    (
        "code",
        """metrics = MetricsWidget(title="learner accuracy and population fitness")
metrics.attach(conductor, "metrics")
heard = []
def judge(msg):  # the population's mean rating by the simulated person's taste
    if "GENOMES" in msg and "FITNESS" not in msg:
        r = taste.rating_of_score(np.array([taste.score(g) for g in msg["GENOMES"]])).mean()
        heard.append(float(r)); metrics.push("population mean rating (person)", r)
from swergio_nb import Trigger
conductor.add_handler(judge, Trigger("DATA/CUSTOM", "evolution"))
await conductor.join_room("evolution")
metrics""",
    ),
    ("md", "Start the evolution. Rate the melodies as they arrive in the widget above (keys 0-5, s skip, u undo)."),
    (
        "code",
        """await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "START"})
for _ in range(ROUNDS):
    r = await rounds.get()   # the kernel stays free: widget clicks are handled while this awaits
    print(f"round {r['round']}: {r['labels']} labels, test accuracy {r['test_accuracy']:.3f}, "
          f"batch accuracy {r['batch_accuracy']}")""",
    ),
    (
        "code",
        """await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "STOP"})
print(f"{len(store)} ratings stored; population mean rating {heard[0]:.2f} -> {max(heard[-5:]):.2f} "
      f"over {len(heard)} generations")
print(f"exported {store.export_csv(workdir / 'ratings.csv')} ratings in swergio's CSV format")""",
    ),
    ("md", "The best melody of the last population, by the network's score: listen, look, save as MIDI."),
    (
        "code",
        """import ipywidgets
from IPython.display import Image, display
from swergio_nb.examples.melody.music import genome_to_melody, piano_roll_png, render_wav, to_midi
last = learner_client.context["learner"]
x, y = last.labelled_arrays()
best = genome_to_melody(x[int(np.argmax(y))].astype(np.uint8))
to_midi(best).save(str(workdir / "best.mid"))
display(ipywidgets.Audio(value=render_wav(best), format="wav", autoplay=False))
Image(piano_roll_png(best, title="best-rated melody so far"))""",
    ),
    (
        "code",
        """await user.close(); await learner_client.close(); widget.close(); store.close()
down = %swergio down
await down""",
    ),
    ("code", "%unload_ext swergio_nb"),
]


def main() -> None:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"melody-{number:02d}"  # stable ids: regenerating changes only what changed
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, Path(__file__).parent / "04_melody_active_learning.ipynb")


if __name__ == "__main__":
    main()
