"""The policies the Reinforcement learning tab shows, and their adaptation to one goal (run on a job).

The tab hands `rollout_all` to its `JobRunner` and draws the arrays it returns (numpy, on the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from mamlviz.core.checkpoint import Initialization, load_initialization
from mamlviz.core.config import RLConfig
from mamlviz.core.errors import CheckpointError
from mamlviz.core.model import Params
from mamlviz.core.nav2d.domain import DEFAULTS, RANDOM_SEED
from mamlviz.core.nav2d.evaluation import EVAL_LRS, EVAL_STEPS, adapt_and_rollout
from mamlviz.core.nav2d.policy import init_policy
from mamlviz.gui.style import display_name
from mamlviz.resources import resource_path

DOMAIN = "nav2d"
"""The registry name of the domain this tab shows (`state.inits_of(DOMAIN)`)."""
SHIPPED = ("nav2d_maml.safetensors", "nav2d_pretrained.safetensors", "nav2d_oracle.safetensors")
"""The shipped policies (resources/README.md says how each was trained); missing ones are skipped."""
RANDOM = "random initialization"
STEPS = EVAL_STEPS
"""Adaptation steps shown: before, then after 1, 2 and 3 steps (the paper's Figure 4)."""


@dataclass(frozen=True)
class Policy:
    """One row of the tab: its parameters, whether the goal is an input (the oracle), and which of the paper's
    curves it is beside (a `PAPER` key, '' for none)."""

    params: Params = field(repr=False)
    oracle: bool = False
    paper: str = ""
    color: str = ""
    """The `style.model_color` key: the algorithm for shipped files, the name otherwise."""
    from_state: bool = False
    """An initialization of the app state (trained here or opened), drawn in a darker shade than shipped ones."""
    origin: object = field(default=None, repr=False, compare=False)
    """What it was made from (the state's `Initialization`), to tell a changed one from the same one."""
    rl: RLConfig = field(default_factory=RLConfig)
    """The environment and step settings it was trained with (the action scale, the horizon)."""


@dataclass(frozen=True)
class Rollouts:
    """A policy's trajectories for one goal: paths (steps + 1, n_traj, T + 1, 2) and returns (steps + 1, n_traj)."""

    paths: np.ndarray
    returns: np.ndarray

    @property
    def mean_path(self) -> np.ndarray:
        """(steps + 1, T + 1, 2) the mean position over the trajectories at every time step."""
        return self.paths.mean(axis=1)

    @property
    def mean_return(self) -> np.ndarray:
        """(steps + 1,) the mean return before and after each step."""
        return self.returns.mean(axis=1)


def from_init(init: Initialization, from_state: bool = False) -> Policy:
    oracle = init.algorithm == "oracle"
    return Policy(init.params, oracle, init.algorithm, init.algorithm, from_state, init, init.config.rl)


def random_policy() -> Policy:
    """The seeded random initialization (the seed `mamlviz eval` uses for its random row)."""
    return Policy(init_policy(DEFAULTS["model"], torch.Generator().manual_seed(RANDOM_SEED)), False, "random", "random")


def shipped_policies() -> dict[str, Policy]:
    """The shipped MAML, pretrained and oracle policies that exist (unreadable ones skipped), then the random one."""
    policies = {}
    for file in SHIPPED:
        try:
            init = load_initialization(resource_path(file))
        except (OSError, CheckpointError):
            continue
        policies[f"{display_name(init.algorithm)} (shipped)"] = from_init(init)
    return {**policies, RANDOM: random_policy()}


@dataclass(frozen=True)
class Request:
    """What one adaptation job computes."""

    goal: tuple[float, float]
    seed: int
    n_traj: int
    steps: int = STEPS
    lrs: tuple[float, ...] = EVAL_LRS


def rollout_one(policy: Policy, request: Request) -> Rollouts:
    """Trajectories before and after each adaptation step; the oracle is not adapted (the same at every step)."""
    params = {k: v.detach().float() for k, v in policy.params.items()}
    steps = 0 if policy.oracle else request.steps
    paths, returns = adapt_and_rollout(
        params, request.goal, steps, request.n_traj, request.seed, request.lrs, policy.oracle, policy.rl
    )
    paths, returns = paths.numpy(), returns.numpy()
    if policy.oracle:
        paths = np.repeat(paths, request.steps + 1, axis=0)
        returns = np.repeat(returns, request.steps + 1, axis=0)
    return Rollouts(paths.astype(np.float32), returns.astype(np.float64))


def rollout_all(
    policies: Mapping[str, Policy], request: Request, cancelled: Callable[[], bool] = lambda: False
) -> tuple[dict[str, Rollouts], dict[str, Exception]]:
    """Each policy's rollouts, or the exception that stopped it (one broken policy does not hide the others)."""
    results: dict[str, Rollouts] = {}
    errors: dict[str, Exception] = {}
    for name, policy in policies.items():
        if cancelled():
            break
        try:
            results[name] = rollout_one(policy, request)
        except Exception as exc:  # shown as one sentence in the tab
            errors[name] = exc
    return results, errors
