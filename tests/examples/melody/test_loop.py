"""The whole loop through a real hub: GA -> evaluation network -> active learner -> simulated person -> retraining,
then a restart that resumes from the stored ratings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from swergio_nb.examples.melody import SWERGIO_RATINGS
from swergio_nb.examples.melody.demo import run_through_hub
from swergio_nb.examples.melody.labelling import LabelStore

DATA = SWERGIO_RATINGS
SMALL = dict(k=3, pool_size=40, population=20, test_size=60, timeout=120.0)


async def test_loop_asks_rates_stores_retrains_and_resumes(tmp_path: Path) -> None:
    db, model = tmp_path / "labels.db", tmp_path / "evalnet.pt"
    first = await run_through_hub(rounds=2, seed=1, store=db, model=model, **SMALL)
    assert not first.model_loaded and model.stat().st_size > 10_000  # saved through COMMAND/SAVEMODELWEIGHTS
    assert [r["labels"] for r in first.rounds] == [3, 6]
    assert all(0 <= r["test_accuracy"] <= 1 and r["batch_accuracy"] is not None for r in first.rounds)
    assert first.population_rating and first.messages_routed > 0
    with LabelStore(db) as store:
        stored = store.labels()
        assert len(stored) == 6 and {r.source for r in store.rows()} == {"simulated"}

    saved = torch.load(model, weights_only=True)
    # a new session on the same store and model file: a new network process gets the saved weights
    # (COMMAND/LOADMODELWEIGHTS), training goes on from them on the 6 stored ratings (round 0), then asks for more
    second = await run_through_hub(rounds=1, seed=2, store=db, model=model, **SMALL)
    assert second.model_loaded
    assert [(r["round"], r["labels"]) for r in second.rounds] == [(0, 6), (1, 9)]
    assert torch.load(model, weights_only=True)["STEPS"] > saved["STEPS"]  # the steps went on, not from 0
    with LabelStore(db) as store:
        assert len(store) == 9 and set(stored) <= set(store.labels())


async def test_pretraining_on_swergio_ratings(tmp_path: Path) -> None:
    result = await run_through_hub(rounds=1, seed=3, pretrain=DATA, **SMALL)
    assert [(r["round"], r["labels"]) for r in result.rounds] == [(0, 39), (1, 42)]
    assert np.isfinite(result.rounds[0]["loss"])
