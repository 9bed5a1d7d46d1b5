"""The active learner's pool (a reservoir over generations plus fresh melodies), its batches, cross-validation on
the labels, and the socket-free loop the benchmark runs."""

from __future__ import annotations

import numpy as np
import pytest

from swergio_nb.examples.melody.evaluation import build_component, melody_features
from swergio_nb.examples.melody.learner import ActiveLearner, LocalFitter, cross_validated
from swergio_nb.examples.melody.music import random_genomes
from swergio_nb.examples.melody.offline import candidate_test_set, run_offline
from swergio_nb.examples.melody.person import SimulatedPerson


def _learner(**kwargs) -> ActiveLearner:
    return ActiveLearner(LocalFitter(build_component(0)), **kwargs)


async def test_the_pool_is_a_reservoir_over_every_generation() -> None:
    learner = _learner(pool_size=50, fresh=0.2, k=5, strategy="coreset", seed=3)
    genomes = random_genomes(np.random.default_rng(0), 1000)
    first_half = {tuple(int(b) for b in g) for g in genomes[:500]}
    assert not learner.ready
    for generation in genomes.reshape(20, 50, -1):
        learner.add_to_pool(generation)
        learner.add_to_pool(generation[:10])  # copies are passed over
    assert learner.seen == 1000 and len(learner.pool) == len(set(learner.pool)) == 50
    early = sum(key in first_half for key in learner.pool)
    assert 10 <= early <= 40  # a uniform sample of all 1000, not the latest generations (expected 25)
    assert learner.ready
    chosen = await learner.choose()
    assert chosen.shape == (5, 128) and not learner.ready  # the count of new arrivals starts again
    assert len(learner.last_candidates) == 50 + 10  # the reservoir and 20 % fresh random melodies
    assert len(learner.pool) + sum(tuple(int(b) for b in g) in first_half or True for g in chosen) >= 50
    assert not {tuple(int(b) for b in g) for g in chosen} & set(learner.pool)  # asked melodies left the pool
    learner.add_labels(chosen, [1, 2, 3, 2, 1])
    learner.add_to_pool(chosen)  # labelled melodies never come back into the pool
    assert not {tuple(int(b) for b in g) for g in chosen} & set(learner.pool)
    record = await learner.retrain()
    assert record["labels"] == 5 and record["test"] is None and record["cv"] is None
    with pytest.raises(ValueError, match="fresh is a share"):
        _learner(fresh=1.5)


async def test_cross_validation_predicts_held_out_ratings() -> None:
    person = SimulatedPerson(seed=4)
    genomes, ratings = await candidate_test_set(person, 60, seed=9, budget=20, pool_size=60, population=20)
    x = melody_features(genomes)
    m = await cross_validated(x, ratings, folds=5, epochs=30, seed=0)
    majority = np.bincount(ratings).max() / len(ratings)
    assert m["within_one"] > 0.8 and m["accuracy"] > majority - 0.05, (m, majority)
    shuffled = await cross_validated(x, np.random.default_rng(0).permutation(ratings), folds=5, epochs=30, seed=0)
    assert m["mae"] < shuffled["mae"]  # the labels carry the taste: shuffled they predict worse
    with pytest.raises(ValueError, match="2 <= folds <= labels"):
        await cross_validated(x[:3], ratings[:3], folds=5)


async def test_offline_loop_asks_rates_and_measures() -> None:
    test = await candidate_test_set(SimulatedPerson(seed=2), 50, seed=1, budget=10, pool_size=40, population=20)
    assert test[0].shape == (50, 128) and len({tuple(g) for g in test[0].tolist()}) == 50
    run = await run_offline(strategy="coreset", seed=0, budget=10, k=5, pool_size=40, population=20, test_set=test)
    assert [r["labels"] for r in run.records] == [0, 5, 10]
    assert all(0 <= r["test"]["accuracy"] <= r["test"]["within_one"] <= 1 for r in run.records)
    assert len(run.candidates) == 2 and all(len(c) == 40 + 10 for c in run.candidates)
    assert run.generations >= 4  # 40 new melodies per batch, 20 per generation
