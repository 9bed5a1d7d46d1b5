"""The evaluation network's input features (hand-worked) and that the network learns the simulated person's taste."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from swergio_nb.examples.melody.evaluation import NUM_FEATURES, EvaluationNetwork, melody_features
from swergio_nb.examples.melody.music import slots_to_genome
from swergio_nb.examples.melody.offline import candidate_test_set
from swergio_nb.examples.melody.person import SimulatedPerson


def test_features_of_a_hand_worked_melody() -> None:
    # C for 2 beats (a repeated slot ties), E, a pause, then G tied over the remaining 28 beats
    genome = slots_to_genome([0, 0, 2, 8] + [4] * 28)
    f = melody_features(genome)
    assert f.shape == (1, NUM_FEATURES) and f.dtype == np.float32
    expected = np.zeros(NUM_FEATURES, np.float32)
    expected[0], expected[1 + 0], expected[1 + 2], expected[1 + 4] = 1 / 32, 2 / 32, 1 / 32, 28 / 32  # time shares
    expected[9 + 2] = 1.0  # both intervals (C-E, E-G) are two scale degrees
    expected[17 + 1 + 4] = 1.0  # the last note is degree 4
    expected[26:29] = 3 / 32, 3 / 8, 4 / 32  # notes, distinct degrees, events
    np.testing.assert_allclose(f[0], expected, atol=1e-7)
    # a melody of only pauses: no notes, no intervals
    rests = melody_features(slots_to_genome([8] * 32))[0]
    assert rests[0] == 1.0 and rests[17] == 1.0 and not rests[9:17].any() and rests[26] == 0.0


async def test_network_learns_the_simulated_taste_above_the_majority_class() -> None:
    train = await candidate_test_set(SimulatedPerson(seed=5), 200, seed=777, budget=40)
    test = await candidate_test_set(SimulatedPerson(seed=6), 200, seed=888, budget=40)
    majority = np.bincount(test[1]).max() / len(test[1])
    x, y = torch.as_tensor(melody_features(train[0])), torch.as_tensor(train[1])
    net = EvaluationNetwork.seeded(0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        for idx in torch.randperm(len(y), generator=generator).split(20):
            optimizer.zero_grad()
            F.cross_entropy(net(x[idx]), y[idx]).backward()
            optimizer.step()
    with torch.no_grad():
        predicted = net(torch.as_tensor(melody_features(test[0]))).argmax(1).numpy()
    accuracy = float(np.mean(predicted == test[1]))
    assert accuracy > majority + 0.15, (accuracy, majority)
