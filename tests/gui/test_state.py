"""The application state on its own: intents change it, signals say so, refusals leave it as it was."""

import numpy as np
import pytest

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.model import init_params
from mamlviz.gui.state import AppState


def _init(seed: int = 0) -> Initialization:
    config = TrainConfig()
    return Initialization(init_params(config.model, default_generator(seed)), config, "maml")


@pytest.fixture
def state(qtbot) -> AppState:
    state = AppState()
    state.replace_inits({"maml": _init(0), "pretrained": _init(1)}, "shipped", ["maml"], "maml")
    return state


def test_names_are_never_reused_so_nothing_replaces_a_row(state):
    assert state.free_name("maml") == "maml 2"
    state.put_init(state.free_name("maml"), _init(2))
    assert list(state.inits) == ["maml", "pretrained", "maml 2"]
    assert state.shown == ["maml", "maml 2"]


def test_unsaved_marks_follow_put_keep_and_replace(state, qtbot):
    with qtbot.waitSignal(state.unsaved_changed):
        state.put_init("MAML (trained here)", _init(3), unsaved=True, primary=True)
    assert state.primary == "MAML (trained here)" and state.unsaved == {"MAML (trained here)"}
    carried = state.inits["MAML (trained here)"]
    state.replace_inits({"maml": _init(0), "MAML (trained here)": carried}, "reset", ["maml"])
    assert state.unsaved == {"MAML (trained here)"}  # carried over unchanged: still not kept anywhere
    state.mark_kept(["MAML (trained here)"])
    assert state.unsaved == set()


def test_points_are_checked_undoable_and_a_refusal_changes_nothing(state, qtbot):
    state.set_points([[0.0, 1.0]])
    state.add_point(1.0, 2.0)
    with qtbot.waitSignal(state.problem) as refused:
        assert not state.set_points([[np.nan, 0.0]])
    assert refused.args[0] and "\n" not in refused.args[0]  # one sentence
    np.testing.assert_array_equal(state.points, [[0.0, 1.0], [1.0, 2.0]])
    state.undo()
    np.testing.assert_array_equal(state.points, [[0.0, 1.0]])
    state.redo()
    assert len(state.points) == 2
    state.remember()
    state.move_point(0, -1.0, -1.0)  # a drag: one edit, remembered when it started
    state.move_point(0, -2.0, -2.0)
    state.undo()
    np.testing.assert_array_equal(state.points, [[0.0, 1.0], [1.0, 2.0]])


def test_signals_fire_only_on_change(state, qtbot):
    with qtbot.assertNotEmitted(state.adaptation_changed):
        state.set_adaptation(0.01, 10, False)  # the default
    with qtbot.waitSignal(state.adaptation_changed):
        state.set_adaptation(0.02, 3, True)
    with qtbot.assertNotEmitted(state.shown_changed):
        state.set_shown(["maml", "unknown"])
    assert state.shown == ["maml"]
