"""Inner-lr sensitivity: post-adaptation MSE vs step size α (log grid) after a chosen number of steps, per init.

Wiring: off the GUI thread, `mse[name] = diagnostics.lr_sensitivity(theta, cfg.task, inner_loop, shots, 10,
alphas)` for each shown init (alphas e.g. `np.logspace(-4, 0, 13)`), then `view.set_sensitivity(alphas, mse)`;
`view.set_reference(0.01)` marks the α used in training.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from mamlviz.gui.views.palette import color, fit_legend_rows, label, plot_widget


class LrSensitivityView(QWidget):
    """Log-log MSE vs α, one line per initialization, for the step count chosen in the spin box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot_widget("Sensitivity to the inner learning rate", "inner learning rate α", "MSE", "right")
        self.plot.getPlotItem().setLogMode(True, True)
        self.steps = QSpinBox()
        self.steps.setPrefix("after ")
        self.steps.setSuffix(" steps")
        self.steps.setRange(0, 0)
        self.steps.valueChanged.connect(lambda n: self.steps.setSuffix(" step" if n == 1 else " steps"))
        self.steps.valueChanged.connect(self._redraw)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Adaptation:"))
        controls.addWidget(self.steps)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.plot)
        self.reference = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888888", style=Qt.PenStyle.DotLine))
        self.reference.setVisible(False)
        self.plot.addItem(self.reference, ignoreBounds=True)
        self.alphas = np.zeros(0)
        self.mse: dict[str, np.ndarray] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_sensitivity(self, alphas: np.ndarray, mse: Mapping[str, np.ndarray]) -> None:
        """`mse[name][a, s]`: mean MSE after s steps with step size alphas[a] (NaN where it diverged)."""
        self.alphas = np.asarray(alphas, dtype=float)
        self.mse = {name: np.asarray(v, dtype=float) for name, v in mse.items()}
        item = self.plot.getPlotItem()
        for curve in self.curves.values():
            item.legend.removeItem(curve)
            item.removeItem(curve)
        self.curves = {
            name: item.plot(
                pen=pg.mkPen(color(name), width=2), symbol="o", symbolSize=5, symbolBrush=color(name), name=label(name)
            )
            for name in self.mse
        }
        fit_legend_rows(self.plot)
        max_steps = min((v.shape[1] - 1 for v in self.mse.values()), default=0)
        self.steps.setRange(0, max_steps)
        if self.steps.value() == 0 or self.steps.value() > max_steps:
            self.steps.setValue(max_steps)
        self._redraw()

    def set_reference(self, alpha: float) -> None:
        """Mark a step size (e.g. the training α) with a dotted vertical line."""
        self.reference.setValue(np.log10(alpha))
        self.reference.setVisible(True)

    def _redraw(self) -> None:
        step = self.steps.value()
        for name, curve in self.curves.items():
            y = self.mse[name][:, step]
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            curve.setData(self.alphas, y, connect="finite")
