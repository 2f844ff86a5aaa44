"""Gradient flow during training: per-layer meta-gradient norms and cos(second-order, first-order).

Wiring: every M iterations, on the training thread, `flow = diagnostics.gradient_flow(theta, batch,
learner.inner_loop(), cfg.inner_steps)`; send it to the GUI thread and call
`view.add_measurement(iteration, flow.labels, flow.second_order, flow.first_order, flow.cosine)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QWidget

from mamlviz.gui.style import EXTRA_COLORS
from mamlviz.gui.views.palette import MIN_PLOT_HEIGHT, plot_widget

LAYER_COLORS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", *EXTRA_COLORS)
STACK_FROM = 2 * MIN_PLOT_HEIGHT + 70
"""The view stacks its two plots from this height on; shorter (Ctrl+I's dock at 1400×900), they sit side by side
(stacked, the cosine plot got zero height)."""


class GradientFlowView(QWidget):
    """Top (left in a short view): ‖meta-gradient‖ of each layer over iterations (solid: exact, dashed:
    first-order), log scale. Bottom (right): cosine similarity of the exact and the first-order meta-gradient."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.norm_plot = plot_widget(
            "Meta-gradient norm per layer (solid: exact, dashed: first-order)", "meta-iteration", "‖∇‖"
        )
        self.norm_plot.getPlotItem().setLogMode(False, True)
        self.cosine_plot = plot_widget("cos(second-order, first-order meta-gradient)", "meta-iteration", "cosine")
        self.cosine_plot.setYRange(-1.3, 1.3, padding=0)  # room for the labels at ±1 in a short plot
        self.cosine_plot.getPlotItem().getAxis("left").setTicks([[(-1.0, "−1"), (0.0, "0"), (1.0, "1")]])
        self.cosine_plot.setXLink(self.norm_plot)
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.addWidget(self.norm_plot, 3)
        self.box.addWidget(self.cosine_plot, 2)
        self.cosine_curve = self.cosine_plot.plot(
            pen=pg.mkPen("#999999", width=1), symbol="o", symbolSize=4, symbolBrush="#999999"
        )
        self.second_curves: dict[str, pg.PlotDataItem] = {}
        self.first_curves: dict[str, pg.PlotDataItem] = {}
        self.clear()

    def resizeEvent(self, event) -> None:
        """Stacked when tall enough for both plots, side by side when short."""
        super().resizeEvent(event)
        stacked = self.height() >= STACK_FROM
        direction = QBoxLayout.Direction.TopToBottom if stacked else QBoxLayout.Direction.LeftToRight
        if self.box.direction() != direction:
            self.box.setDirection(direction)
            self.box.setStretch(0, 2 if stacked else 3)
            self.box.setStretch(1, 1 if stacked else 2)

    def clear(self) -> None:
        """Forget every measurement (a new training run)."""
        self.iterations: list[int] = []
        self.second: list[np.ndarray] = []
        self.first: list[np.ndarray] = []
        self.cosines: list[float] = []
        for curve in [*self.second_curves.values(), *self.first_curves.values()]:
            self.norm_plot.getPlotItem().legend.removeItem(curve)
            self.norm_plot.removeItem(curve)
        self.second_curves, self.first_curves = {}, {}
        self.cosine_curve.setData([], [])

    def add_measurement(
        self,
        iteration: int,
        labels: Sequence[str],
        second_order: np.ndarray,
        first_order: np.ndarray,
        cosine: float,
    ) -> None:
        """Append one measurement: per-layer norms (same order as `labels`) and the cosine."""
        self.add_measurements([(iteration, labels, second_order, first_order, cosine)])

    def add_measurements(self, rows: Sequence[tuple[int, Sequence[str], np.ndarray, np.ndarray, float]]) -> None:
        """Append measurements, each (iteration, labels, exact norms, first-order norms, cosine); redraw once."""
        for iteration, labels, second_order, first_order, cosine in rows:
            if list(labels) != list(self.second_curves):
                self._start_layers(labels)
            self.iterations.append(iteration)
            self.second.append(np.asarray(second_order, dtype=float))
            self.first.append(np.asarray(first_order, dtype=float))
            self.cosines.append(float(cosine))
        if not rows:
            return
        x = np.asarray(self.iterations, dtype=float)
        second, first = np.stack(self.second), np.stack(self.first)
        for i, label in enumerate(self.second_curves):
            self.second_curves[label].setData(x, np.maximum(second[:, i], 1e-12))
            self.first_curves[label].setData(x, np.maximum(first[:, i], 1e-12))
        self.cosine_curve.setData(x, np.asarray(self.cosines))

    def _start_layers(self, labels: Sequence[str]) -> None:
        """Forget what was measured and make one solid and one dashed curve per layer."""
        self.clear()
        for i, label in enumerate(labels):
            color = LAYER_COLORS[i % len(LAYER_COLORS)]
            self.second_curves[label] = self.norm_plot.plot(pen=pg.mkPen(color, width=1), name=label)
            dashed = pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine)
            self.first_curves[label] = self.norm_plot.plot(pen=dashed)
        self.norm_plot.getPlotItem().legend.setColumnCount(len(labels))
