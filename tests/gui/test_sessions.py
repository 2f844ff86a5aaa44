"""Session files without Qt: round trip and refusal of damaged files."""

import json

import numpy as np
import pytest
import torch

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.model import init_params
from mamlviz.core.playground import Truth
from mamlviz.core.tasks import default_generator
from mamlviz.gui.sessions import Session, SessionError, load_session, save_session


def _session() -> Session:
    config = TrainConfig(iterations=123, model=ModelConfig(hidden=(8, 8)))
    init = Initialization(init_params(config.model, default_generator(1)), config, "maml", 5, {"a": 1})
    return Session(config, Truth(2.0, 0.5), np.array([[0.0, 1.0], [1.5, -2.0]]), {"steps": 7}, {"maml": init})


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


def _damaged(document: dict, change) -> dict:
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other"), "not a mamlviz session"),
        (lambda d: d.update(points=[[0, float("nan")]]), "finite"),
        (lambda d: d["inits"]["maml"]["params"]["0.weight"].update(shape=[3, 3]), "damaged"),
        (lambda d: d["config"].update(inner_lr=-1), "damaged"),
        (lambda d: d.update(format_version=99), "newer"),
    ],
)
def test_damaged_sessions_are_refused_with_one_sentence(tmp_path, change, message):
    save_session(tmp_path / "s.json", _session())
    document = json.loads((tmp_path / "s.json").read_text())
    change(document)
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(SessionError, match=message):
        load_session(tmp_path / "bad.json")
