"""The compare list: shipped family initializations ticked into the playground, each adapting its own way."""

import json

import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from mamlviz.cli import main
from mamlviz.core.algorithms import inner_loop_for
from mamlviz.core.checkpoint import load_initialization
from mamlviz.core.sinusoid.playground import adapt_all
from mamlviz.gui.playground_panel import GRID
from mamlviz.resources import SHIPPED_MAML, resource_path


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
    assert "70,000 meta-iterations" in compare.list.item(0).toolTip()
    assert "Compare (Ctrl+T) measures" in compare.list.item(0).toolTip()  # no stored figure to contradict it


def test_ticking_adds_curves_that_adapt_each_init_its_own_way(window, qtbot):
    compare, playground, state = window.controls.compare, window.playground, window.state
    for name in ("anil", "metasgd"):
        _click_checkbox(qtbot, compare, name)
    assert compare.shown() == ["maml", "pretrained", "metasgd", "anil"]
    assert {"anil", "metasgd"} <= set(playground.plot.model_curves)
    assert playground.mse_plot.lines["anil"].getData()[1].size == state.adaptation.steps + 1
    anil, metasgd = window.state.inits["anil"], window.state.inits["metasgd"]
    loops = {
        "anil": inner_loop_for(anil.config, algo="anil"),
        "metasgd": inner_loop_for(metasgd.config, metasgd.inner_lrs),
    }
    expected = adapt_all(
        {"anil": anil.params, "metasgd": metasgd.params},
        state.points,
        GRID,
        state.adaptation.lr,
        state.adaptation.steps,
        None,
        loops,
    )
    for name in ("anil", "metasgd"):
        np.testing.assert_allclose(playground.curves[name].predictions, expected[name].predictions)
    plain = adapt_all({"metasgd": metasgd.params}, state.points, GRID, state.adaptation.lr, state.adaptation.steps)
    assert not np.allclose(plain["metasgd"].predictions[-1], playground.curves["metasgd"].predictions[-1])
    _click_checkbox(qtbot, compare, "maml")
    assert "maml" not in playground.curves and "maml" not in playground.plot.model_curves


def test_the_highlighted_row_is_exported_with_its_learned_step_sizes(window, monkeypatch, tmp_path):
    compare = window.controls.compare
    compare.list.setCurrentRow(compare.names().index("metasgd"))
    target = tmp_path / "metasgd.safetensors"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    window.actions.export_init.trigger()
    loaded = load_initialization(target)
    assert loaded.algorithm == "metasgd"
    for key, value in window.state.inits["metasgd"].inner_lrs.items():
        assert torch.equal(loaded.inner_lrs[key], value)


def test_a_session_remembers_which_inits_are_shown(window, tmp_path):
    window.controls.compare.set_shown("reptile", True)
    window.controls.compare.set_shown("pretrained", False)
    assert window.files.save_session(str(tmp_path / "s.json"))
    window.controls.compare.set_shown("reptile", False)
    assert window.files.open_session(str(tmp_path / "s.json"))
    assert window.controls.compare.shown() == ["maml", "reptile"]
    assert set(window.playground.curves) == {"maml", "reptile"}


def test_the_comparison_table_shows_the_numbers_mamlviz_eval_prints(window, qtbot, capsys):
    window.controls.compare.set_shown("metasgd", True)
    window.controls.compare.set_shown("pretrained", False)
    dialog = window.compare_initializations()
    with qtbot.waitSignal(dialog.evaluated, timeout=60_000):
        pass
    assert [(name, curve.shots) for name, curve in dialog.rows] == [
        ("maml", 5),
        ("maml", 10),
        ("metasgd", 5),
        ("metasgd", 10),
    ]
    files = [str(resource_path(SHIPPED_MAML)), str(resource_path("metasgd_sinusoid.safetensors"))]
    assert main(["eval", *files, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["results"]
    for (_, curve), row in zip(dialog.rows, printed, strict=True):
        np.testing.assert_allclose(curve.mean, row["mean"])
        assert curve.diverged == row["diverged"]
    assert dialog.table.item(0, 3).text() == f"{printed[0]['mean'][1]:.3f} ± {printed[0]['ci95'][1]:.3f}"
    assert dialog.table.rowCount() == 6  # four measured rows and the paper's two


def test_comparing_nothing_says_what_to_do(window, qtbot):
    for name in window.controls.compare.shown():
        window.controls.compare.set_shown(name, False)
    with qtbot.waitSignal(window.error_shown) as signal:
        assert window.compare_initializations() is None
    assert "Tick at least one" in signal.args[0]
