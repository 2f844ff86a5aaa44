"""The initializations that ship with mamlviz, as the window loads them, and how a row describes one."""

from __future__ import annotations

from pathlib import Path

from mamlviz.core.checkpoint import Initialization, load_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.model import init_params
from mamlviz.core.omniglot.metric_demo import ClassifierDemo
from mamlviz.gui.style import display_name
from mamlviz.resources import (
    SHIPPED_FAMILY,
    SHIPPED_MAML,
    SHIPPED_OMNIGLOT_MAML,
    SHIPPED_OMNIGLOT_MATCHINGNET,
    SHIPPED_OMNIGLOT_PRETRAINED,
    SHIPPED_OMNIGLOT_PROTONET,
    SHIPPED_PRETRAINED,
    resource_path,
)

DEFAULT_SHOWN = ("maml", "pretrained")
OMNIGLOT_DEMO = {
    "MAML": SHIPPED_OMNIGLOT_MAML,
    "pretrained": SHIPPED_OMNIGLOT_PRETRAINED,
    "ProtoNet": SHIPPED_OMNIGLOT_PROTONET,
    "Matching Net": SHIPPED_OMNIGLOT_MATCHINGNET,
}
"""The Classification tab's shipped classifiers, by the name it shows."""


def shipped_initializations() -> tuple[dict[str, Initialization], str]:
    """The shipped MAML and pretrained initializations (seeded random ones, with a note, if missing), then the
    shipped family inits that adapt from points alone (the oracle, which needs the task's parameters, is left out)."""
    try:
        inits = {
            name: load_initialization(resource_path(file))
            for name, file in (("maml", SHIPPED_MAML), ("pretrained", SHIPPED_PRETRAINED))
        }
        source = "shipped"
    except (FileNotFoundError, CheckpointError):
        config = TrainConfig()
        params = init_params(config.model, default_generator(0))
        inits = {name: Initialization(params, config, name) for name in ("maml", "pretrained")}
        source = "random (no shipped files)"
    for file in SHIPPED_FAMILY:
        name = file.removesuffix("_sinusoid.safetensors").replace("mamlpp", "maml++")
        try:
            init = load_initialization(resource_path(file))
        except (FileNotFoundError, CheckpointError):
            continue
        if init.algorithm != "oracle":
            inits[name] = init
    return inits, source


def shipped_omniglot_data() -> str:
    """The Omniglot folder the shipped Omniglot init was trained on, if it exists on this machine, else ''."""
    try:
        data = load_initialization(resource_path(SHIPPED_OMNIGLOT_MAML)).config.classification.data
    except (FileNotFoundError, MamlvizError):
        return ""
    return data if data and Path(data).is_dir() else ""


def init_tooltip(name: str, init: Initialization) -> str:
    """Algorithm, domain and training length; the evaluation itself is Compare's (Ctrl+T), on the same 600 tasks as
    `mamlviz eval` (figures stored in a file at training time can come from other code or weights, so none is shown)."""
    text = f"{display_name(name)}: {init.algorithm}, {init.iterations:,} meta-iterations ({init.config.domain})"
    if init.inner_lrs:
        text += "\nAdapts with its learned step sizes."
    if init.algorithm == "anil":
        text += "\nAdapts only the last layer."
    return text + "\nCompare (Ctrl+T) measures its MSE after 0 / 1 / 5 / 10 steps on 600 tasks."


def omniglot_demo_files() -> dict[str, Path]:
    return {name: resource_path(file) for name, file in OMNIGLOT_DEMO.items()}


def load_omniglot_demo() -> ClassifierDemo:
    """The Classification tab's demo: the shipped MAML, pretrained net, ProtoNet and Matching Net, with the characters
    none of them meta-trained on where the shipped MAML's Omniglot folder is on this machine. Takes seconds: call it
    off the GUI thread."""
    return ClassifierDemo.from_files(omniglot_demo_files(), shipped_omniglot_data() or None)
