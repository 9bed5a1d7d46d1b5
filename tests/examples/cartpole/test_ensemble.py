"""The aggregation and contribution maths on known logits (sans-I/O: no sockets)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swergio_nb.examples.cartpole.aggregator import AggregatorComponent
from swergio_nb.examples.cartpole.ensemble import aggregate, choose_actions, combine, contributions, softmax

LN3, LN4 = math.log(3.0), math.log(4.0)


def test_softmax_of_known_logits_and_of_huge_ones():
    np.testing.assert_allclose(softmax(np.array([0.0, LN3])), [0.25, 0.75])
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0 + LN4])), [0.2, 0.8])  # no overflow
    with pytest.raises(ValueError, match="finite"):
        softmax(np.array([0.0, np.nan]))


def test_sum_of_probabilities_greedy_action_and_shares():
    # model A: [0.5, 0.5]; model B: [0.2, 0.8] -> summed [0.7, 1.3]: action 1, mixture probability 0.65
    logits = np.array([[[0.0, 0.0]], [[0.0, LN4]]])
    probs = aggregate(logits)
    np.testing.assert_allclose(probs.sum(axis=0), [[0.7, 1.3]])
    result = combine(logits, greedy=True)
    assert result.actions.tolist() == [1]
    np.testing.assert_allclose(result.shares[:, 0], [0.5 / 1.3, 0.8 / 1.3])
    np.testing.assert_allclose(result.behaviour_probs, [0.65])
    # the share is the importance ratio over N: N * c_i = pi_i(a) / mu(a)
    np.testing.assert_allclose(2 * result.shares[:, 0], [0.5 / 0.65, 0.8 / 0.65])


def test_shares_of_a_batch_sum_to_one_and_follow_the_chosen_action():
    # observation 0: A [0.25, 0.75], B [0.75, 0.25] (a tie: greedy takes action 0); observation 1: both [0.25, 0.75]
    logits = np.array([[[0.0, LN3], [0.0, LN3]], [[LN3, 0.0], [0.0, LN3]]])
    result = combine(logits, greedy=True)
    assert result.actions.tolist() == [0, 1]
    np.testing.assert_allclose(result.shares, [[0.25, 0.5], [0.75, 0.5]])
    np.testing.assert_allclose(result.shares.sum(axis=0), [1.0, 1.0])
    # crediting the other action instead flips the shares of observation 0
    np.testing.assert_allclose(contributions(aggregate(logits), np.array([1, 1]))[:, 0], [0.75, 0.25])


def test_sampling_follows_the_normalised_sum():
    summed = np.tile([0.7, 1.3], (20_000, 1))
    actions = choose_actions(summed, greedy=False, rng=np.random.default_rng(0))
    assert abs(actions.mean() - 0.65) < 0.01
    assert set(np.unique(actions)) == {0, 1}
    # three actions: every one is drawn about as often as its probability
    draws = choose_actions(np.tile([1.0, 2.0, 1.0], (20_000, 1)), greedy=False, rng=np.random.default_rng(1))
    np.testing.assert_allclose(np.bincount(draws) / len(draws), [0.25, 0.5, 0.25], atol=0.01)


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="models, batch, actions"):
        aggregate(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        contributions(np.full((2, 3, 2), 0.5), np.array([0, 1]))
    with pytest.raises(ValueError, match="must be in"):
        contributions(np.full((2, 2, 2), 0.5), np.array([0, 2]))
    with pytest.raises(ValueError, match="random generator"):
        choose_actions(np.ones((1, 2)), greedy=False)


def test_aggregator_waits_for_all_models_and_accumulates_contribution_of_active_rows():
    agg = AggregatorComponent(["model-0", "model-1"], seed=0)

    def logits_msg(name: str, z: list, root: str, status: int = 1) -> dict:
        return {
            "SENT_BY": name,
            "ROOT_ID": root,
            "DATA": np.array(z),
            "ACTIVE": np.array([True, False]),
            "MODEL_STATUS": status,
        }

    assert agg.handle(logits_msg("model-1", [[0.0, LN4], [0.0, 0.0]], "s1", 2)) is None  # waits for model-0
    assert agg.handle(logits_msg("intruder", [[0.0, 0.0], [0.0, 0.0]], "s1", 2)) is None
    out = agg.handle(logits_msg("model-0", [[0.0, 0.0], [0.0, 0.0]], "s1", 2))
    assert out["TO_ROOM"] == "action" and out["MODELS"] == ["model-0", "model-1"]
    assert out["DATA"].tolist() == [1, 0] and out["SHARES"].dtype == np.float32
    np.testing.assert_allclose(out["SHARES"][:, 0], [0.5 / 1.3, 0.8 / 1.3], rtol=1e-6)
    assert agg.contribution == {"model-0": 0.0, "model-1": 0.0} and agg.ignored == 1  # greedy steps credit nobody
    agg.handle(logits_msg("model-0", [[0.0, 0.0], [0.0, 0.0]], "s2"))
    out = agg.handle(logits_msg("model-1", [[0.0, 0.0], [5.0, -5.0]], "s2"))
    # both models uniform on the active row: half each; the inactive row is not credited
    assert agg.contribution == pytest.approx({"model-0": 0.5, "model-1": 0.5})
    report = agg.report({"COMMAND": "contribution"})
    assert report == {"CONTRIBUTION": pytest.approx({"model-0": 0.5, "model-1": 0.5}), "STEPS": 1}
    assert agg.contribution == {"model-0": 0.0, "model-1": 0.0}  # reset
