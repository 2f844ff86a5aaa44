"""MSE versus adaptation step for every model on the current task, with the paper's Table 2 markers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg

from mamlviz.core.sinusoid.playground import PAPER_TABLE2_5SHOT, ModelCurves
from mamlviz.gui.style import display_name, legend_below, model_color, model_pen, unindexed

PAPER_MAX = max(v for table in PAPER_TABLE2_5SHOT.values() for v in table.values())
DIVERGED_FACTOR = 10.0
"""A curve rising above this many times the typical MSE before adaptation (or the paper's largest) has diverged:
it is drawn clipped at the top, so that one such model does not flatten every other curve onto zero."""
EMPTY_TEXT = "Click to add support points: MSE after each step appears here"
NO_TRUTH_TEXT = "Set a true task to measure MSE"


def sane_ceiling(curves: Mapping[str, ModelCurves]) -> float:
    """The highest MSE worth showing: DIVERGED_FACTOR × the larger of the paper's largest value and the median
    MSE before adaptation (the median, so that one hostile initialization cannot raise it)."""
    before = [float(m.true_mse[0]) for m in curves.values() if m.true_mse is not None and np.isfinite(m.true_mse[0])]
    return DIVERGED_FACTOR * max(PAPER_MAX, float(np.median(before)) if before else 0.0)


class MseCurvePlot(pg.PlotWidget):
    """One line per model (MSE after 0..k steps) and hollow paper markers."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        unindexed(self)
        self.setMinimumHeight(160)  # title, axes, a two-row legend and a readable view
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
        self.message = pg.TextItem(NO_TRUTH_TEXT, color="#666666", anchor=(0.5, 0.5))
        self.message.setZValue(20)
        item.addItem(self.message, ignoreBounds=True)
        self.message.setPos(5, 1.5)
        self.diverged_note = pg.TextItem(
            "", color="#222222", anchor=(0.5, 0), fill=pg.mkBrush(255, 255, 255, 210), border=pg.mkPen("#999999")
        )
        self.diverged_note.setZValue(20)
        self.diverged_note.hide()
        item.addItem(self.diverged_note, ignoreBounds=True)

    def set_curves(self, curves: Mapping[str, ModelCurves]) -> None:
        item = self.getPlotItem()
        for name in list(self.lines):
            if name not in curves:
                line = self.lines.pop(name)
                self.legend.removeItem(line)
                item.removeItem(line)
        ceiling = sane_ceiling(curves)
        has_truth = any(model.true_mse is not None for model in curves.values())
        measured = has_truth and any(len(model.support_loss) for model in curves.values())  # any points
        y_max, steps, diverged = PAPER_MAX, 1, {}
        for name, model in curves.items():
            if name not in self.lines:
                self.lines[name] = pg.PlotCurveItem(pen=model_pen(name, "stepk"), name=display_name(name))
                item.addItem(self.lines[name])
            if model.true_mse is None or not measured:
                continue
            mse = np.asarray(model.true_mse, dtype=float)
            sane = np.isfinite(mse) & (mse <= ceiling)
            if not sane.all():  # the y-range is the sane curves'; this one leaves it at the top
                diverged[name] = mse
                sane = sane & (np.arange(len(mse)) == 0)
            if sane.any():
                y_max = max(y_max, float(mse[sane].max()))
            steps = max(steps, len(mse) - 1)
        if measured:
            self._fit_range(steps, min(y_max, ceiling))
        top = self.y_max
        for name, model in curves.items():
            line = self.lines[name]
            if model.true_mse is None or not measured:
                line.setData([], [])
                continue
            mse = np.asarray(model.true_mse, dtype=float)
            if name in diverged:  # drawn along the top edge from where it leaves the plot
                mse = np.where(np.isfinite(mse) & (mse <= top), mse, top)
            line.setData(np.arange(len(mse)), mse, connect="finite")
        self._note_diverged(diverged, top)
        self.message.setText(EMPTY_TEXT if has_truth else NO_TRUTH_TEXT)
        self.message.setVisible(not measured)
        (x0, x1), _ = item.viewRange()
        self.message.setPos((x0 + x1) / 2, self.y_max / 2 if self.y_max > 0 else 1.5)

    def _note_diverged(self, diverged: Mapping[str, np.ndarray], top: float) -> None:
        """One note under the top edge naming the models whose curves were clipped there."""
        names = [display_name(name) for name in diverged]
        self.diverged_note.setVisible(bool(names))
        if names:
            self.diverged_note.setText(f"diverged, clipped at the top: {', '.join(names)} (lower α)")
            (x0, x1), _ = self.getPlotItem().viewRange()
            self.diverged_note.setPos((x0 + x1) / 2, top)

    def _fit_range(self, steps: int, y_max: float) -> None:
        """Change the axes only when the data leaves them or shrinks a lot (a steady axis is easier to read)."""
        item = self.getPlotItem()
        (_, x1), _ = item.viewRange()
        if abs(x1 - (steps + 0.5)) > 1e-9:  # k steps: 0..k
            item.setXRange(-0.5, steps + 0.5, padding=0)
        if not (0.6 * self.y_max <= y_max * 1.1 <= self.y_max):
            self.y_max = y_max * 1.15
            item.setYRange(0, self.y_max, padding=0)
