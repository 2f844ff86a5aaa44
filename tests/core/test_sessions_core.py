"""Session files without Qt: round trip (learned step sizes included), old files, refusal of bad documents."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from mamlviz.core.algorithms import initial_inner_lrs, inner_loop_for
from mamlviz.core.checkpoint import Initialization, load_initialization
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.data import Truth, default_generator
from mamlviz.core.model import init_params
from mamlviz.core.sessions import MAX_POINTS, Session, SessionError, load_session, parse_session, save_session
from mamlviz.core.sinusoid.playground import adapt_all
from mamlviz.resources import resource_path


def _session() -> Session:
    config = TrainConfig(iterations=123, model=ModelConfig(hidden=(8, 8)))
    init = Initialization(init_params(config.model, default_generator(1)), config, "maml", 5, {"a": 1})
    return Session(config, Truth(2.0, 0.5), np.array([[0.0, 1.0], [1.5, -2.0]]), {"steps": 7}, {"maml": init})


def _document(tmp_path) -> dict:
    save_session(tmp_path / "s.json", _session())
    return json.loads((tmp_path / "s.json").read_text())


def test_round_trip_is_exact(tmp_path):
    save_session(tmp_path / "s.json", _session())
    loaded = load_session(tmp_path / "s.json")
    assert loaded.config == _session().config
    assert loaded.truth == Truth(2.0, 0.5)
    np.testing.assert_array_equal(loaded.points, _session().points)
    assert loaded.view == {"steps": 7}
    for key, value in _session().inits["maml"].params.items():
        assert torch.equal(loaded.inits["maml"].params[key], value)
    assert loaded.inits["maml"].iterations == 5
    assert loaded.inits["maml"].inner_lrs is None


def _predictions(inits: dict[str, Initialization], points: np.ndarray) -> dict[str, np.ndarray]:
    grid = np.linspace(-5, 5, 50)
    loops = {name: inner_loop_for(init.config, init.inner_lrs, algo=init.algorithm) for name, init in inits.items()}
    curves = adapt_all({n: i.params for n, i in inits.items()}, points, grid, 0.01, 5, loops=loops)
    return {name: curve.predictions for name, curve in curves.items()}


def _with_lslr(init: Initialization) -> Initialization:
    """The shipped MAML++ init with LSLR step sizes (one per layer and step, all different) attached."""
    config = replace(init.config, lslr=True)
    lrs = initial_inner_lrs(init.algorithm, config, init.params)
    steps = torch.arange(1, config.inner_steps + 1, dtype=torch.float32)
    lrs = {k: v * steps.reshape(-1, *[1] * (v.dim() - 1)) * (i + 1) for i, (k, v) in enumerate(lrs.items())}
    return replace(init, config=config, inner_lrs=lrs)


@pytest.mark.parametrize(
    ("name", "prepare"),
    [("metasgd_sinusoid.safetensors", lambda init: init), ("mamlpp_sinusoid.safetensors", _with_lslr)],
)
def test_learned_step_sizes_survive_a_session(tmp_path, name, prepare):
    init = prepare(load_initialization(resource_path(name)))
    assert init.inner_lrs
    points = np.array([[-2.0, 1.0], [0.5, -0.3], [3.0, 2.0]])
    save_session(tmp_path / "s.json", Session(init.config, None, points, {}, {"m": init}))
    loaded = load_session(tmp_path / "s.json").inits["m"]
    assert set(loaded.inner_lrs) == set(init.inner_lrs)
    for key, value in init.inner_lrs.items():
        assert torch.equal(loaded.inner_lrs[key], value.float())
    before, after = _predictions({"m": init}, points)["m"], _predictions({"m": loaded}, points)["m"]
    np.testing.assert_allclose(after, before, atol=1e-6, rtol=0)


def test_a_format_1_session_still_opens(tmp_path):
    """The document exactly as the format-1 writer produced it (no inner_lrs, format_version 1)."""
    session = _session()
    init = session.inits["maml"]
    params = {k: {"shape": list(v.shape), "data": v.flatten().tolist()} for k, v in init.params.items()}
    old = {
        "format": "mamlviz-session",
        "format_version": 1,
        "config": session.config.to_dict(),
        "truth": {"amplitude": 2.0, "phase": 0.5},
        "points": session.points.tolist(),
        "view": {"lr": 0.01, "steps": 7, "show_steps": False, "log_y": True, "last_n": 0, "sample_k": 5, "shown": []},
        "inits": {
            "maml": {
                "algorithm": "maml",
                "iterations": 5,
                "config": init.config.to_dict(),
                "metrics": {},
                "params": params,
            }
        },
    }
    (tmp_path / "old.json").write_text(json.dumps(old, indent=1))
    loaded = load_session(tmp_path / "old.json")
    assert loaded.view["steps"] == 7
    assert loaded.inits["maml"].inner_lrs is None
    assert torch.equal(loaded.inits["maml"].params["0.weight"], init.params["0.weight"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other"), "not a mamlviz session"),
        (lambda d: d.update(points=[[0, float("nan")]]), "finite"),
        (lambda d: d["inits"]["maml"]["params"]["0.weight"].update(shape=[3, 3]), "damaged"),
        (lambda d: d["config"].update(inner_lr=-1), "damaged"),
        (lambda d: d.update(format_version=99), "newer"),
        (lambda d: d.update(format_version="abc"), "format_version"),
        (lambda d: d.update(format_version=None), "format_version"),
        (lambda d: d.update(format_version=float("inf")), "format_version"),
        (lambda d: d["config"].update(seed="abc"), "seed"),
        (lambda d: d["config"].update(seed=2**40), "seed"),
        (lambda d: d["config"].update(iterations=1e20), "iterations"),
        (lambda d: d["config"]["model"].update(hidden=[10**9]), "hidden size"),
        (lambda d: d["view"].update(last_n=1e20), "view last n"),
        (lambda d: d["view"].update(steps=10**9), "view steps"),
        (lambda d: d.update(points=[[0.0, 0.0]] * (MAX_POINTS + 1)), "points"),
        (lambda d: d.update(truth={"amplitude": "x", "phase": 0}), "amplitude"),
        (lambda d: d["inits"]["maml"].update(inner_lrs={"nope": {"shape": [1], "data": [0.1]}}), "nope"),
    ],
)
def test_bad_sessions_are_refused_with_one_sentence_naming_the_field(tmp_path, change, message):
    document = _document(tmp_path)
    change(document)
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(SessionError, match=message) as info:
        load_session(tmp_path / "bad.json")
    assert "\n" not in str(info.value)


def test_parse_session_refuses_without_touching_a_file(tmp_path):
    document = _document(tmp_path)
    document["config"]["seed"] = -1
    with pytest.raises(SessionError, match="seed"):
        parse_session(document)


def test_deeply_nested_json_is_one_sentence(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SessionError, match="nested too deeply"):
        load_session(tmp_path / "deep.json")
