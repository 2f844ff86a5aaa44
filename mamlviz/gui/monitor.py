"""The training monitor: live loss curves, a domain's optimizer figures, and probe fits with a history scrubber.

A domain whose learner reports more per-iteration figures than its losses (2D navigation's TRPO: the KL of the
accepted step, the line search's backtracking steps) registers a `MetricPanel` here under its registry name
(`register_panel`; the built-in ones are imported on first use, like `core.registry`'s domains). The monitor shows
the panel whose figures a run's chunks carry, below the losses, and hides it for any other run.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QSplitter, QVBoxLayout, QWidget

from mamlviz.core import registry
from mamlviz.core.config import SETTING_LIMITS
from mamlviz.core.sinusoid.playground import Probe
from mamlviz.gui.style import (
    POINT_BRUSH,
    display_name,
    legend_below,
    model_color,
    model_pen,
    truth_pen,
    unindexed,
)
from mamlviz.gui.worker import TrainingChunk

MAX_HISTORY = 400


class GrowingSeries:
    """An (x, y) series in doubling numpy buffers: appends are amortised O(1), no point is dropped."""

    def __init__(self) -> None:
        self.x = np.empty(1024)
        self.y = np.empty(1024)
        self.n = 0

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        needed = self.n + len(x)
        if needed > len(self.x):
            size = max(needed, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n : needed] = x
        self.y[self.n : needed] = y
        self.n = needed

    def window(self, last_n: int) -> tuple[np.ndarray, np.ndarray]:
        """The data, or only the points of the last `last_n` iterations (0: everything)."""
        x, y = self.x[: self.n], self.y[: self.n]
        if last_n and self.n:
            start = np.searchsorted(x, x[-1] - last_n, side="right")
            x, y = x[start:], y[start:]
        return x, y


def loss_label(key: str) -> str:
    """'maml/pre' -> 'MAML before adapt.', 'maml/K5/step10' -> 'val MAML K=5, 10 steps', 'maml/5w1s/step3' ->
    'val MAML 5w1s accuracy, 3 steps' (short: legends are narrow)."""
    parts = key.split("/")
    name = display_name(parts[0])
    if len(parts) == 3:
        steps = int(parts[2].removeprefix("step"))
        task = f"K={parts[1].removeprefix('K')}" if parts[1].startswith("K") else f"{parts[1]} accuracy"
        task = "−return" if parts[1] == "return" else task  # 2D navigation: validation returns, drawn negated
        return f"val {name} {task}, {steps} step{'s' if steps != 1 else ''}"
    if len(parts) == 2:
        return f"{name} {'before' if parts[1] == 'pre' else 'after'} adapt."
    return name


def robust_range(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """A y-range from the 1st–99.5th percentiles, so a few outliers do not flatten the curves."""
    values = values[np.isfinite(values)]
    if log:
        values = np.log10(values[values > 0])
    if not len(values):
        return None
    low, high = np.percentile(values, [1.0, 99.5])
    margin = max(high - low, 1e-3) * 0.08
    return float(low - margin), float(high + margin)


SINUSOID_KEY = "validation MSE (fixed tasks): ● K=5, ▲ K=10; dashed 1 step, solid 10 steps"
CLASSIFICATION_KEY = "▲ validation accuracy on fixed meta-test tasks (0 to 1, same axis)"
RL_KEY = "▲ validation −return (fixed goals): solid before adaptation, dashed after 1 step"
NOT_LOSSES = ("kl", "line_search", "return", "return_pre", "return_post")
"""2D navigation's chunk metrics that are not drawn: TRPO's figures and the returns (their negatives are the loss)."""


EMPTY_HINT = "Training ▸ Start (F5) meta-trains here:\nlosses and validation appear live"
EMPTY_RANGE = ((0.0, 1.0), (0.0, 1.0))
"""The view of a plot with no data (log-y: 1 to 10), the hint in its middle."""
Z_ORDER = {"pre": 4, "post": 3, "pretrained": 2}
"""Which loss trace lies on top: MAML before adaptation above the noisy pretrained trace, which lies lowest."""


class CompactLogAxis(pg.AxisItem):
    """A log axis that labels only as many values per decade as fit (pyqtgraph labels 1…9 in every decade, and on
    a short plot '6', '7', '8', '9' ran into each other)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        per_decade = size / max(maxVal - minVal, 1e-9)
        steps = ((500, range(1, 10)), (150, (1, 2, 3, 5)), (60, (1, 2, 5)), (0, (1,)))  # pixels per decade: labels
        keep = next(labels for least, labels in steps if per_decade >= least)
        allowed = np.log10(np.array(keep, dtype=float))
        out = []
        for spacing, values in ticks:
            if spacing is None:
                values = [v for v in values if np.isclose(allowed, v - np.floor(v), atol=1e-6).any()]
            out.append((spacing, values))
        return out


class LossPlot(QWidget):
    """Meta-train losses per iteration (pen width 1) and periodic validation MSE, log-y and a window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_y = QCheckBox("log y")
        self.log_y.setChecked(True)
        self.log_y.setToolTip("Logarithmic loss axis.")
        self.last_n = QSpinBox()
        self.last_n.setRange(*SETTING_LIMITS["last_n"])
        self.last_n.setSingleStep(1000)
        self.last_n.setSpecialValueText("all")
        self.last_n.setPrefix("last ")
        self.last_n.setSuffix(" it")
        self.last_n.setToolTip("Show only the last N iterations (0 = all).")
        self.plot = unindexed(pg.PlotWidget(axisItems={"left": CompactLogAxis("left")}))
        item = self.plot.getPlotItem()
        item.setTitle("Meta-training loss (query MSE)", size="10pt")
        item.setLabel("bottom", "iteration")
        item.setLabel("left", "MSE")
        item.setLogMode(False, True)
        item.enableAutoRange(False)
        item.hideButtons()
        self.legend = legend_below(item, 2)
        self.key = QLabel(SINUSOID_KEY)
        self.key.setStyleSheet("color: #444; font-size: 8pt;")
        self.key.setWordWrap(True)  # else its one long line sets the dock's minimum width (413 px)
        self.series: dict[str, GrowingSeries] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.y_range: tuple[float, float] | None = None
        self.x_range = (0.0, 0.0)
        self._dirty: set[str] = set()
        self._next_redraw = 0.0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self.flush)
        self.total = 0
        """Planned number of iterations (the x-axis never needs to go further)."""
        self.markers = pg.ScatterPlotItem(size=6, pen=None)
        self.markers.setZValue(6)
        self.plot.addItem(self.markers)
        self.hint = pg.TextItem(EMPTY_HINT, color="#666666", anchor=(0.5, 0.5))
        item.addItem(self.hint, ignoreBounds=True)
        self._show_empty()
        top = QHBoxLayout()
        top.addWidget(self.log_y)
        top.addWidget(self.last_n)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot)
        layout.addWidget(self.key)
        self.log_y.toggled.connect(self._set_log)
        self.last_n.valueChanged.connect(self._set_window)

    def _set_log(self, log: bool) -> None:
        self.plot.getPlotItem().setLogMode(False, log)
        self.y_range = None
        self.redraw(None)

    def _set_window(self) -> None:
        self.x_range = (0.0, 0.0)
        self.redraw()

    def _curve(self, key: str) -> pg.PlotDataItem:
        """The line of a series, created on first use (no antialiasing: several times cheaper on noisy data)."""
        if key not in self.curves:
            name = key.split("/")[0]
            if key.count("/") == 2:
                style = Qt.PenStyle.DashLine if key.endswith("step1") else Qt.PenStyle.SolidLine
                curve = self.plot.plot(pen=pg.mkPen(model_color(name), width=1, style=style), antialias=False)
                curve.setZValue(5)
            else:
                color = model_color(name).lighter(150) if key.endswith("/pre") else model_color(name)
                if "/" not in key:
                    color.setAlpha(170)  # a baseline's noisy trace lets what lies under it show through
                curve = self.plot.plot(pen=pg.mkPen(color, width=1), name=loss_label(key), antialias=False)
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                curve.setZValue(Z_ORDER.get(key.split("/")[-1] if "/" in key else "pretrained", 2))
            curve.setDynamicRangeLimit(None)  # no re-plot when only the y-range changes
            self.curves[key] = curve
            self.series[key] = GrowingSeries()
        return self.curves[key]

    def _update_markers(self, last_n: int) -> None:
        """All validation markers in one scatter item (● K=5, ▲ K=10), far cheaper to paint than one per series."""
        spots = []
        for key, series in self.series.items():
            if key.count("/") == 2:
                x, y = series.window(last_n)
                if self.log_y.isChecked():  # a bare scatter item does not follow the plot's log mode
                    with np.errstate(divide="ignore", invalid="ignore"):
                        y = np.log10(y)
                symbol = "o" if "/K5/" in key else "t"
                brush = pg.mkBrush(model_color(key.split("/")[0]))
                spots += [{"pos": (a, b), "symbol": symbol, "brush": brush} for a, b in zip(x, y, strict=True)]
        self.markers.setData(spots)

    def append(self, chunk: TrainingChunk) -> None:
        """Store every point now; redraw now, or later if redrawing would take over 10% of the GUI thread."""
        changed = set(chunk.losses)
        self.hint.hide()
        for key, values in chunk.losses.items():
            if key.rsplit("/", 1)[-1] in NOT_LOSSES and self.key.text() != RL_KEY:  # 2D navigation: loss = −return
                self.plot.getPlotItem().setTitle("Meta-training loss (−return)", size="10pt")
                self.plot.getPlotItem().setLabel("left", "−return")
                self.key.setText(RL_KEY)
            if key.rsplit("/", 1)[-1] in NOT_LOSSES:
                continue
            self._curve(key)
            self.series[key].append(chunk.iterations, values)
        for iteration, metrics in chunk.validation:
            changed.update(metrics)
            for key, value in metrics.items():
                self._curve(key)
                self.series[key].append(np.array([iteration]), np.array([-value if "/return/" in key else value]))
        self._dirty |= changed
        now = time.perf_counter()
        if now >= self._next_redraw:
            self.flush()
        elif not self._later.isActive():
            self._later.start(min(int(1000 * (self._next_redraw - now)) + 1, 2000))

    def flush(self) -> None:
        """Redraw what changed; long series (slow redraws) are redrawn less often, never dropped."""
        self._later.stop()
        start = time.perf_counter()
        self.redraw(self._dirty)
        self._dirty = set()
        self._next_redraw = time.perf_counter() + 9 * (time.perf_counter() - start)

    def redraw(self, changed: set[str] | None = None) -> None:
        """Update the curves whose data changed (all when `changed` is None) and fit the axes robustly."""
        last_n, log = self.last_n.value(), self.log_y.isChecked()
        visible, x_max, x_min = [], 0.0, np.inf
        for key, curve in self.curves.items():
            x, y = self.series[key].window(last_n)
            if changed is None or key in changed:
                curve.setData(x, y)
            if len(x):
                x_min, x_max = min(x_min, x[0]), max(x_max, x[-1])
                visible.append(y[:: max(1, len(y) // 4000)])
        if changed is None or any(key.count("/") == 2 for key in changed):
            self._update_markers(last_n)
        if not visible:
            return
        item = self.plot.getPlotItem()
        if last_n:
            x_range = (max(x_max - last_n, 0), max(x_max, 1))
        else:  # grow in steps (x1.5, at most to the planned total) rather than every chunk: far fewer re-layouts
            x_range = (min(x_min, 0), self.x_range[1])
            if x_max > x_range[1] or x_range[1] <= x_range[0]:
                x_range = (x_range[0], max(min(self.total, 1.5 * x_max), x_max, 10))
        if x_range != self.x_range:
            self.x_range = x_range
            item.setXRange(*x_range, padding=0.02)
        y_range = robust_range(np.concatenate(visible), log)
        if y_range is not None and self._differs(y_range):
            self.y_range = y_range
            item.setYRange(*y_range, padding=0)

    def _differs(self, y_range: tuple[float, float]) -> bool:
        """Move the y-axis only for changes above 8% of its span (steadier, and far fewer re-layouts)."""
        if self.y_range is None:
            return True
        span = self.y_range[1] - self.y_range[0]
        return max(abs(a - b) for a, b in zip(y_range, self.y_range, strict=True)) > 0.08 * span

    def clear(self, total: int = 0, classification: bool = False) -> None:
        """Empty the plot for a run of `total` iterations (classification: cross-entropy and accuracy)."""
        self.total = total
        loss = "cross-entropy" if classification else "MSE"
        self.plot.getPlotItem().setTitle(f"Meta-training loss (query {loss})", size="10pt")
        self.plot.getPlotItem().setLabel("left", loss)
        self.key.setText(CLASSIFICATION_KEY if classification else SINUSOID_KEY)
        self._later.stop()
        self._dirty = set()
        self.x_range = (0.0, 0.0)
        for curve in self.curves.values():
            self.legend.removeItem(curve)
            self.plot.removeItem(curve)
        self.curves.clear()
        self.series.clear()
        self.markers.clear()
        self.y_range = None
        self._show_empty()

    def _show_empty(self) -> None:
        """The view of a plot that has not trained: the first axes, the hint whole in their middle."""
        item = self.plot.getPlotItem()
        (x0, x1), (y0, y1) = EMPTY_RANGE
        item.setXRange(x0, x1, padding=0)
        item.setYRange(y0, y1, padding=0)
        self.hint.setPos((x0 + x1) / 2, (y0 + y1) / 2)  # view coordinates, log-y included
        self.hint.show()

    def table(self) -> tuple[list[str], np.ndarray]:
        """Every loss series as columns (iteration first; NaN where a series has no value)."""
        keys = list(self.series)
        iterations = np.unique(np.concatenate([self.series[k].x[: self.series[k].n] for k in keys])) if keys else []
        columns = [np.asarray(iterations, dtype=float)]
        for key in keys:
            series = self.series[key]
            column = np.full(len(iterations), np.nan)
            column[np.searchsorted(iterations, series.x[: series.n])] = series.y[: series.n]
            columns.append(column)
        return ["iteration", *keys], np.column_stack(columns) if keys else np.zeros((0, 1))


class ProbePlot(QWidget):
    """A fixed probe task: each learner's fit before, after 1 and after S steps; a slider scrubs history."""

    STAGES = ("before", "step1", "stepk")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = unindexed(pg.PlotWidget())
        item = self.plot.getPlotItem()
        item.setTitle("Probe task fit (live)", size="10pt")
        item.setMenuEnabled(False)
        item.hideButtons()
        self.legend = legend_below(item, 2)
        self.truth = item.plot(pen=truth_pen(), name="True function")
        self.points = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(POINT_BRUSH), pen=pg.mkPen("#222222"))
        self.points.setZValue(10)
        item.addItem(self.points)
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {}
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub back through the probe fits of earlier iterations; far right follows live.")
        self.label = QLabel("no training yet")
        self.label.setMinimumWidth(130)
        row = QHBoxLayout()
        row.addWidget(QLabel("history"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addLayout(row)
        self.probe: Probe | None = None
        self.steps = 1
        self.history: list[tuple[int, dict[str, np.ndarray], str]] = []
        self.slider.valueChanged.connect(self.show_entry)

    def reset(self, probe: Probe | None, steps: int, names: Sequence[str] = ()) -> None:
        """A new run: its probe task, or None (classification: its adaptation shows in the Classification tab),
        and the learners it trains, whose curves are made now (made while training, they stalled the window)."""
        self.probe, self.steps = probe, steps
        self.history.clear()
        self.slider.setRange(0, 0)
        self.label.setText("iteration 0" if probe is not None else "no probe task")
        self.plot.getPlotItem().setTitle(
            "Probe task fit (live)" if probe is not None else "No probe task: see the Classification tab", size="10pt"
        )
        if probe is None:
            self.truth.clear()
            self.points.clear()
        else:
            self.truth.setData(probe.grid, probe.truth(probe.grid))
            self.points.setData(probe.points[:, 0], probe.points[:, 1])
        for stages in self.curves.values():  # a new run may train other learners: their legend rows go too
            for curve in stages.values():
                self.plot.removeItem(curve)
        self.curves.clear()
        if probe is not None:
            for name in names:
                self._curves_for(name)

    def _curves_for(self, name: str) -> dict[str, pg.PlotDataItem]:
        """The θ, 1-step and k-step curves of a learner, made on first use."""
        if name not in self.curves:
            label = display_name(name)
            texts = (f"{label} θ", f"{label} 1 step", f"{label} {self.steps} steps")
            self.curves[name] = {
                stage: self.plot.plot(pen=model_pen(name, stage), name=text)
                for stage, text in zip(self.STAGES, texts, strict=True)
            }
        return self.curves[name]

    def add(self, iteration: int, fits: dict[str, np.ndarray], caption: str = "") -> None:
        """A probe fit at `iteration`; `caption` replaces the iteration in the label (e.g. before training)."""
        follow = self.slider.value() == self.slider.maximum()
        self.history.append((iteration, fits, caption))
        if len(self.history) > MAX_HISTORY:
            self.history = self.history[::2]
        self.slider.blockSignals(True)
        self.slider.setMaximum(len(self.history) - 1)
        if follow:
            self.slider.setValue(len(self.history) - 1)
        self.slider.blockSignals(False)
        if follow:
            self.show_entry(len(self.history) - 1)

    def show_entry(self, index: int) -> None:
        if not self.history or self.probe is None:
            return
        iteration, fits, caption = self.history[index]
        live = " (live)" if index == len(self.history) - 1 else ""
        self.label.setText(caption or f"iteration {iteration:,}{live}")
        for name, rows in fits.items():
            curves = self._curves_for(name)
            for stage, row in zip(self.STAGES, rows, strict=True):
                curves[stage].setData(self.probe.grid, row)


@dataclass(frozen=True)
class MetricPlot:
    """One small plot of a `MetricPanel`: the figure '{learner}/{metric}' of each learner, per iteration."""

    metric: str
    """The last part of the chunk's key, e.g. 'kl' for 'maml/kl'."""
    title: str
    axis: str
    """The y-axis label, with its unit."""
    tooltip: str
    bound: float | None = None
    """A dashed horizontal line (e.g. TRPO's KL limit), kept in view; None: none."""
    bound_label: str = ""
    labels: dict[float, str] = field(default_factory=dict)
    """Tick labels of special values (e.g. −1: 'none'), always kept in view."""
    integer: bool = False
    """Whole-number figures: ticks only at whole numbers."""


@dataclass(frozen=True)
class MetricPanel:
    """A domain's per-iteration optimizer figures, shown under the losses while a run of that domain reports them."""

    domain: str
    """The `core.registry` name of the domain whose learners report these figures."""
    caption: str
    plots: tuple[MetricPlot, ...]

    def matches(self, keys: Sequence[str]) -> bool:
        """Whether a chunk with these loss keys reports any of the panel's figures."""
        metrics = {plot.metric for plot in self.plots}
        return any(key.count("/") == 1 and key.split("/")[1] in metrics for key in keys)


PANELS: dict[str, MetricPanel] = {}
PANEL_MODULES = {"nav2d": "mamlviz.gui.rl.trpo_panel"}
"""Domain name -> the GUI module that registers its panel (imported on first use)."""


def register_panel(panel: MetricPanel) -> None:
    """Show `panel` for the runs of its domain (a registered `core.registry` domain)."""
    registry.get(panel.domain)  # a ConfigError for a domain that does not exist
    PANELS[panel.domain] = panel


def panel_for(keys: Sequence[str]) -> MetricPanel | None:
    """The registered panel whose figures a chunk with these loss keys reports (None: no panel for this run)."""
    for module in PANEL_MODULES.values():
        importlib.import_module(module)
    return next((panel for panel in PANELS.values() if panel.matches(keys)), None)


class LabelledAxis(pg.AxisItem):
    """A y-axis that names special values (−1: 'none') and, for whole-number figures, ticks whole numbers only."""

    def __init__(self, labels: dict[float, str], integer: bool) -> None:
        super().__init__("left")
        self.labels, self.integer = labels, integer

    def tickValues(self, minVal, maxVal, size):
        ticks = super().tickValues(minVal, maxVal, size)
        if self.integer:
            ticks = [(max(spacing, 1.0), [v for v in values if float(v).is_integer()]) for spacing, values in ticks]
        return ticks

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        return [self.labels.get(float(v), s) for v, s in zip(values, strings, strict=True)]


class MetricsView(QWidget):
    """The plots of one `MetricPanel` (hidden while no run reports figures for one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel: MetricPanel | None = None
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #444; font-size: 8pt;")
        self.caption.setWordWrap(True)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        """'{learner}/{metric}' -> its curve."""
        self.series: dict[str, GrowingSeries] = {}
        self.total = 0
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._layout.addWidget(self.caption)
        self.hide()

    def clear(self, total: int = 0) -> None:
        """No panel: a new run (its first chunk says whether it reports figures for one)."""
        self.total = total
        for plot in self.plots.values():
            self._layout.removeWidget(plot)
            plot.deleteLater()
        self.plots.clear()
        self.curves.clear()
        self.series.clear()
        self.panel = None
        self.hide()

    def _show_panel(self, panel: MetricPanel) -> None:
        self.panel = panel
        self.caption.setText(panel.caption)
        first: pg.PlotItem | None = None
        for index, spec in enumerate(panel.plots):
            plot = unindexed(pg.PlotWidget(axisItems={"left": LabelledAxis(spec.labels, spec.integer)}))
            item = plot.getPlotItem()
            item.setTitle(spec.title, size="9pt")
            item.setLabel("left", spec.axis)
            if index == len(panel.plots) - 1:
                item.setLabel("bottom", "iteration")  # the plots share their x-axis: named once, at the bottom
            item.getAxis("left").enableAutoSIPrefix(False)
            item.getAxis("left").setWidth(62)  # the same width in every plot, so their x-axes line up
            item.hideButtons()
            item.setMenuEnabled(False)
            item.getViewBox().setMouseEnabled(False, False)
            item.showGrid(x=False, y=True, alpha=0.2)
            plot.setMinimumHeight(110)
            plot.setToolTip(spec.tooltip)
            if first is None:
                first = item
                legend_below(item, 2)  # one legend for the panel: the learners' colours, and the bound
            else:
                item.setXLink(first)
            if spec.bound is not None:
                pen = pg.mkPen("#B00020", width=1, style=Qt.PenStyle.DashLine)
                line = pg.InfiniteLine(spec.bound, angle=0, pen=pen)
                item.addItem(line)
                if item.legend is not None:
                    item.legend.addItem(pg.PlotDataItem(pen=pen), spec.bound_label)
            self.plots[spec.metric] = plot
            self._layout.addWidget(plot, 1)
        self.show()

    def append(self, chunk: TrainingChunk) -> None:
        if self.panel is None:
            panel = panel_for(list(chunk.losses))
            if panel is None:
                return
            self._show_panel(panel)
        changed = set()
        for key, values in chunk.losses.items():
            if key.count("/") != 1 or key.split("/")[1] not in self.plots:
                continue
            if key not in self.curves:
                learner, metric = key.split("/")
                color = model_color(learner)
                self.curves[key] = self.plots[metric].plot(
                    pen=pg.mkPen(color, width=1.5),
                    symbol="o",
                    symbolSize=4,
                    symbolPen=None,
                    symbolBrush=color,
                )
                legend = self.plots[self.panel.plots[0].metric].getPlotItem().legend
                if legend is not None and display_name(learner) not in [label.text for _, label in legend.items]:
                    legend.addItem(self.curves[key], display_name(learner))
                self.series[key] = GrowingSeries()
            self.series[key].append(chunk.iterations, values)
            changed.add(key)
        for key in changed:
            self.curves[key].setData(*self.series[key].window(0))
        self._fit()

    def _fit(self) -> None:
        """x from 0 to the planned total (or the last iteration); y over the data, the bound and special values."""
        for spec in self.panel.plots if self.panel else ():
            keys = [k for k in self.series if k.endswith(f"/{spec.metric}")]
            ys = [self.series[k].window(0)[1] for k in keys]
            values = np.concatenate([*ys, [0.0]])
            values = values[np.isfinite(values)]
            last = max((self.series[k].window(0)[0][-1] for k in keys if self.series[k].n), default=1.0)
            extra = [v for v in (spec.bound, *spec.labels) if v is not None]
            low, high = min(values.min(), *extra), max(values.max(), *extra)
            margin = max(high - low, 1.0 if spec.integer else 1e-6) * 0.12
            item = self.plots[spec.metric].getPlotItem()
            item.setXRange(0, max(min(self.total, 1.5 * last) if self.total else last, last, 1), padding=0.02)
            item.setYRange(low - margin, high + margin, padding=0)

    def values(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The (iterations, values) drawn for '{learner}/{metric}', for tests and scripts."""
        return self.curves[key].getData()


class TrainingMonitor(QWidget):
    """Loss curves above, a domain's optimizer figures (`MetricsView`) and probe fits below, in a splitter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.losses = LossPlot()
        self.metrics = MetricsView()
        self.probe = ProbePlot()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.losses)
        splitter.addWidget(self.metrics)
        splitter.addWidget(self.probe)
        splitter.setSizes([450, 350, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def reset(self, probe: Probe | None, steps: int, total: int, names: Sequence[str] = ()) -> None:
        """A new run of the learners `names`; without a probe (classification) the plots speak of cross-entropy
        and accuracy."""
        self.losses.clear(total, classification=probe is None)
        self.metrics.clear(total)
        self.probe.setVisible(probe is not None)
        self.probe.reset(probe, steps, names)

    def append(self, chunk: TrainingChunk) -> None:
        if len(chunk.iterations) or chunk.validation:
            self.losses.append(chunk)
        if len(chunk.iterations):
            self.metrics.append(chunk)
        if chunk.probe is not None:
            self.probe.add(chunk.iteration, chunk.probe)

    def finish(self) -> None:
        """The run ended: draw what is still buffered."""
        self.losses.flush()

    def clear(self) -> None:
        """Back to the empty state of a window that has not trained."""
        self.losses.clear()
        self.metrics.clear()
