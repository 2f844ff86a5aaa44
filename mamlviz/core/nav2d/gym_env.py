"""The 2D navigation point robot as a Gymnasium environment, for agents outside mamlviz (stable-baselines3, …).

Optional: needs `pip install "mamlviz[gym]"`; nothing else in mamlviz imports gymnasium. The dynamics are the core's
`env.step` (one source of truth): the observation is the position, starting at (0, 0); an action a in [−1, 1]²
moves the point by the velocity clip(action_scale · a, ±0.1) per axis (rllab's `normalize()` with the default
0.1; actions outside the box are not rejected, the velocity is clipped anyway); the reward is minus the L2 distance
from the new position to the goal. An episode terminates within 0.01 of the goal on both axes and is truncated
after `horizon` steps. Importing this module registers `ENV_ID`, so
`gymnasium.make("mamlviz.core.nav2d.gym_env:mamlviz/PointNav2D-v0")` works without importing it first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

from mamlviz.core.config import RLConfig
from mamlviz.core.nav2d.env import GOAL_RANGE, HORIZON, START, step

ENV_ID = "mamlviz/PointNav2D-v0"


class PointNavigationEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """One point robot and one goal: a fixed `goal`, else one drawn from U[−0.5, 0.5]² at each reset."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        goal: tuple[float, float] | None = None,
        horizon: int = HORIZON,
        action_scale: float = RLConfig.action_scale,
    ) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}.")
        if not (np.isfinite(action_scale) and action_scale > 0):
            raise ValueError(f"action scale must be positive, got {action_scale}.")
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.horizon = horizon
        self.action_scale = action_scale
        self._fixed_goal = None if goal is None else _as_goal(goal)
        self._goal = np.zeros(2)
        self._position = np.array(START)
        self._steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Back to (0, 0) with `options["goal"]`, the constructor's goal, or one drawn with `np_random`."""
        super().reset(seed=seed)
        if options is not None and "goal" in options:
            self._goal = _as_goal(options["goal"])
        elif self._fixed_goal is not None:
            self._goal = self._fixed_goal.copy()
        else:
            self._goal = self.np_random.uniform(-GOAL_RANGE, GOAL_RANGE, 2)
        self._position = np.array(START)
        self._steps = 0
        return self._position.astype(np.float32), {"goal": self._goal.copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One transition of the core `step`, in float64."""
        moved, reward, done = step(
            torch.as_tensor(self._position, dtype=torch.float64),
            torch.as_tensor(np.asarray(action), dtype=torch.float64),
            torch.as_tensor(self._goal, dtype=torch.float64),
            self.action_scale,
        )
        self._position = moved.numpy()
        self._steps += 1
        info = {"goal": self._goal.copy()}
        return self._position.astype(np.float32), float(reward), bool(done), self._steps >= self.horizon, info


def _as_goal(goal: Any) -> np.ndarray:
    array = np.array(goal, dtype=np.float64)
    if array.shape != (2,):
        raise ValueError(f"a goal is (x, y), got shape {array.shape}.")
    return array


def register() -> None:
    """Register `ENV_ID` with gymnasium (once; run at import of this module)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point=f"{__name__}:PointNavigationEnv")


register()
