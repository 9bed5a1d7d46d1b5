"""Query strategies, ordinal metrics and the ordinal output layer, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from swergio_nb.examples.melody.evaluation import CumulativeLink, EvaluationNetwork
from swergio_nb.examples.melody.selection import informativeness, ordinal_metrics, select

PROBS = np.array(
    [
        [0.90, 0.05, 0.05, 0.0, 0.0, 0.0],  # confident
        [0.40, 0.38, 0.22, 0.0, 0.0, 0.0],  # small margin, neighbouring ratings
        [0.30, 0.10, 0.15, 0.15, 0.15, 0.15],  # lowest top probability, spread over the whole scale
    ]
)


def test_uncertainty_strategies_by_hand() -> None:
    assert informativeness(PROBS, "least_confidence") == pytest.approx([0.10, 0.60, 0.70])
    assert informativeness(PROBS, "margin") == pytest.approx([-0.85, -0.02, -0.15])
    entropy = informativeness(PROBS, "entropy")
    assert entropy[2] > entropy[1] > entropy[0]
    assert entropy[0] == pytest.approx(-(0.9 * np.log(0.9) + 0.1 * np.log(0.05)))
    # the rating's variance: row 1 has mean 0.82 and E[r^2] = 0.38 + 0.88 = 1.26
    assert informativeness(PROBS, "variance")[1] == pytest.approx(1.26 - 0.82**2)
    assert np.argsort(informativeness(PROBS, "variance")).tolist() == [0, 1, 2]
    rng = np.random.default_rng(0)
    assert select(PROBS, 1, "least_confidence", rng).tolist() == [2]
    assert select(PROBS, 1, "margin", rng).tolist() == [1]
    assert select(PROBS, 2, "entropy", rng).tolist() == [2, 1]
    assert select(PROBS, 1, "variance", rng).tolist() == [2]
    picks = {tuple(select(PROBS, 1, "random", np.random.default_rng(s)).tolist()) for s in range(20)}
    assert picks == {(0,), (1,), (2,)}
    with pytest.raises(ValueError, match="smallest"):
        informativeness(PROBS, "smallest")
    with pytest.raises(ValueError, match="unknown strategy 'smallest'"):
        select(PROBS, 1, "smallest", rng)


def test_variance_tells_neighbouring_ratings_from_far_ones() -> None:
    near = np.array([[0, 0, 0.5, 0.5, 0, 0]])  # "2 or 3"
    far = np.array([[0.5, 0, 0, 0, 0, 0.5]])  # "0 or 5"
    assert informativeness(near, "entropy") == pytest.approx(informativeness(far, "entropy"))
    assert informativeness(near, "variance")[0] == pytest.approx(0.25)
    assert informativeness(far, "variance")[0] == pytest.approx(6.25)


def test_coreset_picks_the_farthest_points_greedily() -> None:
    x = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0], [0.0, 3.0], [0.5, 0.0]])
    labelled = np.array([[0.0, 0.1]])
    probs = np.full((5, 6), 1 / 6)
    rng = np.random.default_rng(0)
    # distances on the features standardised over the candidates (feature 0: mean 0.32, s.d. 0.37; feature 1: mean
    # 0.6, s.d. 1.2): farthest from the label is (1, 0) (7.3 squared units against 5.8 for (0, 3)); then (0, 3);
    # then (0.5, 0), 1.8 from the label and from (1, 0)
    assert select(probs, 3, "coreset", rng, features=x, labelled=labelled).tolist() == [2, 3, 4]
    # scaling a feature changes nothing: each counts alike
    assert select(probs, 3, "coreset", rng, features=x * [1, 0.1], labelled=labelled * [1, 0.1]).tolist() == [2, 3, 4]
    assert len(set(select(probs, 5, "coreset", rng, features=x).tolist())) == 5  # nothing labelled: all, distinct
    with pytest.raises(ValueError, match="needs the pool's features"):
        select(probs, 2, "coreset", rng)
    with pytest.raises(ValueError, match=r"features must be \(N=5, D\)"):
        select(probs, 2, "coreset", rng, features=x[:3])


def test_diverse_spreads_a_batch_over_clusters_of_uncertain_melodies() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [9.0, 9.0]])
    x = np.concatenate([c + 0.05 * rng.standard_normal((10, 2)) for c in centres])
    probs = np.tile([[0.5, 0, 0, 0, 0, 0.5]], (40, 1))  # all equally, and very, uncertain
    probs[30:] = [1, 0, 0, 0, 0, 0]  # the cluster at (9, 9) is certain: rating 0
    chosen = select(probs, 3, "diverse", rng, features=x, beta=10)
    assert sorted(int(i) // 10 for i in chosen) == [0, 1, 2]  # one from each uncertain cluster
    top3 = select(probs, 3, "variance", np.random.default_rng(1))
    assert len(chosen) == len(set(chosen.tolist())) == 3 and len(top3) == 3


def test_ordinal_metrics_by_hand() -> None:
    probs = np.eye(6)[[0, 2, 5, 3]]  # predicted 0, 2, 5, 3
    m = ordinal_metrics(probs, [0, 3, 2, 3])  # errors 0, 1, 3, 0
    assert m == pytest.approx({"accuracy": 0.5, "within_one": 0.75, "mae": 1.0})
    with pytest.raises(ValueError, match="4 predictions for 3 ratings"):
        ordinal_metrics(probs, [0, 1, 2])
    assert np.isnan(ordinal_metrics(np.zeros((0, 6)), [])["mae"])


def test_cumulative_link_is_an_ordered_distribution() -> None:
    link = CumulativeLink(6)
    theta = link.thresholds().detach()
    assert theta.tolist() == pytest.approx([-2, -1, 0, 1, 2], abs=1e-6)
    scores = torch.tensor([[-10.0], [0.0], [10.0]])
    p = torch.softmax(link(scores), dim=-1).detach()
    assert p.sum(1).tolist() == pytest.approx([1, 1, 1], abs=1e-5)
    # P(rating <= 0) = sigmoid(theta_0 - s): s = 0 gives sigmoid(-2)
    assert float(p[1, 0]) == pytest.approx(float(torch.sigmoid(torch.tensor(-2.0))), abs=1e-6)
    assert int(p[0].argmax()) == 0 and int(p[2].argmax()) == 5  # a low score is a low rating
    with torch.no_grad():
        link.gaps.fill_(-50.0)  # gaps near 0 still keep the thresholds ordered
    assert bool(torch.all(torch.diff(link.thresholds()) >= 0))


def test_ordinal_network_learns_an_order_from_its_likelihood() -> None:
    torch.manual_seed(0)
    x = torch.rand(120, 29)
    y = (x[:, 0] * 5.99).long()  # the rating is the first feature, cut in six
    net = EvaluationNetwork.seeded(0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        optimizer.zero_grad()
        F.cross_entropy(net(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = net(x).argmax(1)
    assert float((predicted - y).abs().float().mean()) < 0.35
    with pytest.raises(ValueError, match="unknown head"):
        EvaluationNetwork("linear")
    assert EvaluationNetwork.seeded(0, "softmax")(x).shape == (120, 6)
