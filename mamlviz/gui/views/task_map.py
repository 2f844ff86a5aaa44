"""Task-space map: post-adaptation MSE over (amplitude, phase); clicking a cell selects that task.

Wiring: off the GUI thread, `mse = diagnostics.task_space_mse(theta, cfg.task, inner_loop, shots, steps,
amplitudes, phases)` (e.g. 25 × 25 cells), then `view.set_map(amplitudes, phases, mse)`; connect
`view.task_selected(amplitude, phase)` to the playground's "load this true task".
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from mamlviz.gui.views.palette import plot_widget


class TaskSpaceMapView(QWidget):
    """Heatmap of log10 MSE with phase on x and amplitude on y; a click emits the cell's (amplitude, phase)."""

    task_selected = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot_widget("Post-adaptation MSE over the task space", "phase φ", "amplitude A")
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot)
        item = self.plot.getPlotItem()
        self.image = pg.ImageItem()
        item.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), label="log10 MSE", interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.marker = pg.ScatterPlotItem(size=14, symbol="s", brush=None, pen=pg.mkPen("#ff3030", width=2))
        item.addItem(self.marker)
        self.amplitudes = np.zeros(0)
        self.phases = np.zeros(0)
        self.mse = np.zeros((0, 0))
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def set_map(self, amplitudes: np.ndarray, phases: np.ndarray, mse: np.ndarray) -> None:
        """`mse[i, j]` is the MSE of the task (amplitudes[i], phases[j]); both axes evenly spaced."""
        self.amplitudes = np.asarray(amplitudes, dtype=float)
        self.phases = np.asarray(phases, dtype=float)
        self.mse = np.asarray(mse, dtype=float)
        finite = np.isfinite(self.mse) & (self.mse > 0)
        log = np.where(finite, np.log10(np.where(finite, self.mse, 1.0)), np.nan)
        levels = (float(np.nanmin(log)), float(np.nanmax(log))) if finite.any() else (0.0, 1.0)
        if levels[0] == levels[1]:
            levels = (levels[0] - 0.5, levels[1] + 0.5)
        self.image.setImage(log.T, levels=levels)
        self.colorbar.setLevels(levels)
        da, dp = self._step(self.amplitudes), self._step(self.phases)
        self.image.setRect(
            QRectF(
                self.phases[0] - dp / 2, self.amplitudes[0] - da / 2, len(self.phases) * dp, len(self.amplitudes) * da
            )
        )
        self.marker.clear()

    @staticmethod
    def _step(values: np.ndarray) -> float:
        return float(values[1] - values[0]) if len(values) > 1 else 1.0

    def cell_center(self, i: int, j: int) -> QPointF:
        """Data coordinates (phase, amplitude) of cell (amplitude index i, phase index j)."""
        return QPointF(float(self.phases[j]), float(self.amplitudes[i]))

    def _clicked(self, event) -> None:
        view = self.plot.getPlotItem().vb
        if not len(self.amplitudes) or not view.sceneBoundingRect().contains(event.scenePos()):
            return
        point = view.mapSceneToView(event.scenePos())
        da, dp = self._step(self.amplitudes), self._step(self.phases)
        i = round((point.y() - self.amplitudes[0]) / da)
        j = round((point.x() - self.phases[0]) / dp)
        if 0 <= i < len(self.amplitudes) and 0 <= j < len(self.phases):
            self.marker.setData([self.phases[j]], [self.amplitudes[i]])
            self.task_selected.emit(float(self.amplitudes[i]), float(self.phases[j]))
