"""The Insights dock in the main window: it follows the playground, a task-map click sets the task, training feeds
gradient flow."""

from PySide6.QtCore import Qt

from mamlviz.gui.insights import FLOW, MAP, REUSE


def _open(window, qtbot, title):
    """Open the dock from the View menu's action on a tab, and wait for that tab's result."""
    with qtbot.waitSignal(window.insights.computed, timeout=20_000, check_params_cb=lambda tab: tab == title):
        window.insights.show_tab(title)
        window.actions.insights.trigger()


def test_insights_is_hidden_at_first_and_opens_from_the_view_menu(window, qtbot):
    assert not window.insights_dock.isVisible()
    assert not window.insights.views  # its plots are built when first shown, not at start-up
    assert window.actions.insights.shortcut().toString() == "Ctrl+I"
    _open(window, qtbot, REUSE)
    assert window.insights_dock.isVisible()
    assert set(window.insights.views) == {REUSE}
    assert window.insights.reuse_view.isVisible()
    assert set(window.insights.reuse_view.changes) == {"maml", "pretrained"}, window.insights.captions[REUSE].text()
    window.controls.compare.set_shown("anil", True)
    qtbot.waitUntil(lambda: not window.insights.busy and not window.insights.stale(REUSE), timeout=20_000)
    assert set(window.insights.reuse_view.changes) == {"maml", "pretrained", "anil"}
    assert window.insights.reuse_view.changes["anil"][:2].tolist() == [0.0, 0.0]  # ANIL's body never moves


def test_a_task_map_click_makes_that_task_the_playground_truth(window, qtbot):
    _open(window, qtbot, MAP)
    view = window.insights.map_view
    plot = view.plot
    plot.getPlotItem().vb.autoRange(padding=0)
    qtbot.wait(50)
    center = plot.mapFromScene(plot.getPlotItem().vb.mapViewToScene(view.cell_center(15, 4)))
    with qtbot.waitSignal(window.insights.task_chosen) as chosen:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=center)
    amplitude, phase = chosen.args
    truth = window.state.truth
    assert abs(truth.amplitude - amplitude) <= 0.005 and abs(truth.phase - phase) <= 0.005
    assert len(window.state.points) == window.controls.task.shots.value()
    assert abs(window.state.points[:, 1] - truth(window.state.points[:, 0])).max() < 1e-9


def test_training_snapshots_feed_the_gradient_flow_tab(window, qtbot):
    window.insights.show_tab(FLOW)
    window.actions.insights.trigger()
    assert "Start training" in window.insights.captions[FLOW].text()
    window.controls.training.iterations.setValue(100_000)
    window.controls.training.meta_batch.setValue(4)
    window.actions.start.trigger()
    qtbot.waitUntil(lambda: len(window.insights.flow_view.cosines) >= 2, timeout=20_000)
    with qtbot.waitSignal(window.training.finished, timeout=5000):
        window.actions.stop.trigger()
    x, _ = window.insights.flow_view.second_curves["head"].getOriginalDataset()
    assert list(x) == sorted(x) and x[0] >= 1


def test_gradient_flow_measured_while_the_panel_is_hidden_is_shown_when_it_opens(window, qtbot):
    window.controls.training.iterations.setValue(100_000)
    window.controls.training.meta_batch.setValue(4)
    window.actions.start.trigger()
    qtbot.waitUntil(lambda: len(window.insights.pending_flow) >= 2, timeout=20_000)
    with qtbot.waitSignal(window.training.finished, timeout=5000):
        window.actions.stop.trigger()
    assert FLOW not in window.insights.views  # nothing was built while the dock was hidden
    measured = [row[0] for row in window.insights.pending_flow]
    window.insights.show_tab(FLOW)
    window.actions.insights.trigger()
    assert window.insights.flow_view.iterations == measured and not window.insights.pending_flow
    x, _ = window.insights.flow_view.second_curves["head"].getOriginalDataset()
    assert list(x) == measured
