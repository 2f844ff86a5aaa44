"""The insights panel: the five views that explain the MAML family, fed with diagnostics computed off the GUI thread.

Only the visible tab is computed (gradient flow comes from training snapshots instead); input changes mark
tabs stale. Computations run on the app's job runners (`gui/jobs.py`): one at a time, a request made meanwhile waits as
"the latest".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import check_points
from mamlviz.core.model import Params
from mamlviz.core.sinusoid import insights
from mamlviz.core.sinusoid.diagnostics import GradientFlow
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.views.feature_reuse import FeatureReuseView
from mamlviz.gui.views.gradient_flow import GradientFlowView
from mamlviz.gui.views.lr_sensitivity import LrSensitivityView
from mamlviz.gui.views.stability import StabilityView
from mamlviz.gui.views.task_map import TaskSpaceMapView

FLOW, REUSE, STABILITY, MAP, SENSITIVITY = "Gradient flow", "Feature reuse", "Stability", "Task map", "α sensitivity"
VIEWS: dict[str, type[QWidget]] = {
    FLOW: GradientFlowView,
    REUSE: FeatureReuseView,
    STABILITY: StabilityView,
    MAP: TaskSpaceMapView,
    SENSITIVITY: LrSensitivityView,
}
ON_DEMAND = (REUSE, STABILITY, MAP, SENSITIVITY)
"""Tabs computed when shown and stale (gradient flow is fed by training snapshots)."""
TOOLTIPS = {
    FLOW: "Per-layer meta-gradient norms of the model being trained, exact (solid) and first-order (dashed), "
    "and how well the first-order meta-gradient points the same way.",
    REUSE: "How much each layer moves while adapting to your support points: does MAML mostly reuse features "
    "and change the head, like ANIL?",
    STABILITY: "Meta-gradient norm as the number of inner steps grows: flat is stable, a steep rise is exploding.",
    MAP: "Post-adaptation MSE of one initialization for every task (amplitude, phase); click a cell to load it.",
    SENSITIVITY: "Mean post-adaptation MSE as a function of the inner learning rate α, per initialization.",
}


@dataclass(frozen=True)
class Inputs:
    """A snapshot of the panel's inputs, taken when a computation is requested."""

    inits: dict[str, Initialization]
    points: np.ndarray
    lr: float
    steps: int
    map_init: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _notes(comparison: insights.Comparison, *, diverged: bool = True) -> str:
    """'; diverged: x; skipped y (reason)' for the initializations without a (complete) measurement."""
    names = [name for name, v in comparison.values.items() if diverged and not np.isfinite(v).all()]
    notes = [f"diverged: {', '.join(names)}"] if names else []
    notes += [f"skipped {name} ({reason})" for name, reason in comparison.skipped.items()]
    return "".join(f"; {note}" for note in notes)


def _error(tab: str, exc: BaseException) -> str:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
    return f"{tab} could not be computed: {detail}."


class InsightsPanel(QWidget):
    """Tabs of family diagnostics on the playground's initializations, support points and adaptation settings."""

    task_chosen = Signal(float, float)
    """(amplitude, phase) of the task-map cell the user clicked."""
    started = Signal(str)
    """A computation for the tab of this title started."""
    computed = Signal(str)
    """A result, or a sentence saying why there is none, landed in the tab of this title (a result landing
    while newer inputs wait to be computed is shown meanwhile, so that frequent changes never starve a tab)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.map_init = QComboBox()
        self.map_init.setToolTip("The initialization whose task map is shown.")
        self.map_init.currentTextChanged.connect(lambda _: self._invalidate(MAP))
        self.tabs = QTabWidget()
        self.captions: dict[str, QLabel] = {}
        self.pages: dict[str, QVBoxLayout] = {}
        self.views: dict[str, QWidget] = {}
        """The views built so far: each is built when first shown or fed (the panel starts hidden, and its
        five plots took a third of the window's start-up time)."""
        for title in VIEWS:
            self._add_tab(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.inits: dict[str, Initialization] = {}
        self.points = np.zeros((0, 2))
        self.lr, self.steps = 0.01, 10
        self._shows: dict[str, Callable] = {
            REUSE: self._show_reuse,
            STABILITY: self._show_stability,
            MAP: self._show_map,
            SENSITIVITY: self._show_sensitivity,
        }
        self.versions = dict.fromkeys(ON_DEMAND, 0)
        self.shown = dict.fromkeys(ON_DEMAND, -1)
        self.runner = JobRunner(queue_latest=True)
        self.runner.started.connect(lambda job: self.started.emit(job.name))
        self.runner.finished.connect(self._on_finished)
        self.flow_runner = JobRunner(queue_latest=False)
        self.flow_runner.started.connect(lambda job: self.started.emit(job.name))
        self.flow_runner.finished.connect(self._on_flow)
        self.flow_run, self.flow_cfg, self.last_iteration = 0, None, None
        self.pending_flow: list[tuple] = []
        """Gradient-flow measurements made before the tab's view was built, handed to it when it is."""
        self.captions[FLOW].setText("Start training to see gradient flow.")
        self.tabs.currentChanged.connect(lambda _: self._refresh())

    def _add_tab(self, title: str) -> None:
        caption = QLabel()
        caption.setWordWrap(True)
        caption.setToolTip(TOOLTIPS[title])
        self.captions[title] = caption
        row = QHBoxLayout()
        row.addWidget(caption, 1)
        if title == MAP:
            row.addWidget(QLabel("Initialization:"))
            row.addWidget(self.map_init)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addLayout(row)
        self.pages[title] = layout
        index = self.tabs.addTab(page, title)
        self.tabs.setTabToolTip(index, TOOLTIPS[title])

    def _view(self, title: str) -> QWidget:
        """The view of a tab, built (and placed in its page) on first use."""
        if title not in self.views:
            view = self.views[title] = VIEWS[title]()
            self.pages[title].addWidget(view, 1)
            if title == MAP:
                view.task_selected.connect(self.task_chosen)
            if title == SENSITIVITY:
                view.set_reference(self.lr)
            if title == FLOW:
                view.add_measurements(self.pending_flow)
                self.pending_flow = []
        return self.views[title]

    @property
    def flow_view(self) -> GradientFlowView:
        return self._view(FLOW)

    @property
    def reuse_view(self) -> FeatureReuseView:
        return self._view(REUSE)

    @property
    def stability_view(self) -> StabilityView:
        return self._view(STABILITY)

    @property
    def map_view(self) -> TaskSpaceMapView:
        return self._view(MAP)

    @property
    def sensitivity_view(self) -> LrSensitivityView:
        return self._view(SENSITIVITY)

    # ---- inputs ---------------------------------------------------------------------------------------------------
    def set_initializations(self, inits: Mapping[str, Initialization]) -> None:
        """The initializations shown in the playground, by name."""
        if list(inits) == list(self.inits) and all(inits[k] is self.inits[k] for k in inits):
            return
        self.inits = dict(inits)
        chosen = self.map_init.currentText()
        self.map_init.blockSignals(True)
        self.map_init.clear()
        self.map_init.addItems(list(self.inits))
        fallback = "maml" if "maml" in self.inits else self.map_init.itemText(0)
        self.map_init.setCurrentText(chosen if chosen in self.inits else fallback)
        self.map_init.blockSignals(False)
        self._invalidate(*ON_DEMAND)

    def set_support(self, points: np.ndarray) -> None:
        """The playground's (K, 2) support points (x, y), used by the feature-reuse tab."""
        points = check_points(points)
        if not np.array_equal(points, self.points):
            self.points = points
            self._invalidate(REUSE)

    def set_adaptation(self, lr: float, steps: int) -> None:
        """The playground's step size α and number of steps."""
        changed = [REUSE, MAP] if (lr, steps) != (self.lr, self.steps) else []
        changed += [STABILITY] if lr != self.lr else []
        self.lr, self.steps = lr, steps
        if SENSITIVITY in self.views:
            self.sensitivity_view.set_reference(lr)
            self._sync_sensitivity_steps()
        self._invalidate(*changed)

    def add_training_snapshot(self, iteration: int, params: Params, cfg: TrainConfig) -> None:
        """Measure gradient flow of the θ being trained, unless the previous snapshot is still being measured."""
        if self.last_iteration is None or iteration <= self.last_iteration or cfg != self.flow_cfg:
            if FLOW in self.views:
                self.flow_view.clear()
            self.pending_flow = []
            self.flow_run, self.flow_cfg = self.flow_run + 1, cfg
        self.last_iteration = iteration
        theta = {k: v.detach().clone() for k, v in params.items()}
        self.flow_runner.submit(Job(FLOW, self.flow_run, lambda: insights.training_flow(theta, cfg), iteration))

    # ---- state ----------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Whether a computation is running or waiting."""
        return any(r.running is not None or r.waiting is not None for r in (self.runner, self.flow_runner))

    def show_tab(self, title: str) -> None:
        """Bring the tab of this title to the front (computing it if stale)."""
        self.tabs.setCurrentIndex([self.tabs.tabText(i) for i in range(self.tabs.count())].index(title))

    def stale(self, tab: str) -> bool:
        """Whether the tab shows something older than its inputs."""
        return self.shown[tab] != self.versions[tab]

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh()

    def _invalidate(self, *tabs: str) -> None:
        for tab in tabs:
            self.versions[tab] += 1
        self._refresh()

    def _refresh(self) -> None:
        """Build the visible tab's view; request its computation if it is stale and not already being computed."""
        tab = self.tabs.tabText(self.tabs.currentIndex())
        if self.isVisible():
            self._view(tab)
        if tab not in ON_DEMAND or not self.isVisible() or not self.stale(tab):
            return
        if self.runner.has(tab, self.versions[tab]):
            return
        missing = self._missing(tab)
        if missing:
            self.captions[tab].setText(missing)
            self.shown[tab] = self.versions[tab]
            self.computed.emit(tab)
            return
        self.captions[tab].setText("Computing…")
        inputs = Inputs(dict(self.inits), self.points.copy(), self.lr, self.steps, self.map_init.currentText())
        self.runner.submit(Job(tab, self.versions[tab], self._computation(tab, inputs), inputs))

    def _missing(self, tab: str) -> str | None:
        """What the tab lacks to compute anything, as a sentence."""
        if not self.inits:
            return "No initializations to compare: load or train one."
        if tab == REUSE and not len(self.points):
            return "Add support points in the playground to see which layers move during adaptation."
        return None

    @staticmethod
    def _computation(tab: str, inputs: Inputs) -> Callable[[], object]:
        """The tab's computation on these inputs."""
        if tab == REUSE:
            return lambda: insights.feature_reuse(inputs.inits, inputs.points, inputs.lr, inputs.steps)
        if tab == STABILITY:
            return lambda: insights.stability(inputs.inits, inputs.lr)
        if tab == MAP:
            return lambda: insights.task_map(inputs.inits[inputs.map_init], inputs.lr, inputs.steps)
        return lambda: insights.sensitivity(inputs.inits)

    # ---- results --------------------------------------------------------------------------------------------------
    def _on_finished(self, job: Job) -> None:
        self.shown[job.name] = job.version
        if isinstance(job.result, Exception):
            self.captions[job.name].setText(_error(job.name, job.result))
        else:
            self._shows[job.name](job.result, job.context)
        if self.runner.has(job.name, self.versions[job.name]):
            self.captions[job.name].setText(f"{self.captions[job.name].text()} (updating…)")
        self.computed.emit(job.name)
        self._refresh()

    def _show_reuse(self, result: tuple[list[str], insights.Comparison], inputs: Inputs) -> None:
        labels, comparison = result
        self.reuse_view.set_changes(labels, comparison.values)
        self.captions[REUSE].setText(
            f"‖Δw‖/‖w‖ per layer after {_plural(inputs.steps, 'step')} (α = {inputs.lr:g}) on your "
            f"{_plural(len(inputs.points), 'point')}{_notes(comparison)}"
        )

    def _show_stability(self, comparison: insights.Comparison, inputs: Inputs) -> None:
        self.stability_view.set_norms(comparison.values)
        self.captions[STABILITY].setText(
            f"‖meta-gradient‖ on {insights.STABILITY_TASKS} fixed tasks, K = {insights.SHOTS}, "
            f"α = {inputs.lr:g}, 1–{insights.STABILITY_STEPS} inner steps{_notes(comparison)}"
        )

    def _show_map(self, result: insights.TaskMap, inputs: Inputs) -> None:
        self.map_view.set_map(result.amplitudes, result.phases, result.mse)
        self.captions[MAP].setText(
            f"Median MSE of {insights.MAP_DRAWS} support draws after {_plural(inputs.steps, 'step')} "
            f"(α = {inputs.lr:g}, K = {insights.SHOTS}): "
            f"{np.nanmin(result.mse):.2g} to {np.nanmax(result.mse):.2g}. Click a cell to try that task."
        )

    def _show_sensitivity(self, comparison: insights.Comparison, _inputs: Inputs) -> None:
        self.sensitivity_view.set_sensitivity(insights.ALPHAS, comparison.values)
        self._sync_sensitivity_steps()
        self.captions[SENSITIVITY].setText(
            f"Mean MSE over {insights.SENSITIVITY_TASKS} tasks, K = {insights.SHOTS} (a gap: some task diverged); "
            f"dotted line: your α{_notes(comparison, diverged=False)}"
        )

    def _sync_sensitivity_steps(self) -> None:
        """Show the playground's step count in the α-sensitivity tab (when computed that far)."""
        self.sensitivity_view.steps.setValue(min(self.steps, self.sensitivity_view.steps.maximum()))

    def _on_flow(self, job: Job) -> None:
        if job.version != self.flow_run:
            return
        if isinstance(job.result, Exception):
            self.captions[FLOW].setText(_error(FLOW, job.result))
        else:
            self._show_flow(job.result, job.context)
        self.computed.emit(FLOW)

    def _show_flow(self, flow: GradientFlow, iteration: int) -> None:
        row = (iteration, flow.labels, flow.second_order, flow.first_order, flow.cosine)
        if FLOW in self.views:
            self.flow_view.add_measurement(*row)
        else:  # building the view while training runs would stall the window: it is built when first shown
            self.pending_flow.append(row)
        cfg = self.flow_cfg
        self.captions[FLOW].setText(
            f"Iteration {iteration}: cos(exact, first-order) = {flow.cosine:.2f} on {cfg.meta_batch} fixed tasks, "
            f"{_plural(cfg.inner_steps, 'inner step')}"
        )
