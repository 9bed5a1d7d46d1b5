"""Running a fixed number of CartPole-v1 episodes on K parallel gymnasium environments (sans-I/O).

:class:`EpisodeRunner` owns K ``gymnasium.make("CartPole-v1")`` environments ("slots"). A run of E episodes starts
episode j (0-based) with ``reset(seed=base_seed + j)`` in the first free slot, so a run's episodes are the same
whatever order slots free up in. Once E episodes have started, a slot whose episode ends becomes inactive: it is
still part of the batch (so batch shapes stay (K, ...)), flagged ``active = False``, and its rows are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from .rooms import ENV_ID, SOLVED_RETURN

__all__ = ["ENV_ID", "SOLVED_RETURN", "EpisodeRunner", "StepResult", "Episode"]


@dataclass(frozen=True)
class Episode:
    """A finished episode: its index in the run, reset seed, return (sum of rewards) and length in steps."""

    index: int
    seed: int
    ret: float
    length: int


@dataclass
class StepResult:
    """What one :meth:`EpisodeRunner.step` returns (all arrays have K rows).

    Attributes:
        rewards: float32 (K,) rewards of the actions (0 for inactive slots).
        terminated: bool (K,) the pole fell or the cart left the track.
        truncated: bool (K,) the 500-step time limit was reached (and not terminated).
        final_obs: float32 (K, 4) the observation the step led to (before any reset).
        obs: float32 (K, 4) the next observations (a new episode's first one where a slot was reset).
        active: bool (K,) slots running an episode after this step (the rows of ``obs`` to act on).
        finished: episodes that ended in this step.
    """

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    obs: np.ndarray
    active: np.ndarray
    finished: list[Episode] = field(default_factory=list)


class EpisodeRunner:
    """K CartPole-v1 environments that play a given number of episodes.

    Args:
        n_envs: number of parallel environments K (>= 1).
        env_id: gymnasium environment id.
    """

    def __init__(self, n_envs: int = 8, env_id: str = ENV_ID) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        self.env_id = env_id
        self.envs = [gym.make(env_id) for _ in range(n_envs)]
        obs_space = self.envs[0].observation_space
        self.obs_dim = int(np.prod(obs_space.shape))
        self.n_actions = int(self.envs[0].action_space.n)
        self._episodes = 0
        self._started = 0
        self._base_seed = 0
        self._slot_episode = [-1] * n_envs
        self._returns = np.zeros(n_envs)
        self._lengths = np.zeros(n_envs, dtype=np.int64)
        self.active = np.zeros(n_envs, dtype=bool)
        self.obs = np.zeros((n_envs, self.obs_dim), dtype=np.float32)
        self.env_steps = 0  #: environment steps taken (active slots only), over all runs

    @property
    def n_envs(self) -> int:
        return len(self.envs)

    @property
    def done(self) -> bool:
        """True when no slot is running an episode (the run is over)."""
        return not self.active.any()

    def start(self, episodes: int, base_seed: int) -> np.ndarray:
        """Start a run of ``episodes`` episodes; returns the first observations (K, 4) (see :attr:`active`).

        Raises:
            ValueError: ``episodes`` < 1.
        """
        if episodes < 1:
            raise ValueError(f"a run needs at least one episode, got {episodes}")
        self._episodes, self._started, self._base_seed = int(episodes), 0, int(base_seed)
        self.active[:] = False
        self.obs[:] = 0.0
        for slot in range(self.n_envs):
            self._begin(slot)
        return self.obs.copy()

    def _begin(self, slot: int) -> None:
        if self._started >= self._episodes:
            self.active[slot] = False
            self._slot_episode[slot] = -1
            return
        obs, _ = self.envs[slot].reset(seed=self._base_seed + self._started)
        self.obs[slot] = obs
        self._slot_episode[slot] = self._started
        self._returns[slot] = 0.0
        self._lengths[slot] = 0
        self.active[slot] = True
        self._started += 1

    def step(self, actions: np.ndarray) -> StepResult:
        """Apply one action per slot (inactive slots ignore theirs).

        Raises:
            ValueError: wrong shape or an invalid action for an active slot; RuntimeError: the run is over.
        """
        if self.done:
            raise RuntimeError("no episode is running; call start() first")
        actions = np.asarray(actions)
        if actions.shape != (self.n_envs,):
            raise ValueError(f"actions must have shape ({self.n_envs},), got {actions.shape}")
        k = self.n_envs
        rewards = np.zeros(k, dtype=np.float32)
        terminated = np.zeros(k, dtype=bool)
        truncated = np.zeros(k, dtype=bool)
        final_obs = self.obs.copy()
        finished = []
        for slot in np.flatnonzero(self.active):
            action = int(actions[slot])
            if not 0 <= action < self.n_actions:
                raise ValueError(f"action {action} for slot {slot} is not in [0, {self.n_actions})")
            obs, reward, term, trunc, _ = self.envs[slot].step(action)
            self.env_steps += 1
            rewards[slot] = reward
            final_obs[slot] = obs
            self.obs[slot] = obs
            self._returns[slot] += reward
            self._lengths[slot] += 1
            if term or trunc:
                terminated[slot], truncated[slot] = bool(term), bool(trunc and not term)
                index = self._slot_episode[slot]
                finished.append(
                    Episode(index, self._base_seed + index, float(self._returns[slot]), int(self._lengths[slot]))
                )
                self._begin(slot)
        return StepResult(rewards, terminated, truncated, final_obs, self.obs.copy(), self.active.copy(), finished)

    def close(self) -> None:
        """Close the environments."""
        for env in self.envs:
            env.close()
