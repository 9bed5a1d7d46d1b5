# ruff: noqa: E501 - the notebook cells are kept as written
"""Writes notebooks/04_melody_active_learning.ipynb (run once; the notebook is committed without outputs)."""

from __future__ import annotations

from notebook_writer import write_notebook

CELLS = [
    (
        "md",
        """# Active-learning melody generator: you rate melodies, the evaluation network learns your taste

swergio's MelodyCreator: a genetic algorithm (**evolution**) breeds 128-bit melodies, an **evaluation network**
scores them, and an **active learner** asks you to rate a batch of melodies chosen to teach the network the most,
then retrains the network on every rating through `DATA/FORWARD` / `DATA/GRADIENT`. You rate in the widget below
(buttons or keys 0-5, `s` skip, `u` undo, `p` play again); nothing blocks while you listen.

The first code cell holds this session's settings. `RATER = "simulated"` lets a simulated person rate instead of
you, through the same widget and queue (the automated tests run the notebook that way).""",
    ),
    (
        "code",
        """RATER = "you"            # who rates: "you" in the widget, or "simulated" (a simulated person, for a demo or a test)
ROUNDS = 4               # batches to rate in this session
K = 5                    # melodies per batch
WORKDIR = "melody-session"  # your ratings (labels.db) and the network (evalnet.pt): run again later to continue""",
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
        """The learner runs in the kernel. With you rating, the widget joins the hub itself as the person component
and the label store component (its own process) commits every rating to `labels.db` before the widget says
"saved": you rate on while a cell keeps the kernel busy, and the learner gets the ratings once it is free (the
simulated person rates through a queue in the kernel). The network's state is written to `evalnet.pt` after every
batch: a later session loads both and goes on from there. With you rating, the accuracy shown is on **your own**
ratings: fresh networks are cross-validated on them (5 folds, once there are 10); with the simulated person it is
measured on a test set of melodies drawn like the ones you are asked about, rated by a simulated person of the same
taste.""",
    ),
    (
        "code",
        """from pathlib import Path
import numpy as np
from swergio_nb import Trigger, current_session
from swergio_nb.notebook.widgets import MetricsWidget
from swergio_nb.examples.melody import learner as learner_mod, person as person_mod, store as store_mod
from swergio_nb.examples.melody.labelling import LabelQueue, LabelStore
from swergio_nb.examples.melody.offline import candidate_test_set
from swergio_nb.examples.melody.widget import HubLabellingWidget, LabellingWidget, browser_hub_url

if RATER not in ("you", "simulated"):
    raise ValueError(f'RATER is "you" or "simulated", not {RATER!r}')
if "store" in globals():  # this cell run again: first close what its last run opened, as the last cell does
    if user is not None: await user.close()
    await learner_client.close(); widget.close(); store.close()
session = current_session()
url = session.hub_url
workdir = Path(WORKDIR)
workdir.mkdir(parents=True, exist_ok=True)
store = LabelStore(workdir / "labels.db")
print(f"{len(store)} ratings from earlier sessions in {workdir / 'labels.db'}")
if RATER == "you":  # the page is the person; the store component commits each rating (3 s to undo a batch's last)
    test_set, accuracy_kpi = None, "cross-validated accuracy"
    store_spec = store_mod.build.spec(store_mod.StoreOptions(store=(workdir / "labels.db").resolve()))
    await session.up(store_spec)[0]
    widget = HubLabellingWidget(browser_hub_url(url), accuracy_kpi=accuracy_kpi, rater="you", undo_window=3.0,
                                accuracy_label="accuracy on your held-out ratings (cross-validated)")
    user = None
else:
    queue = LabelQueue(store, source="simulated")
    taste = person_mod.SimulatedPerson(seed=1)
    taste.drive(queue)
    test_set = await candidate_test_set(person_mod.SimulatedPerson(seed=2), 300, pool_size=100, k=K)
    accuracy_kpi = "test accuracy"
    widget = LabellingWidget(queue, autoplay=False, rater="a simulated person (RATER = 'simulated')",
                             accuracy_label="accuracy on the simulated person's test set")
    widget.attach(conductor, accuracy_kpi=accuracy_kpi)
    user = await session.add_client(person_mod.build(url, queue=queue))
# max_rounds=0: the learner asks for batches only when the rating cell below says how many
options = learner_mod.LearnerOptions(pool_size=100, k=K, max_rounds=0, cv_folds=5, model=workdir / "evalnet.pt")
learner_client = await session.add_client(learner_mod.build(url, seed=0, options=options, store=store,
                                                             test_set=test_set))
await learner_client.context["resume"]()  # an earlier session's network and ratings, if any
rounds = learner_client.context["rounds"]
widget""",
    ),
    (
        "code",
        """BY_LABELS = "labels rated"
metrics = MetricsWidget(
    title="the learner's accuracy and the population's rating",
    figsize=(9.0, 2.8),
    x_label=BY_LABELS,
    panels={
        "accuracy (fraction)": ["batch accuracy (before training)", "test accuracy", "test within-one accuracy",
                                "cross-validated accuracy", "cross-validated within-one accuracy"],
        "mean absolute error (rating points)": ["test MAE", "cross-validated MAE"],
        "labels (count)": ["labels"],
        "population mean rating (0-5)": ["population mean rating (evaluation network)",
                                         "population mean rating (simulated person)"],
        "fitness (evaluation network score)": ["population mean fitness", "population best fitness"],
    },
    panel_x_labels={"population mean rating (0-5)": "generation", "fitness (evaluation network score)": "generation"},
)
metrics.attach(conductor, "metrics")
heard = []
def judge(msg):  # the population's mean rating by the evaluation network trained on the ratings
    if "GENOMES" in msg and "FITNESS" in msg:
        heard.append(float(np.mean(msg["FITNESS"])))
        metrics.push("population mean rating (evaluation network)", heard[-1])
        if RATER == "simulated":  # and, in a demo, by the simulated person's own taste
            metrics.push("population mean rating (simulated person)",
                         taste.rating_of_score(np.array([taste.score(g) for g in msg["GENOMES"]])).mean())
conductor.add_handler(judge, Trigger("DATA/CUSTOM", "evolution"))
await conductor.join_room("evolution")
metrics""",
    ),
    (
        "md",
        "Start the evolution, then rate the melodies as they arrive in the widget above. Run the cell again to rate "
        "`ROUNDS` more batches.",
    ),
    (
        "code",
        """def describe(r):
    text = f"round {r['round']}: {r['labels']} labels"
    if r["test"] is not None:
        text += f", test accuracy {r['test']['accuracy']:.3f} (within one {r['test']['within_one']:.3f})"
    if r["cv"] is not None:
        text += f", cross-validated accuracy {r['cv']['accuracy']:.3f} (within one {r['cv']['within_one']:.3f})"
    if r["batch_accuracy"] is not None:
        text += f", batch accuracy before training {r['batch_accuracy']:.2f}"
    return text

last = learner_client.context["ask"](ROUNDS)  # ROUNDS more batches each time this cell runs
await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "START"})
while True:
    r = await rounds.get()   # the kernel stays free: widget clicks are handled while this awaits
    print(describe(r))
    if r["round"] >= last:
        break""",
    ),
    (
        "code",
        """await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "STOP"})
print(f"{len(store)} ratings stored; population mean rating by the evaluation network "
      f"{heard[0]:.2f} -> {heard[-1]:.2f} over {len(heard)} generations")
print(f"exported {store.export_csv(workdir / 'ratings.csv')} ratings in swergio's CSV format")""",
    ),
    ("md", "The best-rated melody so far: listen, look, save as MIDI."),
    (
        "code",
        """import ipywidgets
from IPython.display import Image, display
from swergio_nb.examples.melody.music import genome_to_melody, piano_roll_png, render_wav, to_midi
x, y = learner_client.context["learner"].labelled_arrays()
best = genome_to_melody(x[int(np.argmax(y))].astype(np.uint8))
to_midi(best).save(str(workdir / "best.mid"))
display(ipywidgets.Audio(value=render_wav(best), format="wav", autoplay=False))
Image(piano_roll_png(best, title="best-rated melody so far"))""",
    ),
    (
        "md",
        """## Continue tomorrow where you stopped today

Run this notebook again with the same `WORKDIR`: the learner loads `evalnet.pt` into the new evaluation network,
then the ratings of `labels.db`, trains on them (round 0) and asks for more. The cell below does it now: it stops
the GA and the network, starts new processes (a network with untrained weights) and a new learner.""",
    ),
    (
        "code",
        """await learner_client.close()
down = %swergio down
await down
up = %swergio up melody.yaml
await up
if RATER == "you":  # the store component too: %swergio down stopped it with the others
    await session.up(store_spec)[0]
learner_client = await session.add_client(learner_mod.build(url, seed=0, options=options, store=store,
                                                             test_set=test_set))
await learner_client.context["resume"]()
r = await learner_client.context["rounds"].get()
loaded = learner_client.context["state"]["model_loaded"]
print(f"tomorrow: network loaded from {options.model.name}: {loaded}; " + describe(r))""",
    ),
    (
        "code",
        """if user is not None: await user.close()
await learner_client.close(); widget.close(); store.close()
down = %swergio down
await down""",
    ),
    ("code", "%unload_ext swergio_nb"),
]


def main() -> None:
    write_notebook(CELLS, "04_melody_active_learning.ipynb", "melody")


if __name__ == "__main__":
    main()
