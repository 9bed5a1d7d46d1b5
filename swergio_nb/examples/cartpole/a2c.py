"""Advantage actor-critic (A2C) for one ensemble member, written in torch (sans-I/O: no sockets).

Why not stable-baselines3: its ``A2C.train`` assumes every action in the rollout buffer was sampled from the policy
being trained. Here the action is sampled from the ensemble's mixture ``mu = (1/N) sum_j pi_j``, so each model's
policy gradient needs its importance ratio ``rho_i = pi_i(a|s) / mu(a|s) = N * c_i`` (``c_i`` its contribution
share, :mod:`~swergio_nb.examples.cartpole.ensemble`), which SB3's loss has no place for. The algorithm is small,
so it is written out here, following SB3's A2C defaults where they apply (separate 64-64 tanh actor and critic,
n-step returns, value coefficient 0.5, gradient norm clipped to 0.5).

Per update, over a rollout of T steps x K environments (Mnih et al., *Asynchronous Methods for Deep Reinforcement
Learning*, ICML 2016, A3C/A2C; truncated importance weights as in Espeholt et al., *IMPALA*, ICML 2018, V-trace's
rho-bar)::

    R_t    = r_t + gamma * (R_{t+1}  if the episode goes on and t < T-1
                            V(s_T)   at the end of the rollout (bootstrap)
                            V(s')    if the episode was truncated (time limit; s' its final observation)
                            0        if it terminated)
    A_t    = R_t - V(s_t)                                   (advantage, not back-propagated)
    w_t    = min(rho_t, rho_bar)                             (truncated importance weight; 1 without rho_bar)
    loss   = mean(-w_t * A_t * log pi(a_t|s_t)) + vf_coef * mean((R_t - V(s_t))^2) - ent_coef * mean(H(pi(.|s_t)))

averaged over the active (environment, step) pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ...feedback import as_tensor
from .options import A2CConfig

__all__ = ["ActorCritic", "A2CConfig", "A2CLearner", "nstep_returns"]


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs (SB3's default ``MlpPolicy`` layout for A2C: [64, 64] tanh each).

    Args:
        obs_dim: observation size (4 for CartPole: cart position, cart velocity, pole angle, pole angular velocity).
        n_actions: number of discrete actions (2 for CartPole: push left, push right).
        hidden: width of the two hidden layers.
    """

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.actor = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, n_actions)
        )
        self.critic = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )

    @classmethod
    def seeded(cls, seed: int, **kwargs: int) -> ActorCritic:
        """A network whose initial weights depend only on ``seed`` (the global torch RNG is left untouched)."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return cls(**kwargs)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, n_actions) and state values (B,) for observations (B, obs_dim)."""
        return self.actor(obs), self.critic(obs).squeeze(-1)

    def weights(self) -> dict[str, np.ndarray]:
        """The state dict as float32 numpy arrays (copies), e.g. to send as binary arrays."""
        return {k: v.detach().numpy().copy() for k, v in self.state_dict().items()}

    def load_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load a state dict given as numpy arrays.

        Raises:
            ValueError: a name is missing or unknown, or an array's shape differs (nothing is loaded then).
        """
        own = self.state_dict()
        if set(weights) != set(own):
            raise ValueError(f"weights must have exactly the keys {sorted(own)}, got {sorted(weights)}")
        tensors = {}
        for k, v in weights.items():
            t = torch.as_tensor(np.array(v, dtype=np.float32))
            if t.shape != own[k].shape:
                raise ValueError(f"weights[{k!r}] has shape {tuple(t.shape)}, expected {tuple(own[k].shape)}")
            tensors[k] = t
        self.load_state_dict(tensors)


def nstep_returns(
    rewards: np.ndarray, cut: np.ndarray, cut_values: np.ndarray, last_values: np.ndarray, gamma: float
) -> np.ndarray:
    """n-step returns of a rollout (see the module docstring).

    Args:
        rewards: float array (T, K).
        cut: bool array (T, K): the episode ended at step t (terminated or truncated).
        cut_values: float array (T, K): the value to bootstrap from where ``cut`` (0 if terminated, V(final
            observation) if truncated).
        last_values: float array (K,): V(s_T) of the observations after the rollout, used where the last step was
            not cut.
        gamma: discount factor in [0, 1].

    Returns:
        float64 array (T, K) of returns R_t.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    steps = rewards.shape[0]
    out = np.empty_like(rewards)
    following = np.asarray(last_values, dtype=np.float64)
    for t in range(steps - 1, -1, -1):
        following = np.where(cut[t], cut_values[t], following)
        out[t] = rewards[t] + gamma * following
        following = out[t]
    return out


@dataclass
class _Rollout:
    obs: list[np.ndarray] = field(default_factory=list)
    active: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    ratios: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    cut: list[np.ndarray] = field(default_factory=list)
    cut_values: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rewards)


class A2CLearner:
    """One ensemble member: proposes logits for observations, records what happened, trains every ``n_steps``.

    The call order per environment step is :meth:`propose` (observations -> logits), :meth:`record_action` (the
    ensemble's actions and this model's shares), :meth:`record_reward` (rewards, episode ends); with
    ``train=False`` (greedy evaluation) only :meth:`propose` is used and nothing is stored.

    Args:
        seed: seeds the initial weights.
        config: hyperparameters.
    """

    def __init__(self, seed: int = 0, config: A2CConfig | None = None) -> None:
        self.config = config or A2CConfig()
        self.net = ActorCritic.seeded(seed, hidden=self.config.hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        self.rollout = _Rollout()
        self.updates = 0  #: optimizer steps taken
        self.steps = 0  #: environment steps recorded (each holds K environments)
        self.last_stats: dict[str, float] = {}

    # -- acting --------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def propose(self, obs: np.ndarray, active: np.ndarray | None = None, *, train: bool = True) -> np.ndarray:
        """Action logits (K, A) float32 for observations (K, obs_dim); stores them for training if ``train``.

        Args:
            obs: float array (K, obs_dim).
            active: bool array (K,): which environments are running (inactive rows are not trained on); default
                all.
            train: store the observations for the next update.

        Raises:
            ValueError: ``obs`` is not two-dimensional, or a previous step's action was never recorded.
        """
        obs = np.asarray(obs, dtype=np.float32)
        if obs.ndim != 2:
            raise ValueError(f"observations must have shape (envs, obs_dim), got {obs.shape}")
        logits, _ = self.net(as_tensor(obs, torch.float32))  # received arrays are read-only: copied once
        if train:
            r = self.rollout
            if len(r.obs) != len(r.rewards):
                raise ValueError("propose() called twice without record_action()/record_reward() in between")
            r.obs.append(obs.copy())
            r.active.append(np.ones(len(obs), bool) if active is None else np.asarray(active, bool).copy())
        return logits.numpy()

    def record_action(self, actions: np.ndarray, shares: np.ndarray, n_models: int) -> None:
        """The actions the ensemble took (K,) and this model's contribution shares (K,) among ``n_models``.

        Raises:
            ValueError: no observation is waiting for an action, or shapes differ.
        """
        r = self.rollout
        if len(r.actions) != len(r.obs) - 1:
            raise ValueError("record_action() without a proposal waiting for it")
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (len(r.obs[-1]),) or np.shape(shares) != actions.shape:
            raise ValueError(f"actions and shares must have shape ({len(r.obs[-1])},)")
        r.actions.append(actions.copy())
        r.ratios.append(np.asarray(shares, dtype=np.float64) * n_models)

    @torch.no_grad()
    def record_reward(
        self,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: np.ndarray | None = None,
    ) -> None:
        """Rewards (K,) of the last action and how episodes ended; ``final_obs`` (K, obs_dim) is needed where
        ``truncated`` (bootstrap from its value).

        Raises:
            ValueError: no action is waiting for its reward.
        """
        r = self.rollout
        if len(r.rewards) != len(r.actions) - 1:
            raise ValueError("record_reward() without an action waiting for it")
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool) & ~terminated
        cut_values = np.zeros(len(terminated))
        if truncated.any():
            if final_obs is None:
                raise ValueError("truncated episodes need final_obs to bootstrap from")
            _, values = self.net(as_tensor(final_obs, torch.float32))
            cut_values = np.where(truncated, values.numpy(), 0.0)
        r.rewards.append(np.asarray(rewards, dtype=np.float64).copy())
        r.cut.append(terminated | truncated)
        r.cut_values.append(cut_values)
        self.steps += 1

    @property
    def rollout_full(self) -> bool:
        """True once ``n_steps`` steps are recorded."""
        return len(self.rollout) >= self.config.n_steps

    # -- training ------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _values(self, obs: np.ndarray) -> np.ndarray:
        return self.net(as_tensor(obs, torch.float32))[1].numpy()

    def update(self, next_obs: np.ndarray | None = None) -> dict[str, float] | None:
        """One A2C step on the recorded rollout, then clear it.

        Args:
            next_obs: observations (K, obs_dim) after the last recorded step, to bootstrap episodes that go on;
                None if every episode ended (or the rollout's environments stop here: their returns are then
                cut at the rollout's end, which only happens when a run stops).

        Returns:
            Loss statistics, or None if nothing was recorded (or no row was active).
        """
        r = self.rollout
        n = len(r)
        if n == 0:
            return None
        cfg = self.config
        obs = np.stack(r.obs[:n])
        active = np.stack(r.active[:n])
        actions = np.stack(r.actions[:n])
        ratios = np.stack(r.ratios[:n])
        rewards = np.stack(r.rewards)
        cut = np.stack(r.cut)
        cut_values = np.stack(r.cut_values)
        last = np.zeros(obs.shape[1]) if next_obs is None else self._values(next_obs)
        returns = nstep_returns(rewards, cut, cut_values, last, cfg.gamma)
        # keep a proposal that is still waiting for its action and reward (none in the normal call order)
        self.rollout = _Rollout(obs=r.obs[n:], active=r.active[n:], actions=r.actions[n:], ratios=r.ratios[n:])
        mask = torch.from_numpy(active.reshape(-1))
        if not mask.any():
            return None
        logits, values = self.net(torch.from_numpy(obs.reshape(-1, obs.shape[-1])))
        logits, values = logits[mask], values[mask]
        act = torch.from_numpy(actions.reshape(-1))[mask]
        ret = torch.from_numpy(returns.reshape(-1)).float()[mask]
        weight = torch.from_numpy(ratios.reshape(-1)).float()[mask]
        if cfg.rho_bar is None:
            weight = torch.ones_like(weight)
        else:
            weight = weight.clamp(max=cfg.rho_bar)
        dist = torch.distributions.Categorical(logits=logits)
        advantage = (ret - values).detach()
        policy_loss = -(weight * advantage * dist.log_prob(act)).mean()
        value_loss = (ret - values).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        self.last_stats = {
            "policy_loss": float(policy_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(entropy.detach()),
        }
        return self.last_stats

    def begin_run(self) -> None:
        """Before a run's first proposal: train on a complete leftover rollout, drop an incomplete one (a run
        that was cut off)."""
        r = self.rollout
        if len(r.obs) == len(r.actions) == len(r.rewards):
            self.update(None)
        self.rollout = _Rollout()

    def reset_optimizer(self) -> None:
        """Forget Adam's moment estimates (after the weights were replaced) and any partial rollout."""
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        self.rollout = _Rollout()
