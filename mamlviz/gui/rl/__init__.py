"""The Reinforcement learning tab (2D navigation, issue #13): `tab` lays it out and runs the rollouts on a job,
`arena` and `returns_plot` are its views, `policies` the policies it shows and their adaptation to one goal."""

from mamlviz.gui.rl.policies import DOMAIN as RL_DOMAIN
from mamlviz.gui.rl.tab import RLTab

__all__ = ["RL_DOMAIN", "RLTab"]
