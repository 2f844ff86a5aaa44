"""The compare list: shipped family initializations ticked into the playground, each adapting its own way."""

import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from mamlviz.core.algorithms import inner_loop_for
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.playground import adapt_all
from mamlviz.gui.playground_panel import GRID


def _click_checkbox(qtbot, compare, name):
    """Tick or untick a row the way a user does: a click on its check indicator."""
    row = compare.names().index(name)
    rect = compare.list.visualItemRect(compare.list.item(row))
    qtbot.mouseClick(
        compare.list.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y())
    )


def test_shipped_family_is_listed_and_only_maml_and_pretrained_are_shown_at_first(window):
    compare = window.controls.compare
    assert compare.names() == ["maml", "pretrained", "reptile", "metasgd", "anil", "maml++"]
    assert compare.shown() == ["maml", "pretrained"]
    assert set(window.playground.curves) == {"maml", "pretrained"}
    assert "5-shot MSE after 1 / 5 / 10 steps" in compare.list.item(0).toolTip()


def test_ticking_adds_curves_that_adapt_each_init_its_own_way(window, qtbot):
    compare, playground = window.controls.compare, window.playground
    for name in ("anil", "metasgd"):
        _click_checkbox(qtbot, compare, name)
    assert compare.shown() == ["maml", "pretrained", "metasgd", "anil"]
    assert {"anil", "metasgd"} <= set(playground.plot.model_curves)
    assert playground.mse_plot.lines["anil"].getData()[1].size == playground.steps + 1
    anil, metasgd = window.inits["anil"], window.inits["metasgd"]
    loops = {
        "anil": inner_loop_for(anil.config, algo="anil"),
        "metasgd": inner_loop_for(metasgd.config, metasgd.inner_lrs),
    }
    expected = adapt_all(
        {"anil": anil.params, "metasgd": metasgd.params},
        playground.points,
        GRID,
        playground.lr,
        playground.steps,
        None,
        loops,
    )
    for name in ("anil", "metasgd"):
        np.testing.assert_allclose(playground.curves[name].predictions, expected[name].predictions)
    plain = adapt_all({"metasgd": metasgd.params}, playground.points, GRID, playground.lr, playground.steps)
    assert not np.allclose(plain["metasgd"].predictions[-1], playground.curves["metasgd"].predictions[-1])
    _click_checkbox(qtbot, compare, "maml")
    assert "maml" not in playground.curves and "maml" not in playground.plot.model_curves


def test_the_highlighted_row_is_exported_with_its_learned_step_sizes(window, monkeypatch, tmp_path):
    compare = window.controls.compare
    compare.list.setCurrentRow(compare.names().index("metasgd"))
    target = tmp_path / "metasgd.safetensors"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    window.export_init_action.trigger()
    loaded = load_initialization(target)
    assert loaded.algorithm == "metasgd"
    for key, value in window.inits["metasgd"].inner_lrs.items():
        assert torch.equal(loaded.inner_lrs[key], value)


def test_a_session_remembers_which_inits_are_shown(window, tmp_path):
    window.controls.compare.set_shown("reptile", True)
    window.controls.compare.set_shown("pretrained", False)
    assert window.save_session(str(tmp_path / "s.json"))
    window.controls.compare.set_shown("reptile", False)
    assert window.open_session(str(tmp_path / "s.json"))
    assert window.controls.compare.shown() == ["maml", "reptile"]
    assert set(window.playground.curves) == {"maml", "reptile"}
