"""The reward joiner without sockets: explicit timestamps drive it (late, duplicate, missing, out-of-order rewards),
its memory bound, its durable log and the trainer's resumption from it."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from swergio_nb.examples.bandit.joiner import Decision, JoinLog, RewardJoiner, replay
from swergio_nb.examples.bandit.learner import Learner
from swergio_nb.examples.bandit.policy import LinUCB


def decision(eid: str, t: float, action: int = 1) -> Decision:
    return Decision(eid, [1.0, 0.5, -0.5], action, 0.8, t)


def test_a_reward_within_the_wait_is_joined_at_once():
    j = RewardJoiner(wait=10.0, default_reward=-1.0)
    assert j.add_decision(decision("a", 0.0), 0.0) == []
    (event,) = j.add_reward("a", 1.0, 4.0, emitted_at=123.0)
    assert (event.decision.event_id, event.reward, event.observed, event.reward_at) == ("a", 1.0, True, 4.0)
    assert event.emitted_at == 123.0 and event.decision.propensity == 0.8
    assert j.stats.joined == 1 and j.pending == 0
    assert j.advance(100.0) == []  # already settled: no default later


def test_missing_reward_gets_the_default_after_the_wait_and_is_counted():
    j = RewardJoiner(wait=10.0, default_reward=-1.0)
    j.add_decision(decision("a", 0.0), 0.0)
    assert j.advance(10.0) == []  # the window is closed interval [0, 10]
    (event,) = j.advance(10.5)
    assert (event.reward, event.observed, event.reward_at, event.joined_at) == (-1.0, False, None, 10.0)
    assert j.stats.defaulted == 1 and j.stats.joined == 0


def test_late_reward_is_ignored_and_counted():
    j = RewardJoiner(wait=10.0)
    j.add_decision(decision("a", 0.0), 0.0)
    (default,) = j.add_reward("a", 1.0, 12.0)  # the call first closes the window, then sees the reward
    assert default.observed is False and default.reward == 0.0
    assert j.stats.late_rewards == 1 and j.stats.joined == 0 and j.stats.rewards == 1


def test_duplicate_rewards_count_once_earliest_wins():
    j = RewardJoiner(wait=10.0)
    j.add_decision(decision("a", 0.0), 0.0)
    (first,) = j.add_reward("a", 0.0, 1.0)
    assert j.add_reward("a", 1.0, 2.0) == [] and j.add_reward("a", 1.0, 3.0) == []
    assert first.reward == 0.0
    assert j.stats.duplicate_rewards == 2 and j.stats.joined == 1
    assert j.advance(50.0) == []
    assert j.add_reward("a", 1.0, 51.0) == []  # after the window: remembered as closed, so counted as late
    assert j.stats.late_rewards == 1


def test_duplicate_decision_is_ignored():
    j = RewardJoiner(wait=10.0)
    j.add_decision(decision("a", 0.0, action=1), 0.0)
    j.add_decision(decision("a", 0.5, action=2), 0.5)
    (event,) = j.add_reward("a", 1.0, 1.0)
    assert event.decision.action == 1 and j.stats.duplicate_decisions == 1 and j.stats.decisions == 1


def test_reward_before_its_decision_is_joined_when_the_decision_comes():
    j = RewardJoiner(wait=10.0)
    assert j.add_reward("a", 1.0, 1.0) == []
    (event,) = j.add_decision(decision("a", 0.5), 2.0)
    assert event.observed and event.reward == 1.0 and event.reward_at == 1.0
    assert j.stats.out_of_order == 1 and j.stats.joined == 1


def test_orphan_reward_whose_decision_never_comes_is_dropped_after_the_wait():
    j = RewardJoiner(wait=10.0)
    j.add_reward("ghost", 1.0, 0.0)
    j.advance(10.5)
    assert j.stats.orphans_dropped == 1 and j.held == 0


def test_decisions_arriving_out_of_order_default_in_deadline_order():
    j = RewardJoiner(wait=10.0)
    j.add_decision(decision("late-logged", 5.0), 5.0)
    j.add_decision(decision("early", 1.0), 6.0)  # decided earlier, logged later
    j.add_decision(decision("too-late", -20.0), 7.0)  # logged after its whole window: default at once
    assert j.stats.defaulted == 1
    settled = j.advance(100.0)
    assert [e.decision.event_id for e in settled] == ["early", "late-logged"]
    assert [e.joined_at for e in settled] == [11.0, 15.0]


def test_time_going_backwards_and_bad_rewards_raise_without_losing_state():
    j = RewardJoiner(wait=10.0)
    j.add_decision(decision("a", 5.0), 5.0)
    with pytest.raises(ValueError, match="backwards"):
        j.advance(4.0)
    with pytest.raises(ValueError, match="finite"):
        j.add_reward("a", float("nan"), 6.0)
    with pytest.raises(ValueError, match="wait"):
        RewardJoiner(wait=0)
    (event,) = j.add_reward("a", 1.0, 6.0)
    assert event.observed and j.stats.rewards == 1


def test_memory_stays_bounded_however_many_rewards_never_come():
    j = RewardJoiner(wait=1e9, max_pending=100, max_closed=50, max_orphans=10)
    settled = []
    for i in range(5000):
        settled += j.add_decision(decision(f"d{i}", float(i)), float(i))
        j.add_reward(f"never-decided-{i}", 1.0, float(i))
        assert j.held <= 100 + 50 + 10
    assert j.stats.evicted == 4900 and len(settled) == 4900 and not any(e.observed for e in settled)
    assert [e.decision.event_id for e in settled[:3]] == ["d0", "d1", "d2"]  # the oldest go first
    assert j.stats.orphans_dropped == 4990
    # the time window alone bounds it too: with a short wait nothing is held for long
    k = RewardJoiner(wait=5.0)
    for i in range(5000):
        k.add_decision(decision(f"d{i}", float(i)), float(i))
        assert k.pending <= 6
    assert k.stats.defaulted == 4994


def test_log_replay_rebuilds_the_joins_and_a_torn_tail_is_ignored(tmp_path):
    path = tmp_path / "log.jsonl"
    rng = np.random.default_rng(0)
    live = RewardJoiner(wait=3.0)
    joined = []
    with JoinLog(path) as log:
        t = 0.0
        for i in range(200):
            t += 0.5
            d = decision(f"e{i}", t, action=int(rng.integers(3)))
            log.append([{"kind": "decision", "now": t, "decision": asdict(d)}])
            joined += live.add_decision(d, t)
            if rng.random() < 0.7:  # a reward for a random recent event, sometimes late or duplicate
                eid, r = f"e{max(0, i - int(rng.integers(8)))}", float(rng.integers(2))
                log.append([{"kind": "reward", "now": t, "event_id": eid, "reward": r, "emitted_at": None}])
                joined += live.add_reward(eid, r, t)
        log.append(e.to_record() for e in joined)
    with open(path, "a") as f:
        f.write('{"kind": "reward", "now": 1e9, "event_')  # the process died mid-write
    replayed = replay(path, RewardJoiner(wait=3.0))
    key = [(e.decision.event_id, e.reward, e.observed) for e in joined]
    assert [(e.decision.event_id, e.reward, e.observed) for e in replayed.rebuilt] == key
    assert [(e.decision.event_id, e.reward, e.observed, e.reward_at) for e in replayed.joined] == [
        (e.decision.event_id, e.reward, e.observed, e.reward_at) for e in joined
    ]
    assert replayed.joiner.stats == live.stats and replayed.joiner.pending == live.pending > 0
    JoinLog(path).close()  # opening for appends cuts the torn line
    assert path.read_text().endswith("}\n")


def test_restarted_learner_resumes_model_and_pending_joins_from_the_log(tmp_path):
    path = tmp_path / "joined.jsonl"
    rng = np.random.default_rng(1)

    def fresh() -> tuple[LinUCB, RewardJoiner]:
        return LinUCB(3, 3), RewardJoiner(wait=4.0)

    first = Learner(*fresh(), JoinLog(path), batch_size=8, max_batch_age=100.0)
    for i in range(100):
        t = float(i)
        first.decision(Decision(f"e{i}", list(rng.standard_normal(3)), int(rng.integers(3)), 1.0, t), t)
        if i >= 2:
            first.reward(f"e{i - 2}", float(rng.integers(2)), t, emitted_at=t)
        batch = first.tick(t)
        if batch:
            first.train(batch)
    first.close()  # the trainer stops (its buffered input is committed)
    assert first.batches >= 10 and first.joiner.pending == 2

    second = Learner.resume(*fresh(), path, batch_size=8, max_batch_age=100.0)
    assert second.resumed_events == first.policy.trained_events
    # the same sums, added in one batch instead of many (so equal up to rounding)
    np.testing.assert_allclose(second.policy.A, first.policy.A, rtol=1e-12)
    np.testing.assert_allclose(second.policy.b, first.policy.b, rtol=1e-12, atol=1e-12)
    assert [e.decision.event_id for e in second.ready] == [e.decision.event_id for e in first.ready]
    # the decisions pending at the restart still join their rewards
    second.reward("e98", 1.0, 100.0)
    second.reward("e99", 0.0, 100.0)
    assert second.joiner.stats.joined == first.joiner.stats.joined + 2
    assert len(second.tick(1000.0)) == len(first.ready) + 2
    second.close()
