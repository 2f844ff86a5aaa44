"""Export and open initializations, sessions, PNG and CSV through (patched) file dialogs."""

import json

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QFileDialog

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.model import init_params


@pytest.fixture
def save_dialog(monkeypatch):
    """Patch the save dialog to answer with a chosen path; returns a setter."""
    answer = {}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(answer["path"]), ""))
    return lambda path: answer.__setitem__("path", path)


@pytest.fixture
def open_dialog(monkeypatch):
    answer = {}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(answer["path"]), ""))
    return lambda path: answer.__setitem__("path", path)


def test_export_writes_a_file_that_loads_back_identically(window, save_dialog, tmp_path):
    save_dialog(tmp_path / "mine.safetensors")
    window.actions.export_init.trigger()
    loaded = load_initialization(tmp_path / "mine.safetensors")
    assert loaded.algorithm == "maml"
    for key, value in window.state.inits["maml"].params.items():
        assert torch.equal(loaded.params[key], value.float())
    save_dialog(tmp_path / "baseline")  # no suffix: .safetensors is added
    window.actions.export_baseline.trigger()
    assert load_initialization(tmp_path / "baseline.safetensors").algorithm == "pretrained"
    assert str(tmp_path / "baseline.safetensors") in window.files.recent_files()


def test_opening_an_initialization_brings_the_playground_to_it(window, open_dialog, tmp_path):
    config = TrainConfig(model=ModelConfig(hidden=(8,)))
    params = init_params(config.model, default_generator(5))
    save_initialization(tmp_path / "small.safetensors", Initialization(params, config, "maml", 12))
    open_dialog(tmp_path / "small.safetensors")
    window.actions.open_init.trigger()
    assert window.last_error is None
    name = "MAML (small.safetensors)"  # its own row: the shipped MAML stays comparable
    assert window.controls.compare.names()[-1] == name
    assert window.state.primary == name
    for key, value in params.items():
        assert torch.equal(window.state.shown_params("sinusoid")[name][key], value)
    assert not torch.equal(window.state.inits["maml"].params[key], value)
    assert window.playground.curves[name].predictions.shape[1] == len(
        window.playground.curves["pretrained"].predictions[0]
    )
    assert window.state.source == "small.safetensors"
    open_dialog(tmp_path / "small.safetensors")
    window.actions.open_init.trigger()  # the same file again: a second row, not a silent replacement
    assert window.controls.compare.names()[-1] == f"{name} 2"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"not a safetensors file at all", "not a valid .safetensors"), (b"", "not a valid .safetensors")],
)
def test_opening_a_bad_file_shows_an_error_and_the_app_keeps_working(window, open_dialog, tmp_path, content, expected):
    before = {k: v.clone() for k, v in window.state.shown_params("sinusoid")["maml"].items()}
    (tmp_path / "bad.safetensors").write_bytes(content)
    open_dialog(tmp_path / "bad.safetensors")
    window.actions.open_init.trigger()
    assert expected in window.last_error.text()
    for key, value in before.items():
        assert torch.equal(window.state.shown_params("sinusoid")["maml"][key], value)
    window.state.add_point(0.5, 0.5)
    assert len(window.state.points) == 6


def test_a_file_of_another_architecture_is_refused(window, tmp_path):
    config = TrainConfig(model=ModelConfig(hidden=(8,), in_features=2))
    params = init_params(config.model, default_generator(0))
    save_initialization(tmp_path / "wide.safetensors", Initialization(params, config, "maml"))
    assert not window.files.open_initialization(str(tmp_path / "wide.safetensors"))
    assert "needs 1 → 1" in window.last_error.text()
    torch.save({"0.weight": torch.zeros(3, 3)}, tmp_path / "odd.pt")
    assert not window.files.open_initialization(str(tmp_path / "odd.pt"))
    assert "not the state dict of a ReLU MLP" in window.last_error.text()


def test_session_round_trip_restores_the_whole_state(window, save_dialog, open_dialog, tmp_path):
    window.state.set_points([[-1.0, 0.5], [2.0, 1.5]])
    window.controls.task.amplitude.setValue(321)
    window.controls.adapt.steps.setValue(4)
    window.controls.training.seed.setValue(77)
    save_dialog(tmp_path / "s.json")
    window.actions.save_session.trigger()
    window.state.set_points([])
    window.controls.task.amplitude.setValue(100)
    window.controls.adapt.steps.setValue(10)
    window.controls.training.seed.setValue(0)
    window.state.inits["maml"] = Initialization(init_params(ModelConfig(), default_generator(9)), TrainConfig(), "maml")
    open_dialog(tmp_path / "s.json")
    window.actions.open_session.trigger()
    np.testing.assert_allclose(window.state.points, [[-1.0, 0.5], [2.0, 1.5]])
    assert window.state.truth.amplitude == pytest.approx(3.21)
    assert window.controls.adapt.steps.value() == 4
    assert window.playground.curves["maml"].predictions.shape[0] == 5
    assert window.controls.training.seed.value() == 77
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["format"] == "mamlviz-session"
    restored = window.state.shown_params("sinusoid")["maml"]
    assert not torch.equal(restored["0.weight"], init_params(ModelConfig(), default_generator(9))["0.weight"])


@pytest.mark.parametrize(
    "text",
    ['{"format": "mamlviz-session", "format_version": 1, "config": {}, "points": [[1, "NaN"]]}', "{broken", "[]"],
)
def test_malformed_sessions_are_refused_and_nothing_is_lost(window, tmp_path, text):
    kept = window.state.points.copy()
    (tmp_path / "bad.json").write_text(text)
    assert not window.files.open_session(str(tmp_path / "bad.json"))
    assert window.last_error.isVisible()
    np.testing.assert_array_equal(window.state.points, kept)


def test_plots_export_as_png_and_data_as_csv(window, tmp_path):
    assert window.files.export_png("playground", str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert window.files.export_csv("playground", str(tmp_path / "p.csv"))
    header = (tmp_path / "p.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["x", "truth"]
    assert "maml_step10" in header
    assert "pretrained_step0" in header
    table = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(
        table[:, header.index("maml_step10")], window.playground.curves["maml"].predictions[10], rtol=1e-6
    )
    assert window.files.export_csv("test-time", str(tmp_path / "t.csv"))
    t_header = (tmp_path / "t.csv").read_text().splitlines()[0]
    assert t_header == "step,maml_mse,pretrained_mse"
