"""The 2D navigation arena: [−0.5, 0.5]² at a fixed aspect ratio, the goal, and each policy's trajectories.

A view: it draws the arrays it is given and emits `goal_requested(x, y)` when the user clicks or drags (a press
anywhere moves the goal there, and it follows the mouse until release). It never computes a rollout.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent

from mamlviz.gui.style import unindexed

HALF = 0.5
"""The goals' square is [−HALF, HALF]²."""
MARGIN = 0.12
"""Room around the square: paths that overshoot stay visible for a while."""
FAINT_ALPHA = 30


def clamp_goal(x: float, y: float) -> tuple[float, float]:
    return float(np.clip(x, -HALF, HALF)), float(np.clip(y, -HALF, HALF))


def joined(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_traj, T + 1, 2) paths as one polyline's x, y with a NaN between trajectories (one item draws them all)."""
    n, length, _ = paths.shape
    padded = np.full((n, length + 1, 2), np.nan, dtype=np.float64)
    padded[:, :length] = paths
    flat = padded.reshape(-1, 2)
    return flat[:, 0], flat[:, 1]


class ArenaPlot(pg.PlotWidget):
    """The arena; `goal_requested` on click and during a drag, in data coordinates clamped to the square."""

    goal_requested = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        unindexed(self)
        item = self.getPlotItem()
        item.setTitle("Click to set the goal · drag to move it", size="10pt")
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        for side in ("bottom", "left"):
            item.getAxis(side).enableAutoSIPrefix(False)
        item.hideButtons()
        item.setMenuEnabled(False)
        box = item.getViewBox()
        box.setMouseEnabled(False, False)
        box.setAspectLocked(True, 1.0)
        limit = HALF + MARGIN
        box.setRange(xRange=(-limit, limit), yRange=(-limit, limit), padding=0)
        box.disableAutoRange()
        item.showGrid(x=True, y=True, alpha=0.15)
        square = np.array([[-HALF, -HALF], [HALF, -HALF], [HALF, HALF], [-HALF, HALF], [-HALF, -HALF]])
        self.addItem(pg.PlotDataItem(square[:, 0], square[:, 1], pen=pg.mkPen("#999999", width=1)))
        start = pg.ScatterPlotItem([0.0], [0.0], symbol="s", size=9, brush=pg.mkBrush("#444444"), pen=None)
        start.setZValue(8)
        self.addItem(start)
        self.goal_marker = pg.ScatterPlotItem(
            symbol="star", size=22, brush=pg.mkBrush("#F0E442"), pen=pg.mkPen("#333333", width=1.2)
        )
        self.goal_marker.setZValue(10)
        self.addItem(self.goal_marker)
        self.faint: dict[str, pg.PlotDataItem] = {}
        self.means: dict[str, pg.PlotDataItem] = {}
        self.goal = (0.0, 0.0)
        self._dragging = False

    # ---- what it shows ------------------------------------------------------------------------------------------
    def set_goal(self, x: float, y: float) -> None:
        self.goal = (float(x), float(y))
        self.goal_marker.setData([x], [y])

    def set_paths(self, paths: dict[str, tuple[np.ndarray, QColor]]) -> None:
        """name -> ((n_traj, T + 1, 2) sampled paths of one step, colour): faint paths and the thick mean path."""
        for name in [n for n in self.faint if n not in paths]:
            self.removeItem(self.faint.pop(name))
            self.removeItem(self.means.pop(name))
        for name, (sampled, color) in paths.items():
            if name not in self.faint:
                self.faint[name] = self.plot(antialias=False)
                self.faint[name].setZValue(2)
                self.means[name] = self.plot(name=name, antialias=True)
                self.means[name].setZValue(5)
            faint = QColor(color)
            faint.setAlpha(FAINT_ALPHA)
            self.faint[name].setPen(pg.mkPen(faint, width=1))
            self.faint[name].setData(*joined(sampled), connect="finite")
            mean = sampled.mean(axis=0)
            self.means[name].setPen(pg.mkPen(color, width=3))
            self.means[name].setData(mean[:, 0], mean[:, 1])

    def shown_paths(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The mean path drawn for `name` (x, y), for tests and scripts."""
        return self.means[name].getData()

    # ---- the mouse (handled on the view: no scene hit test of every path) --------------------------------------
    def _data_at(self, ev: QMouseEvent) -> tuple[float, float] | None:
        scene = self.mapToScene(ev.position().toPoint())
        box = self.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(scene):
            return None
        point: QPointF = box.mapSceneToView(scene)
        return clamp_goal(point.x(), point.y())

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        where = self._data_at(ev) if ev.button() == Qt.MouseButton.LeftButton else None
        if where is None:
            super().mousePressEvent(ev)
            return
        self._dragging = True
        self.goal_requested.emit(*where)
        ev.accept()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        if not self._dragging:
            super().mouseMoveEvent(ev)
            return
        scene = self.mapToScene(ev.position().toPoint())
        point = self.getPlotItem().getViewBox().mapSceneToView(scene)
        self.goal_requested.emit(*clamp_goal(point.x(), point.y()))
        ev.accept()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if not self._dragging:
            super().mouseReleaseEvent(ev)
            return
        self.mouseMoveEvent(ev)  # the drag ends where the button is released
        self._dragging = False
        ev.accept()
