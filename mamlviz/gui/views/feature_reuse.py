"""Feature reuse or rapid learning: relative weight change of each layer during adaptation, per initialization.

Wiring: for each shown init and the current support set (a 1-task `TaskBatch`), `changes[name] =
diagnostics.weight_change(theta, batch, inner_loop, steps)` (off the GUI thread if slow), then
`view.set_changes(diagnostics.layer_labels(theta), changes)`; MAML beside ANIL answers "does only the head move?".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from mamlviz.gui.views.palette import color, plot_widget


class FeatureReuseView(QWidget):
    """Grouped bars: ‖φ_l − θ_l‖ / ‖θ_l‖ for each layer l (x) and each initialization (colour)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot_widget("Relative weight change during adaptation", "layer", "‖Δw‖ / ‖w‖")
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.changes: dict[str, np.ndarray] = {}

    def set_changes(self, labels: Sequence[str], changes: Mapping[str, np.ndarray]) -> None:
        """Show one bar group per layer (`labels`) with a bar per initialization name in `changes`."""
        item = self.plot.getPlotItem()
        for bar in self.bars.values():
            item.legend.removeItem(bar)
            item.removeItem(bar)
        self.bars, self.changes = {}, {name: np.asarray(v, dtype=float) for name, v in changes.items()}
        width = 0.8 / max(len(changes), 1)
        for i, (name, values) in enumerate(self.changes.items()):
            x = np.arange(len(labels)) - 0.4 + width * (i + 0.5)
            bar = pg.BarGraphItem(x=x, height=values, width=width * 0.9, brush=color(name), pen=None, name=name)
            item.addItem(bar)
            self.bars[name] = bar
        item.getAxis("bottom").setTicks([list(enumerate(labels))])
        item.setXRange(-0.6, len(labels) - 0.4, padding=0)
        item.legend.setColumnCount(max(len(changes), 1))
        heights = np.concatenate([[1e-12], *self.changes.values()])
        item.setYRange(0, 1.3 * heights[np.isfinite(heights)].max(), padding=0)  # room for the legend row
