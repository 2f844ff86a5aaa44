"""Issue #12, item 6: Ctrl+I at 1400×900 — every Insights plot keeps a readable height and its whole legend."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from mamlviz.gui.insights import FLOW, SENSITIVITY, STABILITY

READABLE_PX = 60


def _open(window, qtbot, title, wait=True):
    window.state.set_shown(list(window.state.inits_of("sinusoid")))  # six initializations: six legend entries
    if not wait:
        window.insights.show_tab(title)
        window.actions.insights.trigger()
        return
    with qtbot.waitSignal(window.insights.computed, timeout=60_000, check_params_cb=lambda tab: tab == title):
        window.insights.show_tab(title)
        if not window.insights_dock.isVisible():  # Ctrl+I toggles the dock
            window.actions.insights.trigger()
    qtbot.wait(20)


def _whole_legend(plot) -> None:
    """Every legend entry lies inside the plot widget: none cut off at its bottom or right."""
    item = plot.getPlotItem()
    widget = QRectF(plot.rect()).adjusted(-1, -1, 1, 1)
    assert item.legend.items
    for sample, label in item.legend.items:
        for part in (sample, label):
            rect = QRectF(plot.mapFromScene(part.sceneBoundingRect()).boundingRect())
            assert widget.contains(rect), (label.text, rect, widget)


def test_gradient_flow_plots_both_get_room_in_the_short_dock(window, qtbot):
    assert window.actions.insights.shortcut().toString() == "Ctrl+I"
    _open(window, qtbot, FLOW, wait=False)
    qtbot.waitUntil(lambda: window.insights_dock.isVisible() and FLOW in window.insights.views)
    view = window.insights.flow_view
    rng = np.random.default_rng(0)
    view.add_measurements([(i * 100, ["a", "b", "head"], rng.random(3) + 0.1, rng.random(3), 0.9) for i in range(20)])
    qtbot.wait(20)
    assert window.insights_dock.height() <= 320  # the dock as Ctrl+I opens it at 1400×900
    for plot in (view.norm_plot, view.cosine_plot):
        assert plot.isVisible() and plot.getPlotItem().vb.height() >= READABLE_PX, plot.getPlotItem().vb.height()
    window.grab().save("/tmp/newcomer_insights_flow.png")


def test_gradient_flow_stacks_its_plots_when_tall(qtbot):
    from mamlviz.gui.views.gradient_flow import GradientFlowView

    view = GradientFlowView()
    qtbot.addWidget(view)
    view.resize(700, 600)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(10)
    assert view.cosine_plot.geometry().top() >= view.norm_plot.geometry().bottom()
    assert view.cosine_plot.getPlotItem().vb.height() >= READABLE_PX
    view.resize(1300, 240)
    qtbot.wait(10)
    assert view.cosine_plot.geometry().left() >= view.norm_plot.geometry().right()
    assert view.cosine_plot.getPlotItem().vb.height() >= READABLE_PX


def test_sensitivity_and_stability_legends_are_whole(window, qtbot):
    for title in (SENSITIVITY, STABILITY):
        _open(window, qtbot, title)
        view = window.insights.sensitivity_view if title == SENSITIVITY else window.insights.stability_view
        qtbot.waitUntil(lambda v=view: v.plot.width() > 1000)  # the dock laid out at the window's width
        qtbot.wait(20)
        assert view.plot.getPlotItem().vb.height() >= READABLE_PX
        texts = [label.text for _, label in view.plot.getPlotItem().legend.items]
        assert "MAML" in texts and "MAML++" in texts and len(texts) == 6  # display names, all six
        _whole_legend(view.plot)
        legend, area = (
            view.plot.getPlotItem().legend.sceneBoundingRect(),
            view.plot.getPlotItem().vb.sceneBoundingRect(),
        )
        assert not legend.intersects(area.adjusted(1, 1, -1, -1))  # beside the curves, not over them
    window.grab().save("/tmp/newcomer_insights_sensitivity.png")
