"""Sessions in the window: a bad document changes nothing, learned step sizes come back, settings stay private."""

import json
import os
import pwd
from pathlib import Path

import numpy as np
import torch

from mamlviz.core.sessions import save_session
from mamlviz.gui.main_window import MainWindow


def _state(window: MainWindow) -> dict:
    """What a session would change on screen."""
    adapt = window.controls.adapt
    return {
        "config": window.controls.training.config(),
        "truth": window.state.truth,
        "points": window.state.points.tolist(),
        "inits": sorted(window.state.inits),
        "shown": window.controls.compare.shown(),
        "lr": adapt.lr.value(),
        "steps": adapt.steps.value(),
        "last_n": window.monitor.losses.last_n.value(),
        "log_y": window.monitor.losses.log_y.isChecked(),
        "sample_k": window.controls.task.shots.value(),
    }


def test_a_bad_session_leaves_the_window_as_it_was(window, tmp_path):
    session = window.files.session()
    session.config = type(session.config).from_dict({**session.config.to_dict(), "seed": 77, "iterations": 9})
    session.points = np.array([[0.5, 0.5], [1.0, -1.0]])
    session.view = {**session.view, "steps": 3, "lr": 0.2, "sample_k": 9}
    save_session(tmp_path / "s.json", session)
    document = json.loads((tmp_path / "s.json").read_text())
    document["view"]["last_n"] = 1e20  # every other field is valid and differs from the window
    (tmp_path / "bad.json").write_text(json.dumps(document))
    before = _state(window)
    assert not window.files.open_session(str(tmp_path / "bad.json"))
    assert "last n" in window.last_error.text()
    assert _state(window) == before
    (tmp_path / "good.json").write_text(json.dumps({**document, "view": {**document["view"], "last_n": 0}}))
    assert window.files.open_session(str(tmp_path / "good.json"))
    assert window.controls.training.config().seed == 77


def test_learned_step_sizes_come_back_from_a_session(window, tmp_path):
    learned = {name: init for name, init in window.state.inits.items() if init.inner_lrs}
    assert learned, "the shipped family has a Meta-SGD initialization"
    assert window.files.save_session(str(tmp_path / "s.json"))
    window.state.inits = {name: init for name, init in window.state.inits.items() if not init.inner_lrs}
    assert window.files.open_session(str(tmp_path / "s.json"))
    for name, init in learned.items():
        for key, value in init.inner_lrs.items():
            assert torch.equal(window.state.inits[name].inner_lrs[key], value.float())


def test_default_settings_are_written_under_the_private_test_home(qtbot, private_home, tmp_path):
    real = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".config" / "mamlviz" / "mamlviz.conf"
    real_before = real.stat().st_mtime_ns if real.exists() else None
    win = MainWindow()
    qtbot.addWidget(win)
    win.ask_before_closing = False
    assert win.files.save_session(str(tmp_path / "s.json"))  # remembers the folder and the recent file
    win.close()
    win.settings.sync()
    written = Path(win.settings.fileName())
    assert written.is_file()
    assert written.is_relative_to(private_home)
    assert str(tmp_path / "s.json") in written.read_text()
    assert (real.stat().st_mtime_ns if real.exists() else None) == real_before


def test_a_session_brings_back_the_same_meta_sgd_and_mamlpp_predictions(window, tmp_path):
    """Save, open, and the playground predicts the same to 1e-6 with the shipped learned-step-size inits."""
    window.state.set_shown(["metasgd", "maml++"])
    window.state.set_points([[-3.0, 1.0], [-1.0, -2.0], [0.5, 0.7], [2.0, 1.5], [4.0, -1.0]])
    before = {name: curves.predictions.copy() for name, curves in window.playground.curves.items()}
    assert set(before) == {"metasgd", "maml++"}
    assert window.files.save_session(str(tmp_path / "s.json"))
    window.state.replace_inits({"maml": window.state.inits["maml"]}, "other", ["maml"])
    window.state.set_points([])
    assert window.files.open_session(str(tmp_path / "s.json"))
    assert window.state.shown == ["metasgd", "maml++"]
    for name, predictions in before.items():
        np.testing.assert_allclose(window.playground.curves[name].predictions, predictions, atol=1e-6, rtol=0)
