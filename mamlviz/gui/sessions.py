"""Session files: JSON with the training config, task, support points, view settings and initializations.

Qt-free, so sessions can be written and read (and tested) without a display.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mamlviz.core.checkpoint import Initialization, _atomic_write, check_params
from mamlviz.core.config import TrainConfig
from mamlviz.core.errors import ConfigError, MamlvizError
from mamlviz.core.playground import Truth, check_points

FORMAT = "mamlviz-session"
FORMAT_VERSION = 1


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


def _init_to_json(init: Initialization) -> dict[str, Any]:
    return {
        "algorithm": init.algorithm,
        "iterations": init.iterations,
        "config": init.config.to_dict(),
        "metrics": init.metrics,
        "params": {
            k: {"shape": list(v.shape), "data": v.detach().cpu().float().flatten().tolist()}
            for k, v in init.params.items()
        },
    }


def _init_from_json(name: str, data: dict[str, Any]) -> Initialization:
    config = TrainConfig.from_dict(data["config"])
    params = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in data["params"].items()}
    check_params(params, config.model, f"initialization {name!r}")
    return Initialization(
        params, config, str(data["algorithm"]), int(data.get("iterations", 0)), dict(data.get("metrics", {}))
    )


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
    }
    text = json.dumps(document, indent=1)
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_session(path: str | Path) -> Session:
    """Read and validate a session file; raises `SessionError` with one clear sentence."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError(f"{path} is not a readable session file: {exc}.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SessionError(f"{path} is not a mamlviz session (no '{FORMAT}' format marker).")
    if int(document.get("format_version", 0)) > FORMAT_VERSION:
        raise SessionError(f"{path} was written by a newer mamlviz (format {document['format_version']}).")
    try:
        config = TrainConfig.from_dict(document["config"])
        truth_data = document.get("truth")
        truth = None if truth_data is None else Truth(float(truth_data["amplitude"]), float(truth_data["phase"]))
        if truth is not None and not (math.isfinite(truth.amplitude) and math.isfinite(truth.phase)):
            raise ConfigError("the task's amplitude and phase must be finite")
        points = check_points(document.get("points", []))
        view = dict(document.get("view", {}))
        inits = {str(name): _init_from_json(name, data) for name, data in dict(document.get("inits", {})).items()}
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, MamlvizError) as exc:
        raise SessionError(f"{path} is a damaged session file: {exc}") from None
    return Session(config, truth, points, view, inits)
