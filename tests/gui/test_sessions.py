"""Sessions in the window: a bad document changes nothing, learned step sizes come back, settings stay private."""

import json
import os
import pwd
from pathlib import Path

import numpy as np
import pytest
import torch
from gui_helpers import click, data_per_pixel
from PySide6.QtCore import Qt

from mamlviz.core.sessions import SessionError, check_rl, load_session, save_session
from mamlviz.gui.main_window import MainWindow
from mamlviz.gui.rl import RL_DOMAIN
from mamlviz.gui.rl.policies import RANDOM, STEPS
from mamlviz.gui.rl.tab import START_GOAL, START_TRAJECTORIES

RL_WAIT_MS = 60_000


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


def _fresh_window(qtbot, tmp_path) -> MainWindow:
    from PySide6.QtCore import QSettings

    win = MainWindow(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat), seed=0)
    win.ask_before_closing = False
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_a_session_brings_back_the_rl_tabs_goal_seed_and_ticks(window, qtbot, tmp_path):
    rl = window.rl
    rl.trajectories.setValue(6)  # fewer trajectories: a faster test
    with qtbot.waitSignal(rl.updated, timeout=RL_WAIT_MS):
        window.show_domain(RL_DOMAIN)
    qtbot.waitUntil(lambda: not rl.jobs.busy, timeout=RL_WAIT_MS)
    with qtbot.waitSignal(rl.updated, timeout=RL_WAIT_MS):
        click(qtbot, rl.arena, -0.3, 0.2)
    qtbot.waitUntil(lambda: not rl.jobs.busy, timeout=RL_WAIT_MS)
    rl.seed.setValue(42)
    rl.step.setValue(1)
    rl.list.findItems(RANDOM, Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Unchecked)
    goal, ticked = rl.goal, rl.shown_names()
    assert goal == pytest.approx((-0.3, 0.2), abs=2 * data_per_pixel(rl.arena).max()) and goal != START_GOAL
    assert RANDOM not in ticked and ticked
    assert window.files.save_session(str(tmp_path / "s.json"))
    saved = json.loads((tmp_path / "s.json").read_text())["rl"]
    assert saved["goal"] == list(goal) and saved["seed"] == 42

    fresh = _fresh_window(qtbot, tmp_path)
    assert fresh.rl.goal == START_GOAL and fresh.rl.seed.value() == 0  # what the session must change
    assert fresh.files.open_session(str(tmp_path / "s.json"))
    again = fresh.rl
    assert again.goal == goal
    assert tuple(again.arena.goal_marker.getData()[0]) + tuple(again.arena.goal_marker.getData()[1]) == goal
    assert again.seed.value() == 42
    assert (again.trajectories.value(), again.step.value(), again.step_label.text()) == (6, 1, "after 1 step")
    assert again.shown_names() == ticked
    with qtbot.waitSignal(again.updated, timeout=RL_WAIT_MS):
        fresh.show_domain(RL_DOMAIN)  # shown: the reopened goal and seed are what it computes
    qtbot.waitUntil(lambda: not again.jobs.busy, timeout=RL_WAIT_MS)
    assert all(again.cache[name][1].goal == goal and again.cache[name][1].seed == 42 for name in ticked)
    assert "Goal (-0.30, +0.20), seed 42" in again.status.text()


def test_an_old_session_without_rl_state_opens_with_the_tabs_defaults(window, tmp_path):
    rl = window.rl
    rl.set_goal(-0.4, -0.4)
    rl.seed.setValue(9)
    rl.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert window.files.save_session(str(tmp_path / "s.json"))
    document = json.loads((tmp_path / "s.json").read_text())
    del document["rl"]
    document["format_version"] = 1  # as an older mamlviz wrote it
    for init in document["inits"].values():
        init.pop("inner_lrs", None)
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert window.files.open_session(str(tmp_path / "old.json"))
    assert rl.goal == START_GOAL
    assert (rl.seed.value(), rl.trajectories.value(), rl.step.value()) == (0, START_TRAJECTORIES, STEPS)
    assert rl.shown_names() == list(rl.policies)


@pytest.mark.parametrize(
    ("rl", "words"),
    [
        ("here", "rl must be a JSON object"),
        ({"goal": [0.1]}, "rl goal"),
        ({"goal": [float("nan"), 0.0]}, "rl goal"),
        ({"goal": ["0.1", 0.2]}, "rl goal"),
        ({"seed": -1}, "rl seed"),
        ({"seed": 2**40}, "rl seed"),
        ({"seed": 1.5}, "rl seed"),
        ({"trajectories": 10_000}, "rl trajectories"),
        ({"step": 99}, "rl step"),
        ({"ticked": "maml"}, "rl ticked"),
        ({"ticked": [1, 2]}, "rl ticked"),
        ({"ticked": ["x"] * 5000}, "rl ticked"),
    ],
)
def test_a_hostile_rl_state_is_refused_in_one_sentence_and_changes_nothing(window, tmp_path, rl, words):
    assert window.files.save_session(str(tmp_path / "s.json"))
    document = json.loads((tmp_path / "s.json").read_text())
    document["rl"] = rl
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(SessionError, match=words):
        load_session(tmp_path / "bad.json")
    before = (window.rl.goal, window.rl.seed.value(), window.rl.shown_names())
    assert not window.files.open_session(str(tmp_path / "bad.json"))
    assert words in window.last_error.text() and "\n" not in window.last_error.text()
    assert (window.rl.goal, window.rl.seed.value(), window.rl.shown_names()) == before


def test_a_goal_outside_the_square_is_clamped_onto_it_and_unknown_policies_are_ignored(window, tmp_path):
    assert check_rl({"goal": [1e300, -7]})["goal"] == [0.5, -0.5]
    assert window.files.save_session(str(tmp_path / "s.json"))
    document = json.loads((tmp_path / "s.json").read_text())
    document["rl"] = {"goal": [3.0, 0.1], "ticked": ["no such policy", RANDOM]}
    (tmp_path / "far.json").write_text(json.dumps(document))
    assert window.files.open_session(str(tmp_path / "far.json"))
    assert window.rl.goal == (0.5, 0.1)
    assert window.rl.shown_names() == [RANDOM]
