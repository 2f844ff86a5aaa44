"""2D navigation (Finn et al. 2017, section 5.3): a point robot's Gaussian policy meta-trained with MAML-TRPO.

Importing the package registers the domain (`registry.get("nav2d")`). Modules: `env` (the vectorized point
environment), `policy` (the Gaussian MLP policy as a parameter dict), `rl` (baseline, advantages, the batched
REINFORCE inner step, the meta-gradient estimators, TRPO), `training` (the `Trainer`'s domain and TRPO learner),
`evaluation` (the paper's protocol and `adapt_and_rollout` for the app), `domain` (the registry entry).
"""

from mamlviz.core import registry
from mamlviz.core.nav2d.domain import SPEC

registry.register(SPEC)
