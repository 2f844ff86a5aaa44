"""Locate files shipped in `resources/` (inside the wheel, or at the repository root)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class OmniglotSetting:
    """One shipped Omniglot task setting: `ways`-way `shots`-shot tasks, the files of its learners by the name the
    Classification tab shows (MAML first: its training α adapts the SGD learners) and the MAML paper's accuracy
    for it (Table 1, %)."""

    ways: int
    shots: int
    files: dict[str, str]
    paper_accuracy: float


_ANY_SETTING = {
    "pretrained": SHIPPED_OMNIGLOT_PRETRAINED,
    "ProtoNet": SHIPPED_OMNIGLOT_PROTONET,
    "Matching Net": SHIPPED_OMNIGLOT_MATCHINGNET,
}
"""Learners that serve every setting: the pretrained body is fine-tuned from a zero N-way head, and the metric
learners compare embeddings for any N and K."""
OMNIGLOT_SETTINGS = {
    "5-way 1-shot": OmniglotSetting(5, 1, {"MAML": SHIPPED_OMNIGLOT_MAML, **_ANY_SETTING}, 98.7),
    "20-way 1-shot": OmniglotSetting(20, 1, {"MAML": "omniglot_20w1s_maml.safetensors", **_ANY_SETTING}, 95.8),
    "5-way 5-shot": OmniglotSetting(5, 5, {"MAML": SHIPPED_OMNIGLOT_MAML, **_ANY_SETTING}, 99.9),
}
"""The Classification tab's task settings by label, the first its default. The 5-shot setting's MAML is the 1-shot
file: it measured better on 5-shot tasks (99.53%) than the 5-shot-trained ones tried (99.13% first order, 99.41%
second order; resources/README.md)."""
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
