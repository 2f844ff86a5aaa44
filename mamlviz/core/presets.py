"""The one table of training settings the CLI and the app fill in: each domain's defaults (its registry
`defaults`, the paper's settings) and the app's named presets."""

from __future__ import annotations

import dataclasses

from mamlviz.core import registry
from mamlviz.core.config import TrainConfig


def domain_config(name: str) -> TrainConfig:
    """What choosing a domain fills in: its defaults over `TrainConfig`'s."""
    return TrainConfig(domain=name, **registry.get(name).defaults)


DOMAIN_DEFAULTS: dict[str, TrainConfig] = {name: domain_config(name) for name in registry.names()}
"""Domain name -> the config choosing it fills in."""
PRESETS: dict[str, TrainConfig] = {
    "Paper (Finn et al. 2017)": DOMAIN_DEFAULTS["sinusoid"],
    "Quick demo (3,000 iterations)": dataclasses.replace(DOMAIN_DEFAULTS["sinusoid"], iterations=3000, val_every=500),
    "Omniglot 5-way 1-shot (Finn et al. 2017)": dataclasses.replace(DOMAIN_DEFAULTS["omniglot"], val_every=500),
}
"""The app's named presets."""
