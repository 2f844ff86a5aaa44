"""Inner-step stability: meta-gradient norm vs the number of inner steps 1…10, per initialization.

Wiring: off the GUI thread, `norms[name] = diagnostics.meta_gradient_norms(theta, batch, inner_loop, 10)`
for each shown init (batch: a fixed meta-batch, e.g. `sample_tasks(cfg.task, 25, default_generator(0))`),
then `view.set_norms(norms)`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from mamlviz.gui.views.palette import color, fit_legend_rows, label, plot_widget


class StabilityView(QWidget):
    """One line per initialization: ‖meta-gradient‖ (log) after 1, 2, ... inner steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot_widget("Meta-gradient norm vs inner steps", "inner steps", "‖∇θ L‖", "right")
        self.plot.getPlotItem().setLogMode(False, True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_norms(self, norms: Mapping[str, np.ndarray]) -> None:
        """`norms[name][s - 1]` is the meta-gradient norm with s inner steps; non-finite values leave gaps."""
        item = self.plot.getPlotItem()
        for curve in self.curves.values():
            item.legend.removeItem(curve)
            item.removeItem(curve)
        self.curves = {}
        for name, values in norms.items():
            y = np.asarray(values, dtype=float)
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            pen = pg.mkPen(color(name), width=2)
            self.curves[name] = item.plot(
                np.arange(1, len(y) + 1),
                y,
                pen=pen,
                symbol="o",
                symbolSize=5,
                symbolBrush=color(name),
                name=label(name),
                connect="finite",
            )
        fit_legend_rows(self.plot)
