"""The playground as a user drives it: click, drag, delete, sample, clear, bad points."""

import numpy as np
from gui_helpers import click, data_per_pixel, view_pos
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip

from mamlviz.core.sinusoid.playground import adapt_all
from mamlviz.gui.playground_panel import GRID


def _shown(curve) -> np.ndarray:
    return np.asarray(curve.getData()[1])


def test_window_opens_with_both_initializations_adapted_on_starting_points(window):
    playground, state = window.playground, window.state
    assert set(state.shown_params("sinusoid")) == {"maml", "pretrained"}
    assert len(state.points) == 5
    for name in ("maml", "pretrained"):
        curves = playground.plot.model_curves[name]
        assert curves["stepk"].isVisible()
        np.testing.assert_allclose(_shown(curves["stepk"]), playground.curves[name].predictions[-1])


def test_click_adds_a_point_at_the_clicked_coordinates_and_readapts_both_models(window, qtbot):
    playground, state = window.playground, window.state
    state.set_points([])
    before = {n: _shown(playground.plot.model_curves[n]["before"]) for n in ("maml", "pretrained")}
    with qtbot.waitSignal(playground.updated):
        click(qtbot, playground.plot, 1.5, 2.0)
    assert state.points.shape == (1, 2)
    tolerance = data_per_pixel(playground.plot) * 1.5
    assert abs(state.points[0, 0] - 1.5) <= tolerance[0]
    assert abs(state.points[0, 1] - 2.0) <= tolerance[1]
    expected = adapt_all(state.shown_params("sinusoid"), state.points, GRID, 0.01, 10)
    for name in ("maml", "pretrained"):
        curves = playground.plot.model_curves[name]
        assert curves["stepk"].isVisible()
        np.testing.assert_allclose(_shown(curves["stepk"]), expected[name].predictions[-1])
        np.testing.assert_allclose(_shown(curves["before"]), before[name])
        assert not np.allclose(_shown(curves["stepk"]), before[name])
    legend_texts = [label.text for _, label in playground.plot.legend.items]
    assert "MAML 10 steps" in legend_texts
    assert "Pretrained 1 step" in legend_texts


def test_drag_moves_a_point(window, qtbot):
    playground, state = window.playground, window.state
    state.set_points([[-2.0, 1.0], [2.0, -1.0]])
    viewport = playground.plot.viewport()
    start, end = view_pos(playground.plot, -2.0, 1.0), view_pos(playground.plot, -1.0, 3.0)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0.1, 1.0, 6):
        QTest.mouseMove(viewport, start + QPoint(round((end - start).x() * t), round((end - start).y() * t)))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    tolerance = data_per_pixel(playground.plot) * 1.5
    assert len(state.points) == 2
    assert np.all(np.abs(state.points[0] - [-1.0, 3.0]) <= tolerance)
    np.testing.assert_allclose(state.points[1], [2.0, -1.0])


def test_undo_and_redo_take_back_clicks_a_whole_drag_and_clear(window, qtbot):
    playground, state = window.playground, window.state
    state.set_points([[-2.0, 1.0], [2.0, -1.0]])
    before = state.points.copy()
    click(qtbot, playground.plot, 0.0, 3.0)
    viewport = playground.plot.viewport()
    start, end = view_pos(playground.plot, -2.0, 1.0), view_pos(playground.plot, -1.0, -3.0)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0.1, 1.0, 6):
        QTest.mouseMove(viewport, start + QPoint(round((end - start).x() * t), round((end - start).y() * t)))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    dragged = state.points.copy()
    window.actions.clear.trigger()
    assert len(state.points) == 0
    assert window.actions.undo.isEnabled() and not window.actions.redo.isEnabled()
    assert window.actions.undo.shortcut().matches(QKeySequence("Ctrl+Z")) == QKeySequence.SequenceMatch.ExactMatch
    window.actions.undo.trigger()  # the clear
    np.testing.assert_allclose(state.points, dragged)
    window.actions.undo.trigger()  # the whole drag at once
    assert len(state.points) == 3 and np.allclose(state.points[0], [-2.0, 1.0])
    window.actions.undo.trigger()  # the click
    np.testing.assert_allclose(state.points, before)
    window.actions.redo.trigger()
    window.actions.redo.trigger()
    np.testing.assert_allclose(state.points, dragged)
    _, y = playground.plot.model_curves["maml"]["stepk"].getData()  # the curves follow what is shown
    expected = adapt_all(
        state.shown_params("sinusoid"), dragged, GRID, state.adaptation.lr, state.adaptation.steps, state.truth
    )
    np.testing.assert_allclose(y, expected["maml"].predictions[-1], rtol=1e-5, atol=1e-6)
    click(qtbot, playground.plot, 4.0, 4.0)  # a new edit: nothing left to redo
    assert not window.actions.redo.isEnabled()


def test_hovering_a_curve_names_it_with_its_mse_on_the_true_task(window, qtbot):
    playground, state = window.playground, window.state
    state.set_points([[-4.0, 2.0], [-2.0, -1.0], [1.0, 2.0]])
    maml = playground.curves["maml"]
    target = maml.predictions[-1]
    others = np.array(
        [y for label, (_, y, _) in playground.plot.hover_curves.items() if label != "MAML 10 steps"]
        + [state.truth(GRID)]
    )
    i = 20 + int(np.argmax(np.abs(others - target).min(0)[20:-20]))  # where no other curve is near
    x, y = GRID[i], target[i]
    expected = f"MAML 10 steps · MSE {maml.true_mse[-1]:.3g} on the true task"
    assert playground.plot.curve_at(playground.plot.editor.mapViewToScene(QPointF(x, y))) == expected
    QTest.mouseMove(playground.plot.viewport(), view_pos(playground.plot, x, y) + QPoint(0, 40))  # enter the plot
    QTest.mouseMove(playground.plot.viewport(), view_pos(playground.plot, x, y))
    qtbot.waitUntil(lambda: QToolTip.text() == expected, timeout=2000)
    highest = max(float(np.max(np.abs(c.predictions[:, i]))) for c in playground.curves.values())
    assert highest < 4.5  # so nothing is drawn near y = 5.5 here
    assert playground.plot.curve_at(playground.plot.editor.mapViewToScene(QPointF(x, 5.5))) is None


def test_right_click_and_delete_remove_points(window, qtbot):
    playground, state = window.playground, window.state
    state.set_points([[-2.0, 1.0], [0.0, 0.0], [2.0, -1.0]])
    click(qtbot, playground.plot, 0.0, 0.0, Qt.MouseButton.RightButton)
    np.testing.assert_allclose(state.points, [[-2.0, 1.0], [2.0, -1.0]])
    click(qtbot, playground.plot, 3.0, 3.0, Qt.MouseButton.RightButton)  # nowhere near a point: nothing happens
    assert len(state.points) == 2
    click(qtbot, playground.plot, -2.0, 1.0)  # selects the existing point rather than adding one
    assert len(state.points) == 2
    qtbot.keyClick(playground.plot, Qt.Key.Key_Delete)
    np.testing.assert_allclose(state.points, [[2.0, -1.0]])


def test_sample_k_clear_and_no_points_show_unadapted_curves(window, qtbot):
    task = window.controls.task
    task.shots.setValue(7)
    qtbot.mouseClick(task.sample, Qt.MouseButton.LeftButton)
    points = window.state.points
    assert points.shape == (7, 2)
    truth = window.state.truth
    np.testing.assert_allclose(points[:, 1], truth(points[:, 0]))
    qtbot.mouseClick(task.clear, Qt.MouseButton.LeftButton)
    assert len(window.state.points) == 0
    curves = window.playground.plot.model_curves["maml"]
    assert curves["before"].isVisible()
    assert not curves["stepk"].isVisible()
    assert "no points" in window.playground.plot.summary.toPlainText()


def test_truth_sliders_steps_slider_and_free_drawing(window, qtbot):
    task, adapt = window.controls.task, window.controls.adapt
    task.amplitude.setValue(400)
    assert window.state.truth.amplitude == 4.0
    np.testing.assert_allclose(window.playground.plot.truth_curve.getData()[1], window.state.truth(GRID))
    adapt.steps.setValue(3)
    assert window.playground.curves["maml"].predictions.shape[0] == 4
    assert [label.text for _, label in window.playground.plot.legend.items].count("MAML 3 steps") == 1
    assert len(window.playground.mse_plot.lines["maml"].getData()[0]) == 4
    task.has_truth.setChecked(False)
    assert window.state.truth is None
    assert not window.playground.plot.truth_curve.isVisible()
    assert window.playground.mse_plot.message.isVisible()


def test_nan_points_are_refused_with_a_message_and_nothing_is_lost(window):
    state = window.state
    kept = state.points.copy()
    state.set_points([[np.nan, 1.0]])
    np.testing.assert_array_equal(state.points, kept)
    assert window.last_error is not None
    assert "finite" in window.last_error.text()
    state.set_points([[1e9, 0.0]])
    np.testing.assert_array_equal(state.points, kept)


def test_thousands_of_points_are_handled(window):
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 3000)
    window.state.set_points(np.stack([x, np.sin(x)], axis=1))
    assert len(window.state.points) == 3000
    assert np.isfinite(window.playground.curves["maml"].predictions).all()
    assert len(window.playground.plot.points_item.data) == 3000


def test_a_diverging_adaptation_is_reported_not_crashed(window):
    window.state.set_points([[-4.0, 400.0], [4.0, -400.0]])
    window.controls.adapt.lr.setValue(1.0)
    window.controls.adapt.steps.setValue(50)
    assert window.playground.curves["maml"].diverged
    assert "diverged" in window.playground.plot.summary.toPlainText()
    window.controls.adapt.lr.setValue(0.01)
    window.state.set_points([[-4.0, 2.0], [4.0, -2.0]])
    assert not window.playground.curves["maml"].diverged
    assert "diverged" not in window.playground.plot.summary.toPlainText()


def test_a_huge_but_finite_mse_reads_diverged_not_a_long_number(window):
    from mamlviz.core.sinusoid.playground import ModelCurves

    huge = np.array([1.5, 0.4, 1.156e17])
    window.playground.curves = {"anil": ModelCurves(np.zeros((3, 4)), np.zeros(3), huge)}
    text = window.playground.summary_html()
    assert "θ 1.50 · 1 step 0.40 · 2 steps diverged" in text
    assert "115" not in text
