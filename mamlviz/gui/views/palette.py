"""Colours of initializations in the family views (Okabe–Ito, stable per name)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

COLORS = {
    "maml": "#0072B2",
    "fomaml": "#009E73",
    "pretrained": "#D55E00",
    "anil": "#CC79A7",
    "reptile": "#E69F00",
    "metasgd": "#56B4E9",
    "oracle": "#000000",
}
EXTRA = ("#F0E442", "#882255", "#44AA99", "#999933")


def color(name: str) -> QColor:
    """The colour of an initialization named `name` (its algorithm, or any label)."""
    key = name.split()[0].lower() if name else name
    return QColor(COLORS.get(key, EXTRA[sum(map(ord, name)) % len(EXTRA)]))


def plot_widget(title: str, bottom: str, left: str) -> pg.PlotWidget:
    """A plot with a title, axis labels, a light grid, no context menu and a legend."""
    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    item.setTitle(title, size="10pt")
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    item.hideButtons()
    item.getAxis("left").enableAutoSIPrefix(False)
    item.addLegend(offset=(-8, 8), labelTextSize="8pt")
    return widget
