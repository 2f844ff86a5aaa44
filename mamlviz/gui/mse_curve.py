"""MSE versus adaptation step for every model on the current task, with the paper's Table 2 markers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg

from mamlviz.core.playground import PAPER_TABLE2_5SHOT, ModelCurves
from mamlviz.gui.style import display_name, model_color, model_pen


class MseCurvePlot(pg.PlotWidget):
    """One line per model (MSE after 0..k steps, log scale) and hollow paper markers."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setTitle("Test-time MSE on the true task", size="10pt")
        item.setLabel("bottom", "SGD steps")
        item.setLabel("left", "MSE")
        item.setLogMode(False, True)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        item.hideButtons()
        self.legend = item.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.lines: dict[str, pg.PlotDataItem] = {}
        for name, table in PAPER_TABLE2_5SHOT.items():
            color = model_color(name)
            item.plot(
                list(table),
                list(table.values()),
                pen=None,
                symbol="star",
                symbolSize=13,
                symbolBrush=None,
                symbolPen=pg.mkPen(color, width=1.5),
                name=f"Paper {display_name(name)} (5-shot)",
            )
        self.message = pg.TextItem("Set a true task to measure MSE", color="#666666", anchor=(0.5, 0.5))
        item.addItem(self.message, ignoreBounds=True)
        self.message.setPos(5, 0)

    def set_curves(self, curves: Mapping[str, ModelCurves]) -> None:
        for name in list(self.lines):
            if name not in curves:
                line = self.lines.pop(name)
                self.legend.removeItem(line)
                self.getPlotItem().removeItem(line)
        measured = False
        for name, model in curves.items():
            if name not in self.lines:
                self.lines[name] = self.getPlotItem().plot(
                    pen=model_pen(name, "stepk"),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=model_color(name),
                    symbolPen=None,
                    name=display_name(name),
                )
            line = self.lines[name]
            if model.true_mse is None:
                line.setData([], [])
                continue
            measured = True
            mse = np.where(np.isfinite(model.true_mse), np.maximum(model.true_mse, 1e-6), np.nan)
            line.setData(np.arange(len(mse)), mse, connect="finite")
        self.message.setVisible(not measured)
