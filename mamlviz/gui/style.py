"""Colours and names shared by every panel: one colour family per model (Okabe–Ito), truth in grey."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsScene,
    QScrollBar,
    QWidget,
)

BASE_COLORS = {
    "maml": "#0072B2",
    "fomaml": "#009E73",
    "pretrained": "#D55E00",
    "anil": "#CC79A7",
    "reptile": "#E69F00",
    "metasgd": "#56B4E9",
    "maml++": "#882255",
    "oracle": "#000000",
    "protonet": "#AA3377",
    "matchingnet": "#997700",
}
EXTRA_COLORS = ("#44AA99", "#999933", "#AA4499", "#332288")
TRUTH_COLOR = "#A5A5A5"
"""Opaque light grey (#666666 at 60% on white): a translucent wide line costs 3× more to draw (2.1 vs 0.7 ms)."""
POINT_BRUSH = "#F0E442"
DISPLAY_NAMES = {
    "maml": "MAML",
    "fomaml": "FO-MAML",
    "pretrained": "Pretrained",
    "anil": "ANIL",
    "reptile": "Reptile",
    "metasgd": "Meta-SGD",
    "maml++": "MAML++",
    "oracle": "Oracle",
    "protonet": "ProtoNet",
    "matchingnet": "Matching Net",
}


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


def model_color(name: str) -> QColor:
    """The base colour of a model; unknown names get a stable colour from the extra list."""
    if name in BASE_COLORS:
        return QColor(BASE_COLORS[name])
    return QColor(EXTRA_COLORS[sum(map(ord, name)) % len(EXTRA_COLORS)])


def model_pen(name: str, stage: str, width: float = 2.0) -> QPen:
    """Pen for a model curve at a stage: 'before' (light, thin), 'step1' (medium), 'stepk' (saturated).

    Solid lines, width > 1 only for the k-step curve: dashed or wide antialiased paths cost several
    times more to draw (measured: 7 wide curves took 23 ms a repaint, thin ones 8 ms).
    """
    color = model_color(name)
    if stage == "before":
        color = color.lighter(165)
    elif stage == "step1":
        color = color.lighter(125)
    elif stage == "ghost":
        color.setAlpha(45)
    pen = QPen(color)
    pen.setWidthF(width if stage == "stepk" else 1.0)
    pen.setCosmetic(True)
    return pen


def truth_pen() -> QPen:
    pen = QPen(QColor(TRUTH_COLOR))
    pen.setWidthF(3.0)
    pen.setCosmetic(True)
    return pen


class RowLegend(pg.LegendItem):
    """A legend that lives in a layout cell: pyqtgraph's resizes itself with setGeometry(0, 0, ...), which moved it
    onto the plot's top-left corner (over the title and the curves) whenever its entries changed."""

    def updateSize(self) -> None:
        pos = self.pos()
        super().updateSize()
        self.setPos(pos)  # the layout places it; only the size is the legend's to change
        self.updateGeometry()


def legend_below(plot_item: pg.PlotItem, columns: int, size: str = "8pt") -> pg.LegendItem:
    """A legend in its own row under the plot, so it never hides curves or catches clicks meant for the plot."""
    legend = RowLegend(colCount=columns, labelTextSize=size, verSpacing=-6, horSpacing=12)
    plot_item.layout.addItem(legend, 5, 1)
    plot_item.legend = legend
    return legend


def unindexed(widget: pg.PlotWidget) -> pg.PlotWidget:
    """Turn off the plot scene's BSP index of item positions: Qt rebuilds it whenever a curve's data changes
    (measured: 2 ms of a 13 ms click-to-redraw), while a linear scan of a few dozen items costs nothing."""
    widget.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
    return widget


class WheelGuard(QObject):
    """Mouse wheel over an unfocused combo box, spin box or slider scrolls the surrounding panel instead of
    changing the value (one scroll down the Controls once set the preset to "Paper"). Click it (or Tab to it) to
    give it focus; then the wheel changes it as usual."""

    KINDS = (QComboBox, QAbstractSpinBox, QAbstractSlider)

    def guard(self, root: QWidget) -> None:
        """Guard every value widget under `root` (scroll bars excepted); call again after adding widgets."""
        for kind in self.KINDS:
            for widget in root.findChildren(kind):
                if isinstance(widget, QScrollBar):
                    continue
                widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                widget.removeEventFilter(self)
                widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        parent = watched.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        if parent is not None:
            QApplication.sendEvent(parent.verticalScrollBar(), event)
        return True
