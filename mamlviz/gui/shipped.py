"""The initializations that ship with mamlviz, as the window loads them, and how a row describes one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mamlviz.core.checkpoint import Initialization, load_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.model import init_params
from mamlviz.core.omniglot.metric_demo import ClassifierDemo
from mamlviz.gui.style import display_name
from mamlviz.resources import (
    OMNIGLOT_SETTINGS,
    SHIPPED_FAMILY,
    SHIPPED_MAML,
    SHIPPED_OMNIGLOT_MAML,
    SHIPPED_PRETRAINED,
    resource_path,
)

DEFAULT_SHOWN = ("maml", "pretrained")
DEFAULT_OMNIGLOT_SETTING = next(iter(OMNIGLOT_SETTINGS))
"""The Classification tab's first task setting ('5-way 1-shot')."""


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


def missing_omniglot_files(setting: str) -> list[str]:
    """The files of an Omniglot task setting (`resources.OMNIGLOT_SETTINGS`) that are not shipped."""
    missing = []
    for file in OMNIGLOT_SETTINGS[setting].files.values():
        try:
            resource_path(file)
        except FileNotFoundError:
            missing.append(file)
    return missing


def omniglot_settings() -> dict[str, tuple[str, bool]]:
    """The Classification tab's task settings: each label's tooltip (its files, the MAML paper's accuracy, what is
    missing) and whether all its files are shipped."""
    offers = {}
    for label, setting in OMNIGLOT_SETTINGS.items():
        missing = missing_omniglot_files(label)
        lines = [f"Not shipped yet: {', '.join(missing)}."] if missing else []
        lines += [f"{name}: {file}" for name, file in setting.files.items()]
        lines.append(f"MAML paper (Table 1): {setting.paper_accuracy}% accuracy for MAML on {label} tasks.")
        offers[label] = "\n".join(lines), not missing
    return offers


def load_omniglot_demo(setting: str = DEFAULT_OMNIGLOT_SETTING, also: Sequence[str] = ()) -> ClassifierDemo:
    """The Classification tab's demo of a task setting ('20-way 1-shot'): its MAML, the pretrained net, ProtoNet and
    Matching Net, with the characters none of them meta-trained on (nor the learners of the splits `also` names, those
    trained in or opened by the app) where the shipped MAML's Omniglot folder is on this machine; the SGD learners
    adapt at the setting's MAML training α. Takes seconds: call it off the GUI thread."""
    chosen = OMNIGLOT_SETTINGS[setting]
    files = {name: resource_path(file) for name, file in chosen.files.items()}
    data = shipped_omniglot_data() or None
    return ClassifierDemo.from_files(files, data, ways=chosen.ways, shots=chosen.shots, also=also)
