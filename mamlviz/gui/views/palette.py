"""Plot helpers of the family views: colours shared with the playground, uncrowded log axes, plot widgets."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QColor

from mamlviz.gui.style import RowLegend, display_name, model_color

MIN_PLOT_HEIGHT = 130
"""Title, axis and a readable view: no view collapses below this in a short Insights dock (~280 px)."""


def color(name: str) -> QColor:
    """The colour of an initialization named `name` (its algorithm, or any label): the playground's colours."""
    return model_color(name.split()[0].lower() if name else name)


class LogAxis(pg.AxisItem):
    """Log-mode ticks that do not crowd: pyqtgraph's whole-decade ticks when it finds at least two, else three
    levels (powers of ten; 2 and 5 times them; the other multiples), the finer ones labelled only while they fit.
    pyqtgraph's own fallback puts every multiple 1…9 in one level, all labelled."""

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:
        powers = [(spacing, values) for spacing, values in stdTicks if spacing >= 1.0]
        if sum(len(values) for _, values in powers) >= 2:
            return powers

        def multiples(factors: tuple[int, ...]) -> list[float]:
            decades = range(math.floor(minVal), math.ceil(maxVal))
            ticks = (d + math.log10(f) for d in decades for f in factors)
            return [t for t in ticks if minVal <= t <= maxVal]

        return [(None, multiples((1,))), (None, multiples((2, 5))), (None, multiples((3, 4, 6, 7, 8, 9)))]


def label(name: str) -> str:
    """The legend text of an initialization: 'maml' -> 'MAML', any other label as it is."""
    return display_name(name)


def plot_widget(title: str, bottom: str, left: str, legend: str = "inside") -> pg.PlotWidget:
    """A plot with a title, axis labels (uncrowded in log mode), a light grid, no context menu and a legend:
    inside, on a translucent background, or "right": in a column of its own beside the view (a legend of many
    entries in a short plot was cut off at the bottom)."""
    widget = pg.PlotWidget(axisItems={"left": LogAxis("left"), "bottom": LogAxis("bottom")})
    item = widget.getPlotItem()
    item.setTitle(title, size="10pt")
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.getAxis("left").enableAutoSIPrefix(False)
    if legend == "right":
        item.legend = RowLegend(labelTextSize="8pt", verSpacing=-6, horSpacing=8)
        item.layout.addItem(item.legend, 2, 3)
        item.vb.sigResized.connect(lambda *_: fit_legend_rows(widget))
    else:
        item.addLegend(offset=(-8, 8), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 200))
    widget.setMinimumHeight(MIN_PLOT_HEIGHT)
    return widget


def fit_legend_rows(widget: pg.PlotWidget, row_px: int = 16) -> None:
    """Spread a legend beside the plot over as many columns as it needs to fit the view's height (called when the
    view is resized and when entries change)."""
    legend = widget.getPlotItem().legend
    rows = max(1, int(max(widget.getPlotItem().vb.height(), MIN_PLOT_HEIGHT - 60) // row_px))
    columns = max(1, math.ceil(len(legend.items) / rows))
    if columns != legend.columnCount:
        legend.setColumnCount(columns)
