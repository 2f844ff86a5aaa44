"""Session files: JSON with the training config, task, support points, view settings and initializations.

Qt-free, so sessions can be written and read (and tested) without a display. A document is validated
as a whole by `load_session` (types and the same bounds as the app's controls) before anything uses it.
Format 2 adds the learned inner step sizes (`inner_lrs`) of Meta-SGD and MAML++ (LSLR) inits; format 1
files (without them) still open. The optional `rl` object holds the Reinforcement learning tab's view (goal, seed,
trajectories per step, step shown, ticked policies); files without it open with the tab's defaults, and older
mamlviz versions ignore it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mamlviz.core.checkpoint import (
    Initialization,
    _atomic_write,
    check_algorithm,
    check_config_params,
    check_inner_lrs,
)
from mamlviz.core.config import ADAPT_LR_RANGE, SETTING_LIMITS, TrainConfig
from mamlviz.core.data import Truth, check_points
from mamlviz.core.errors import MamlvizError
from mamlviz.core.jsonio import JSONDepthError, loads_bounded
from mamlviz.core.model import Params
from mamlviz.core.nav2d.env import GOAL_RANGE
from mamlviz.core.nav2d.evaluation import EVAL_STEPS

FORMAT = "mamlviz-session"
FORMAT_VERSION = 2
MAX_POINTS = 10_000
"""More support points than this can only come from a damaged (or hostile) file."""
MAX_INITS = 100
CONFIG_LIMITS = {name: SETTING_LIMITS[name] for name in ("iterations", "seed", "inner_steps", "meta_batch")}
"""Integer settings of a session's config, bounded like the training form's spin boxes."""
VIEW_INTS = {
    "steps": SETTING_LIMITS["adapt_steps"],
    "last_n": SETTING_LIMITS["last_n"],
    "sample_k": SETTING_LIMITS["shots"],
}
"""Integer view settings, bounded like their controls."""
VIEW_BOOLS = ("show_steps", "log_y")
RL_INTS = {"seed": SETTING_LIMITS["seed"], "trajectories": (2, 100), "step": (0, EVAL_STEPS)}
"""The Reinforcement learning tab's integer settings, bounded like its controls (the tab reads these bounds)."""
MAX_RL_NAMES = 1000


class SessionError(MamlvizError):
    """A session file that cannot be read."""


@dataclass
class Session:
    """Everything needed to bring the app back to where the user left it."""

    config: TrainConfig
    truth: Truth | None
    points: np.ndarray
    view: dict[str, Any] = field(default_factory=dict)
    inits: dict[str, Initialization] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    """The Reinforcement learning tab's view ({} : its defaults), checked by `check_rl`."""


def _tensors_to_json(tensors: Params) -> dict[str, Any]:
    return {
        k: {"shape": list(v.shape), "data": v.detach().cpu().float().flatten().tolist()} for k, v in tensors.items()
    }


def _init_to_json(init: Initialization) -> dict[str, Any]:
    data = {
        "algorithm": init.algorithm,
        "iterations": init.iterations,
        "config": init.config.to_dict(),
        "metrics": init.metrics,
        "params": _tensors_to_json(init.params),
    }
    if init.inner_lrs:
        data["inner_lrs"] = _tensors_to_json(init.inner_lrs)
    return data


def _tensors_from_json(data: Any, what: str) -> Params:
    if not isinstance(data, dict):
        raise SessionError(f"{what} must be an object of tensors.")
    tensors = {}
    for name, tensor in data.items():
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        values = tensor.get("data") if isinstance(tensor, dict) else None
        if not (isinstance(shape, list) and all(_is_int(n) and n >= 0 for n in shape) and isinstance(values, list)):
            raise SessionError(f"{what} tensor {name!r} needs an integer 'shape' list and a 'data' list.")
        if math.prod(shape) != len(values) or not all(_is_number(v) for v in values):
            raise SessionError(f"{what} tensor {name!r} needs {math.prod(shape)} numbers for shape {shape}.")
        tensors[str(name)] = torch.tensor(values, dtype=torch.float32).reshape(shape)
    return tensors


def _init_from_json(name: str, data: Any) -> Initialization:
    what = f"initialization {name!r}"
    if not isinstance(data, dict):
        raise SessionError(f"{what} must be an object.")
    config = TrainConfig.from_dict(_object(data.get("config"), f"{what} config"))
    params = _tensors_from_json(data.get("params"), what)
    check_config_params(params, config, what)
    lrs = _tensors_from_json(data.get("inner_lrs", {}), f"{what} inner_lrs")
    check_inner_lrs(lrs, params, what)
    iterations = data.get("iterations", 0)
    if not (_is_int(iterations) and iterations >= 0):
        raise SessionError(f"{what} iterations must be a whole number of 0 or more, got {iterations!r}.")
    metrics = _object(data.get("metrics", {}), f"{what} metrics")
    algorithm = data.get("algorithm")
    if not isinstance(algorithm, str):
        raise SessionError(f"{what} algorithm must be a name, got {algorithm!r}.")
    check_algorithm(algorithm, config, what)
    return Initialization(params, config, algorithm, iterations, metrics, lrs or None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SessionError(f"the {what} must be a JSON object, got {type(value).__name__}.")
    return value


def _bounded(value: Any, low: float, high: float, what: str, whole: bool = True) -> None:
    ok = _is_int(value) if whole else _is_number(value) and math.isfinite(value)
    if not (ok and low <= value <= high):
        kind = "a whole number" if whole else "a number"
        raise SessionError(f"the {what} must be {kind} from {low:g} to {high:g}, got {value!r}.")


def _check_config(data: dict[str, Any]) -> TrainConfig:
    """The session's training config, bounded like the training form before it is built."""
    for name, (low, high) in CONFIG_LIMITS.items():
        if name in data:
            _bounded(data[name], low, high, name.replace("_", " "))
    hidden = _object(data.get("model", {}), "model").get("hidden", [])
    layers = SETTING_LIMITS["layers"]
    if not (isinstance(hidden, list) and layers[0] <= len(hidden) <= layers[1]):
        raise SessionError(f"the hidden sizes must be a list of {layers[0]} to {layers[1]} layers, got {hidden!r}.")
    for size in hidden:
        _bounded(size, *SETTING_LIMITS["hidden"], "hidden size")
    shots = _object(data.get("task", {}), "task").get("shots", 1)
    _bounded(shots, *SETTING_LIMITS["shots"], "task shots")
    return TrainConfig.from_dict(data)


def _check_view(view: dict[str, Any]) -> dict[str, Any]:
    for name, (low, high) in VIEW_INTS.items():
        if name in view:
            _bounded(view[name], low, high, f"view {name.replace('_', ' ')}")
    if "lr" in view:
        _bounded(view["lr"], *ADAPT_LR_RANGE, "view learning rate", whole=False)
    for name in VIEW_BOOLS:
        if name in view and not isinstance(view[name], bool):
            raise SessionError(f"the view setting {name} must be true or false, got {view[name]!r}.")
    shown = view.get("shown", [])
    if not (isinstance(shown, list) and all(isinstance(s, str) for s in shown)):
        raise SessionError(f"the view setting shown must be a list of names, got {shown!r}.")
    return dict(view)


def check_rl(rl: Any) -> dict[str, Any]:
    """The Reinforcement learning tab's view: 'goal' [x, y] (finite; clamped to the goals' square), 'seed',
    'trajectories', 'step' (whole numbers within the tab's bounds) and 'ticked' (policy names); any may be absent."""
    rl = _object(rl, "rl")
    checked: dict[str, Any] = {}
    if "goal" in rl:
        goal = rl["goal"]
        if not (isinstance(goal, list) and len(goal) == 2 and all(_is_number(c) and math.isfinite(c) for c in goal)):
            raise SessionError(f"the rl goal must be an [x, y] pair of finite numbers, got {goal!r}.")
        checked["goal"] = [float(min(max(c, -GOAL_RANGE), GOAL_RANGE)) for c in goal]
    for name, (low, high) in RL_INTS.items():
        if name in rl:
            _bounded(rl[name], low, high, f"rl {name}")
            checked[name] = rl[name]
    if "ticked" in rl:
        ticked = rl["ticked"]
        if not (isinstance(ticked, list) and len(ticked) <= MAX_RL_NAMES and all(isinstance(n, str) for n in ticked)):
            raise SessionError(f"the rl ticked policies must be a list of at most {MAX_RL_NAMES} names.")
        checked["ticked"] = list(ticked)
    return checked


def _check_points(points: Any) -> np.ndarray:
    if not isinstance(points, list) or len(points) > MAX_POINTS:
        raise SessionError(f"the points must be a list of at most {MAX_POINTS} [x, y] pairs.")
    if not all(isinstance(p, list) and len(p) == 2 and all(_is_number(c) for c in p) for p in points):
        raise SessionError("each of the points must be an [x, y] pair of numbers.")
    return check_points(points)


def _check_truth(data: Any) -> Truth | None:
    if data is None:
        return None
    data = _object(data, "truth")
    values = data.get("amplitude"), data.get("phase")
    if not all(_is_number(v) and math.isfinite(v) for v in values):
        raise SessionError(f"the task's amplitude and phase must be finite numbers, got {values}.")
    return Truth(float(values[0]), float(values[1]))


def parse_session(document: Any) -> Session:
    """Validate a whole parsed session document; raises `MamlvizError` with one sentence naming the field."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SessionError(f"this is not a mamlviz session (no '{FORMAT}' format marker).")
    version = document.get("format_version")
    if not _is_int(version) or version < 1:
        raise SessionError(f"the format_version must be a whole number of at least 1, got {version!r}.")
    if version > FORMAT_VERSION:
        raise SessionError(f"it was written by a newer mamlviz (format {version}, this one reads {FORMAT_VERSION}).")
    config = _check_config(_object(document.get("config"), "config"))
    truth = _check_truth(document.get("truth"))
    points = _check_points(document.get("points", []))
    view = _check_view(_object(document.get("view", {}), "view"))
    inits_data = _object(document.get("inits", {}), "inits")
    if len(inits_data) > MAX_INITS:
        raise SessionError(f"the inits hold {len(inits_data)} initializations; at most {MAX_INITS} are allowed.")
    inits = {str(name): _init_from_json(str(name), data) for name, data in inits_data.items()}
    rl = check_rl(document.get("rl", {}))
    return Session(config, truth, points, view, inits, rl)


def save_session(path: str | Path, session: Session) -> None:
    """Write the session atomically as JSON."""
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": session.config.to_dict(),
        "truth": None
        if session.truth is None
        else {"amplitude": session.truth.amplitude, "phase": session.truth.phase},
        "points": check_points(session.points).tolist(),
        "view": session.view,
        "inits": {name: _init_to_json(init) for name, init in session.inits.items()},
        "rl": check_rl(session.rl),
    }
    text = json.dumps(document, indent=1)
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_session(path: str | Path) -> Session:
    """Read and validate a session file; raises `SessionError` with one clear sentence."""
    path = Path(path)
    try:
        document = loads_bounded(path.read_text(encoding="utf-8"))
    except JSONDepthError as exc:
        raise SessionError(f"{path} is not a readable session file: {exc}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError(f"{path} is not a readable session file: {exc}.") from None
    try:
        return parse_session(document)
    except (MamlvizError, RecursionError, ValueError, RuntimeError) as exc:
        raise SessionError(f"{path} is a damaged session file: {exc}") from None
