"""The sans-I/O parts: n-step returns, the A2C learner's bookkeeping, the episode runner, the evolution step."""

from __future__ import annotations

import random

import numpy as np
import pytest

from swergio_nb.examples.cartpole.a2c import A2CConfig, A2CLearner, ActorCritic, nstep_returns
from swergio_nb.examples.cartpole.episodes import EpisodeRunner
from swergio_nb.examples.cartpole.evolution import EvolutionConfig, evolve, flatten, unflatten


def test_nstep_returns_cut_at_episode_ends_and_bootstrap_otherwise():
    gamma = 0.5
    rewards = np.ones((3, 3))
    cut = np.array([[False, False, False], [False, True, False], [False, False, True]])
    cut_values = np.array([[0, 0, 0], [0, 0.0, 0], [0, 0, 8.0]])  # env 1 terminated at t=1; env 2 truncated at t=2
    last = np.array([4.0, 4.0, 4.0])
    returns = nstep_returns(rewards, cut, cut_values, last, gamma)
    np.testing.assert_allclose(returns[:, 0], [1 + 0.5 * (1 + 0.5 * (1 + 0.5 * 4))] + [1 + 0.5 * (1 + 0.5 * 4), 3.0])
    np.testing.assert_allclose(returns[:, 1], [1.5, 1.0, 3.0])  # t=2 is a new episode, bootstrapped from last
    np.testing.assert_allclose(returns[:, 2], [1 + 0.5 * (1 + 0.5 * 5), 1 + 0.5 * 5, 1 + 0.5 * 8])


def test_learner_refuses_calls_out_of_order_and_trains_on_a_full_rollout():
    learner = A2CLearner(0, A2CConfig(n_steps=2))
    obs = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="without a proposal"):
        learner.record_action(np.zeros(3, int), np.full(3, 0.5), 2)
    logits = learner.propose(obs)
    assert logits.shape == (3, 2) and logits.dtype == np.float32
    with pytest.raises(ValueError, match="twice"):
        learner.propose(obs)
    before = flatten(learner.net.weights())
    for _ in range(2):
        learner.record_action(np.array([0, 1, 1]), np.full(3, 0.5), 2)
        learner.record_reward(np.ones(3), np.array([False, True, False]), np.zeros(3, bool))
        if not learner.rollout_full:
            learner.propose(obs)
    assert learner.rollout_full
    stats = learner.update(obs)
    assert stats is not None and learner.updates == 1 and len(learner.rollout) == 0
    assert flatten(learner.net.weights()) != before


def test_weights_that_do_not_fit_are_refused_and_the_old_ones_kept():
    net = ActorCritic.seeded(0)
    weights = net.weights()
    bad = dict(weights, **{"actor.0.weight": np.zeros((3, 3), np.float32)})
    with pytest.raises(ValueError, match="shape"):
        net.load_weights(bad)
    with pytest.raises(ValueError, match="keys"):
        net.load_weights({"actor.0.weight": weights["actor.0.weight"]})
    assert flatten(net.weights()) == flatten(weights)


def test_runner_plays_exactly_the_asked_episodes_with_their_seeds():
    runner = EpisodeRunner(3)
    runner.start(5, base_seed=100)
    finished = []
    steps = 0
    while not runner.done:
        result = runner.step(np.zeros(3, int))  # always push left: episodes end fast
        finished += result.finished
        steps += 1
    assert sorted(e.index for e in finished) == [0, 1, 2, 3, 4]
    assert sorted(e.seed for e in finished) == [100, 101, 102, 103, 104]
    assert all(e.ret == e.length for e in finished)  # CartPole pays 1 per step
    # the same seed gives the same episode whatever slot plays it
    single = EpisodeRunner(1)
    single.start(1, base_seed=103)
    length = 0
    while not single.done:
        single.step(np.zeros(1, int))
        length += 1
    assert length == next(e.length for e in finished if e.seed == 103)
    with pytest.raises(RuntimeError, match="no episode"):
        runner.step(np.zeros(3, int))


def _population(n: int) -> list[dict[str, np.ndarray]]:
    return [ActorCritic.seeded(i).weights() for i in range(n)]


def test_evolution_keeps_the_elite_and_varies_the_others_deterministically():
    weights = _population(4)
    fitness = [1.0, 5.0, 2.0, 0.5]
    state = random.getstate()
    gen = evolve(weights, fitness, EvolutionConfig(replace=3, sigma=0.05, indpb=0.5), seed=7)
    assert random.getstate() == state  # deap's draws do not leak into the global generator
    assert gen.changed == [True, False, True, True] and gen.parents[1] == 1
    assert flatten(gen.weights[1]) == flatten(weights[1])  # the fittest is kept exactly
    for i in (0, 2, 3):
        parent = np.array(flatten(weights[gen.parents[i]]))
        child = np.array(flatten(gen.weights[i]))
        moved = child != parent.astype(np.float32)
        assert 0.4 < moved.mean() < 0.6  # indpb of the parameters mutated
        assert np.abs(child - parent).max() < 0.5
    again = evolve(weights, fitness, EvolutionConfig(replace=3, sigma=0.05, indpb=0.5), seed=7)
    assert all(flatten(a) == flatten(b) for a, b in zip(gen.weights, again.weights, strict=True))
    with pytest.raises(ValueError, match="one fitness per model"):
        evolve(weights, fitness[:2], EvolutionConfig(), seed=0)


def test_flatten_unflatten_round_trip():
    weights = ActorCritic.seeded(3).weights()
    back = unflatten(flatten(weights), weights)
    assert all(np.array_equal(back[k], weights[k]) and back[k].dtype == np.float32 for k in weights)
    with pytest.raises(ValueError, match="genome has"):
        unflatten([0.0] * 5, weights)
