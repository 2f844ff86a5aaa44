"""Locate files shipped in `resources/` (inside the wheel, or at the repository root)."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "resources"
_REPOSITORY = Path(__file__).resolve().parent.parent / "resources"

SHIPPED_MAML = "maml_sinusoid.safetensors"
SHIPPED_PRETRAINED = "pretrained_sinusoid.safetensors"
SHIPPED_OMNIGLOT_MAML = "omniglot_5w1s_maml.safetensors"
SHIPPED_OMNIGLOT_PRETRAINED = "omniglot_5w1s_pretrained.safetensors"
SHIPPED_OMNIGLOT_PROTONET = "omniglot_5w1s_protonet.safetensors"
"""The 5-way 1-shot Prototypical Network (an embedding; `mamlviz.core.omniglot.metric_demo.ClassifierDemo`)."""
SHIPPED_OMNIGLOT_MATCHINGNET = "omniglot_5w1s_matchingnet.safetensors"
"""The 5-way 1-shot Matching Net (an embedding, like the ProtoNet)."""
SHIPPED_FAMILY = (
    "reptile_sinusoid.safetensors",
    "metasgd_sinusoid.safetensors",
    "anil_sinusoid.safetensors",
    "mamlpp_sinusoid.safetensors",
    "oracle_sinusoid.safetensors",
)
"""Inits of the other algorithms of the MAML family (see resources/README.md for how each was trained)."""
SHIPPED_NAV2D = {
    "maml": "nav2d_maml.safetensors",
    "pretrained": "nav2d_pretrained.safetensors",
    "oracle": "nav2d_oracle.safetensors",
}
"""2D navigation policies by algorithm (resources/README.md has their commands and evaluation)."""


def resource_path(name: str) -> Path:
    """Path of a shipped resource; raises FileNotFoundError naming both places looked in."""
    for folder in (_PACKAGED, _REPOSITORY):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"resource {name!r} not found in {_PACKAGED} or {_REPOSITORY}")
