"""Return vs adaptation steps: each ticked policy's mean return (± 95% interval over its trajectories) for this
goal, with the paper's values (Finn et al. 2017, Figure 4 / Table 4) as hollow markers beside them."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from mamlviz.core.nav2d.evaluation import PAPER
from mamlviz.gui.style import legend_below, unindexed

PAPER_SYMBOL = "d"


class ReturnPlot(pg.PlotWidget):
    """A view: `set_curves` draws what it is given; `points(name)` reads back what is drawn."""

    def __init__(self, steps: int, parent=None) -> None:
        super().__init__(parent, background="w")
        unindexed(self)
        self.steps = steps
        item = self.getPlotItem()
        item.setTitle("Return (this goal, ± 95%)", size="10pt")
        item.setLabel("bottom", "adaptation steps")
        item.setLabel("left", "return")
        item.hideButtons()
        item.setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(False, False)
        item.showGrid(x=False, y=True, alpha=0.2)
        item.getAxis("bottom").setTicks([[(s, str(s)) for s in range(steps + 1)]])
        item.setXRange(-0.25, steps + 0.3, padding=0)
        self.legend = legend_below(item, 1)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bars: dict[str, pg.ErrorBarItem] = {}
        self.paper: dict[str, pg.ScatterPlotItem] = {}
        self.setToolTip("Mean return of the sampled trajectories after each step; ◇: Finn et al. 2017 (Fig. 4).")
        self.cursor = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#BBBBBB", width=1, dash=[4, 4]))
        self.addItem(self.cursor)
        self.paper_key = pg.ScatterPlotItem(symbol=PAPER_SYMBOL, size=9, brush=None, pen=pg.mkPen("#555555"))
        self.legend.addItem(self.paper_key, "the paper's")

    def set_step(self, step: int) -> None:
        self.cursor.setValue(step)

    def set_curves(self, curves: dict[str, tuple[np.ndarray, QColor, str]]) -> None:
        """name -> ((steps + 1, n_traj) returns, colour, the `PAPER` key or '')."""
        for name in [n for n in self.curves if n not in curves]:
            self.removeItem(self.curves.pop(name))
            self.removeItem(self.bars.pop(name))
        x = np.arange(self.steps + 1, dtype=float)
        for name, (returns, color, _) in curves.items():
            mean = returns.mean(axis=1)
            ci = 1.96 * returns.std(axis=1) / np.sqrt(max(returns.shape[1], 1))
            if name not in self.curves:
                self.curves[name] = self.plot(symbol="o", symbolSize=7)  # the Policies list is the legend
                self.bars[name] = pg.ErrorBarItem(beam=0.06)
                self.addItem(self.bars[name])
            self.curves[name].setData(x, mean, pen=pg.mkPen(color, width=2), symbolBrush=color, symbolPen=color)
            self.bars[name].setData(x=x, y=mean, height=2 * ci, pen=pg.mkPen(color, width=1))
        self._paper_markers(curves)
        box = self.getPlotItem().getViewBox()
        box.enableAutoRange(axis=pg.ViewBox.YAxis)
        box.setXRange(-0.25, self.steps + 0.3, padding=0)

    def _paper_markers(self, curves: dict[str, tuple[np.ndarray, QColor, str]]) -> None:
        """The paper's values once per curve of it that a ticked policy stands beside."""
        wanted: dict[str, QColor] = {}
        for _, color, key in curves.values():
            if key in PAPER and key not in wanted:
                wanted[key] = color
        for key in [k for k in self.paper if k not in wanted]:
            self.removeItem(self.paper.pop(key))
        for key, color in wanted.items():
            values = PAPER[key]
            y = np.array([values[min(s, len(values) - 1)] for s in range(self.steps + 1)], dtype=float)
            if key not in self.paper:
                self.paper[key] = pg.ScatterPlotItem(symbol=PAPER_SYMBOL, size=11, brush=None)
                self.paper[key].setZValue(6)
                self.addItem(self.paper[key])
            self.paper[key].setData(np.arange(self.steps + 1) + 0.08, y, pen=pg.mkPen(color, width=1.5))

    def points(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The (steps, mean return) drawn for `name`."""
        return self.curves[name].getData()
