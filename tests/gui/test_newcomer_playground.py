"""Issue #12, items 5 and 11: one diverging model, many models ticked, and no points at all in the playground."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from mamlviz.core.sinusoid.playground import PAPER_TABLE2_5SHOT, ModelCurves
from mamlviz.gui.mse_curve import MseCurvePlot

PAPER_MAX = max(v for table in PAPER_TABLE2_5SHOT.values() for v in table.values())


def _curves(**true_mse) -> dict[str, ModelCurves]:
    return {
        name: ModelCurves(np.zeros((len(mse), 3)), np.zeros(len(mse)), np.asarray(mse, dtype=float))
        for name, mse in true_mse.items()
    }


def _diverging_window(window):
    """Every shipped initialization ticked; at α = 0.05 some of them diverge on the start-up points, others not."""
    window.state.set_shown(list(window.state.inits_of("sinusoid")))
    window.controls.adapt.lr.setValue(0.05)
    curves = window.playground.curves
    diverged = [n for n, c in curves.items() if not np.isfinite(c.true_mse).all() or np.nanmax(c.true_mse) > 1e3]
    sane = [n for n in curves if n not in diverged]
    assert diverged and sane, "the scenario needs one of each"
    return diverged, sane


def test_one_diverging_model_does_not_flatten_the_others(qtbot):
    plot = MseCurvePlot()
    qtbot.addWidget(plot)
    plot.resize(600, 250)
    growth = [3.0, 10.0, 1e4, 1e9, 1e18, np.inf, np.nan, np.nan, np.nan, np.nan, np.nan]
    plot.set_curves(_curves(maml=np.linspace(3.0, 0.3, 11), pretrained=np.linspace(3.0, 2.0, 11), metasgd=growth))
    low, high = plot.getPlotItem().viewRange()[1]
    assert low == 0 and 2.5 < high < 10  # the sane curves and the paper stars fill the plot, not ×1e18
    y = plot.lines["metasgd"].getData()[1]
    assert np.nanmax(y) <= high and np.isclose(y[-1], high)  # the diverged curve runs along the top edge
    assert plot.diverged_note.isVisible() and "Meta-SGD" in plot.diverged_note.toPlainText()
    assert "diverged" in plot.diverged_note.toPlainText()
    plot.set_curves(_curves(maml=np.linspace(3.0, 0.3, 11), pretrained=np.linspace(3.0, 2.0, 11)))
    assert not plot.diverged_note.isVisible()


def test_a_diverging_model_in_the_window_keeps_the_stars_readable(window):
    _, sane = _diverging_window(window)
    mse_plot = window.playground.mse_plot
    _, high = mse_plot.getPlotItem().viewRange()[1]
    sane_max = max(float(np.nanmax(window.playground.curves[n].true_mse)) for n in sane)
    assert high < 5 * max(sane_max, PAPER_MAX)  # was 4e37
    assert mse_plot.diverged_note.isVisible()
    window.grab().save("/tmp/newcomer_diverging.png")


def test_the_summary_stays_out_of_the_plot_area_with_many_models(window):
    _diverging_window(window)
    plot = window.playground.plot
    text = plot.summary.toPlainText()
    for name in ("MAML", "Pretrained", "Reptile", "Meta-SGD", "ANIL", "MAML++"):
        assert name in text
    summary = plot.summary.sceneBoundingRect()
    area = plot.getPlotItem().vb.sceneBoundingRect()
    assert summary.height() > 20
    assert not summary.intersects(area.adjusted(0, 1, 0, 0))  # above the curves, never over them
    assert summary.bottom() <= area.top() + 1
    # and the plot still shows the whole x range inside the widget (the numbers did not push the axes out)
    assert QRectF(plot.rect()).adjusted(0, 0, 1, 1).contains(QRectF(plot.mapFromScene(area).boundingRect()))


def test_no_points_shows_a_clean_empty_state(window):
    window.state.set_points([])
    plot, mse_plot = window.playground.plot, window.playground.mse_plot
    texts = [label.text for _, label in plot.legend.items]
    assert not [t for t in texts if "0 steps" in t or "1 step" in t]  # no entries for curves not drawn
    assert all(sample.item.isVisible() for sample, _ in plot.legend.items)  # every sample has its curve
    assert "MAML θ (before)" in texts and "True function" in texts
    assert plot.empty_message.isVisible() and "Click to add support points" in plot.empty_message.toPlainText()
    assert mse_plot.message.isVisible() and "Click to add support points" in mse_plot.message.toPlainText()
    (x0, x1), _ = mse_plot.getPlotItem().viewRange()
    assert x0 == -0.5 and x1 >= 10  # not −0.5…1.5: the steps axis stays as it was
    window.grab().save("/tmp/newcomer_empty.png")
    window.controls.adapt.steps.setValue(0)  # points but no step: MSE before adaptation, no empty state
    window.state.set_points([[0.0, 1.0], [1.0, 0.0]])
    assert not plot.empty_message.isVisible() and not mse_plot.message.isVisible()
    assert len(mse_plot.lines["maml"].getData()[1]) == 1
    window.controls.adapt.steps.setValue(10)
    texts = [label.text for _, label in plot.legend.items]
    assert "MAML 10 steps" in texts and "MAML 1 step" in texts
    assert not plot.empty_message.isVisible() and not mse_plot.message.isVisible()
