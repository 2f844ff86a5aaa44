"""Mouse helpers for pyqtgraph plots in tests: data coordinates to viewport pixels."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt


def view_pos(plot, x: float, y: float) -> QPoint:
    """Widget (viewport) position of data coordinates (x, y) in a pyqtgraph PlotWidget."""
    scene = plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))
    return plot.mapFromScene(scene)


def click(qtbot, plot, x: float, y: float, button=Qt.MouseButton.LeftButton) -> None:
    qtbot.mouseClick(plot.viewport(), button, pos=view_pos(plot, x, y))


def data_per_pixel(plot) -> np.ndarray:
    return np.abs(np.array(plot.getPlotItem().getViewBox().viewPixelSize()))
