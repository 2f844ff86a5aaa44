"""MSE versus adaptation step for every model on the current task, with the paper's Table 2 markers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg

from mamlviz.core.sinusoid.playground import PAPER_TABLE2_5SHOT, ModelCurves
from mamlviz.gui.style import display_name, legend_below, model_color, model_pen, unindexed


class MseCurvePlot(pg.PlotWidget):
    """One line per model (MSE after 0..k steps) and hollow paper markers."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        unindexed(self)
        item = self.getPlotItem()
        item.setTitle("Test-time MSE on the true task", size="10pt")
        item.setLabel("bottom", "SGD steps")
        item.setLabel("left", "MSE")
        item.enableAutoRange(False)
        item.setXRange(-0.5, 10.5, padding=0)
        self.y_max = 0.0
        item.setMenuEnabled(False)
        item.hideButtons()
        self.legend = legend_below(item, 4)
        self.lines: dict[str, pg.PlotCurveItem] = {}
        for name, table in PAPER_TABLE2_5SHOT.items():
            color = model_color(name)
            stars = item.plot(
                list(table),
                list(table.values()),
                pen=None,
                symbol="star",
                symbolSize=13,
                symbolBrush=None,
                symbolPen=pg.mkPen(color, width=1.5),
                name=f"Paper {display_name(name)} (5-shot)",
            )
            stars.setDynamicRangeLimit(None)  # no re-render of the stars on every y-range change
        self.message = pg.TextItem("Set a true task to measure MSE", color="#666666", anchor=(0.5, 0.5))
        item.addItem(self.message, ignoreBounds=True)
        self.message.setPos(5, 1.5)

    def set_curves(self, curves: Mapping[str, ModelCurves]) -> None:
        for name in list(self.lines):
            if name not in curves:
                line = self.lines.pop(name)
                self.legend.removeItem(line)
                self.getPlotItem().removeItem(line)
        measured, y_max, steps = False, max(v for table in PAPER_TABLE2_5SHOT.values() for v in table.values()), 1
        for name, model in curves.items():
            if name not in self.lines:
                self.lines[name] = pg.PlotCurveItem(pen=model_pen(name, "stepk"), name=display_name(name))
                self.getPlotItem().addItem(self.lines[name])
            line = self.lines[name]
            if model.true_mse is None:
                line.setData([], [])
                continue
            measured = True
            mse = np.where(np.isfinite(model.true_mse), model.true_mse, np.nan)
            line.setData(np.arange(len(mse)), mse, connect="finite")
            y_max = max(y_max, float(np.nanmax(mse)) if np.isfinite(mse).any() else 0.0)
            steps = max(steps, len(mse) - 1)
        self.message.setVisible(not measured)
        self._fit_range(steps, y_max)

    def _fit_range(self, steps: int, y_max: float) -> None:
        """Change the axes only when the data leaves them or shrinks a lot (a steady axis is easier to read)."""
        item = self.getPlotItem()
        (_, x1), _ = item.viewRange()
        if abs(x1 - (steps + 0.5)) > 1e-9:
            item.setXRange(-0.5, steps + 0.5, padding=0)
        if not (0.6 * self.y_max <= y_max * 1.1 <= self.y_max):
            self.y_max = y_max * 1.15
            item.setYRange(0, self.y_max, padding=0)
