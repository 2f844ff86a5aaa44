"""The Reinforcement learning tab: click a goal in the arena and watch each ticked policy adapt to it.

The tab owns its policies (the shipped ones, a seeded random initialization, and the 2D navigation
initializations of the app state, fed by the window through `set_inits`), which are ticked, the goal, the seed
and the step shown. Rollouts run on its `JobRunner(queue_latest=True)`: a drag submits a job per move, and only
the newest waiting one runs. Results are cached per policy for the goal, seed and trajectory count, so ticking a
policy computes only that one. `view_state` and `restore_view` carry what a session keeps of the tab (the goal,
the seed, the trajectories per step, the step shown and the ticked policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.sessions import RL_INTS, check_rl
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.rl.arena import ArenaPlot, clamp_goal
from mamlviz.gui.rl.policies import STEPS, Policy, Request, Rollouts, from_init, rollout_all, shipped_policies
from mamlviz.gui.rl.returns_plot import ReturnPlot
from mamlviz.gui.style import BASE_COLORS, model_color

JOB = "nav2d rollouts"
START_GOAL = (0.25, 0.35)
RANDOM_COLOR = "#7F7F7F"
START_TRAJECTORIES = 20


def policy_color(policy: Policy) -> QColor:
    """The algorithm's colour (random: grey); initializations of the state a darker shade of it."""
    color = QColor(RANDOM_COLOR) if policy.color == "random" else model_color(policy.color)
    return color.darker(150) if policy.from_state and policy.color in BASE_COLORS else color


def step_caption(step: int) -> str:
    return "before adaptation" if step == 0 else f"after {step} step{'s' if step > 1 else ''}"


class RLTab(QWidget):
    """See the module docstring. `updated`: what is drawn matches the goal, seed and ticks (tests wait on it);
    `failed(sentence)`: a policy could not be adapted."""

    updated = Signal()
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, policies: Mapping[str, Policy] | None = None) -> None:
        super().__init__(parent)
        self.policies: dict[str, Policy] = dict(shipped_policies() if policies is None else policies)
        self.from_state: set[str] = set()
        self.ticked: set[str] = set(self.policies)
        self.goal = START_GOAL
        self.cache: dict[str, tuple[Policy, Request, Rollouts | Exception]] = {}
        self.jobs = JobRunner(queue_latest=True, parent=self)
        self.jobs.finished.connect(self._on_job)
        self.version = 0

        self.arena = ArenaPlot()
        self.arena.set_goal(*self.goal)
        self.returns = ReturnPlot(STEPS)
        self.list = QListWidget()
        self.list.setToolTip("Tick the policies to adapt to the goal (trained here or opened ones join the list).")
        self.list.setMaximumHeight(110)
        self.seed = QSpinBox()
        self.seed.setRange(*RL_INTS["seed"])
        self.seed.setToolTip("Seed of the sampled trajectories: the same seed draws the same paths.")
        self.resample = QPushButton("Resample")
        self.resample.setToolTip("Draw new trajectories (the next seed).")
        self.trajectories = QSpinBox()
        self.trajectories.setRange(*RL_INTS["trajectories"])
        self.trajectories.setValue(START_TRAJECTORIES)
        self.trajectories.setToolTip("Trajectories sampled per step: the inner step's batch (the paper: 20 to 40).")
        self.step = QSlider(Qt.Orientation.Horizontal)
        self.step.setRange(0, STEPS)
        self.step.setValue(STEPS)
        self.step.setToolTip("Which trajectories the arena shows: before adaptation or after 1, 2, 3 steps.")
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(120)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self._layout()
        self.arena.goal_requested.connect(self.set_goal)
        self.list.itemChanged.connect(self._on_tick)
        self.seed.valueChanged.connect(self.refresh)
        self.trajectories.valueChanged.connect(self.refresh)
        self.resample.clicked.connect(lambda: self.seed.setValue(self.seed.value() + 1))
        self.step.valueChanged.connect(self._on_step)
        self._fill_list()
        self._on_step(self.step.value())

    def _layout(self) -> None:
        settings = QGroupBox("Trajectories")
        form = QFormLayout(settings)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.resample)
        form.addRow("Seed", seed_row)
        form.addRow("Per step", self.trajectories)
        step_row = QHBoxLayout()
        step_row.addWidget(self.step, 1)
        step_row.addWidget(self.step_label)
        form.addRow("Show", step_row)
        policies = QGroupBox("Policies")
        QVBoxLayout(policies).addWidget(self.list)
        side = QWidget()
        side.setMinimumWidth(250)
        side.setMaximumWidth(340)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(policies)
        column.addWidget(settings)
        column.addWidget(self.returns, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.arena)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

    # ---- intents ----------------------------------------------------------------------------------------------
    def set_goal(self, x: float, y: float) -> None:
        goal = clamp_goal(x, y)
        if goal != self.goal:
            self.goal = goal
            self.arena.set_goal(*goal)
            self.refresh()

    def set_inits(self, inits: Mapping[str, Initialization]) -> None:
        """The state's 2D navigation initializations join the list (new ones ticked); gone ones leave it."""
        changed = False
        for name in [n for n in self.from_state if n not in inits]:
            self.from_state.discard(name)
            self.policies.pop(name, None)
            self.cache.pop(name, None)
            self.ticked.discard(name)
            changed = True
        for name, init in inits.items():
            known = self.policies.get(name)
            if known is None or known.origin is not init:
                if known is None or name not in self.from_state:
                    self.ticked.add(name)
                self.policies[name] = from_init(init, from_state=True)
                self.from_state.add(name)
                changed = True
        if changed:
            self._fill_list()
            self.refresh()

    def view_state(self) -> dict[str, Any]:
        """What a session keeps of the tab (`sessions.check_rl` reads it back)."""
        return {
            "goal": [float(self.goal[0]), float(self.goal[1])],
            "seed": self.seed.value(),
            "trajectories": self.trajectories.value(),
            "step": self.step.value(),
            "ticked": self.shown_names(),
        }

    def restore_view(self, view: Mapping[str, Any]) -> None:
        """Back to a session's view; what it lacks (an older session: all of it) takes the tab's defaults. Ticked
        names of policies this window does not have are ignored. `sessions.check_rl` checks it (a `SessionError`
        names a value that cannot be valid; a goal outside the square is clamped onto it)."""
        view = check_rl(dict(view))
        goal = view.get("goal", START_GOAL)
        ticked = set(view.get("ticked", self.policies))
        self.ticked = {name for name in self.policies if name in ticked}
        self._fill_list()
        widgets = ((self.seed, "seed", 0), (self.trajectories, "trajectories", START_TRAJECTORIES))
        for widget, key, default in (*widgets, (self.step, "step", STEPS)):
            widget.blockSignals(True)
            widget.setValue(int(view.get(key, default)))  # the widget clamps to its range
            widget.blockSignals(False)
        self.goal = clamp_goal(*goal)
        self.arena.set_goal(*self.goal)
        self._on_step(self.step.value())
        self.refresh()

    def request(self) -> Request:
        return Request(self.goal, self.seed.value(), self.trajectories.value())

    def refresh(self) -> None:
        """Draw what is cached for the goal, and compute the ticked policies that are not (only while shown)."""
        self._draw()
        request = self.request()
        missing = {name: p for name, p in self._shown().items() if not self._cached(name, p, request)}
        if not missing:
            self.updated.emit()
            return
        if not self.isVisible():
            return  # computed when the tab is first shown
        self.version += 1
        self.status.setStyleSheet("color: #555;")
        self.status.setText(f"Adapting {len(missing)} polic{'ies' if len(missing) > 1 else 'y'} to the goal…")
        work = lambda: rollout_all(missing, request, self.jobs.cancelled)  # noqa: E731
        self.jobs.submit(Job(JOB, self.version, work, (request, missing)))

    # ---- results ----------------------------------------------------------------------------------------------
    def _shown(self) -> dict[str, Policy]:
        return {name: policy for name, policy in self.policies.items() if name in self.ticked}

    def _cached(self, name: str, policy: Policy, request: Request) -> bool:
        entry = self.cache.get(name)
        return entry is not None and entry[0] is policy and entry[1] == request

    def _on_job(self, job: Job) -> None:
        job_request, missing = job.context
        request = self.request()
        if job.failed:
            self._fail(f"The trajectories could not be computed: {job.sentence()}")
            return
        results, errors = job.result
        for name, policy in missing.items():
            outcome = results.get(name, errors.get(name))
            if outcome is not None:
                self.cache[name] = (policy, job_request, outcome)
        if self.jobs.busy:
            self._draw()  # a newer goal is on its way: show these meanwhile
            return
        if self._all_cached(request):
            self._say_outcome()
        self.refresh()  # computes what the goal, seed or ticks changed to meanwhile

    def _say_outcome(self) -> None:
        bad = {n: entry[2] for n, entry in self.cache.items() if isinstance(entry[2], Exception) and n in self.ticked}
        if bad:
            name, exc = next(iter(bad.items()))
            first = (str(exc).strip().splitlines() or [""])[0].strip().rstrip(".") or type(exc).__name__
            self._fail(f"{name} could not be adapted: {first}.")
        else:
            self.status.setStyleSheet("color: #555;")
            self.status.setText(self._caption())

    def _all_cached(self, request: Request) -> bool:
        return all(self._cached(name, p, request) for name, p in self._shown().items())

    def _fail(self, sentence: str) -> None:
        self.status.setStyleSheet("color: #B00020;")
        self.status.setText(sentence)
        self.failed.emit(sentence)

    def _caption(self) -> str:
        x, y = self.goal
        request = self.request()
        return (
            f"Goal ({x:+.2f}, {y:+.2f}), seed {request.seed}, {request.n_traj} trajectories a step, "
            f"α {request.lrs[0]} then {request.lrs[-1]}; faint: sampled paths, thick: their mean."
        )

    def rollouts(self, name: str) -> Rollouts | None:
        """What is drawn for `name` (None if nothing is, or its adaptation failed)."""
        entry = self.cache.get(name)
        return entry[2] if entry is not None and isinstance(entry[2], Rollouts) else None

    def _draw(self) -> None:
        step = self.step.value()
        paths, curves = {}, {}
        for name, policy in self._shown().items():
            rollouts = self.rollouts(name)
            if rollouts is None or self.cache[name][0] is not policy:
                continue
            color = policy_color(policy)
            paths[name] = (rollouts.paths[step], color)
            curves[name] = (rollouts.returns, color, policy.paper)
        self.arena.set_paths(paths)
        self.returns.set_curves(curves)

    # ---- widgets ----------------------------------------------------------------------------------------------
    def _fill_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for name, policy in self.policies.items():
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in self.ticked else Qt.CheckState.Unchecked)
            item.setForeground(policy_color(policy))
            self.list.addItem(item)
        self.list.blockSignals(False)

    def _on_tick(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked:
            self.ticked.add(item.text())
        else:
            self.ticked.discard(item.text())
        self.refresh()

    def _on_step(self, step: int) -> None:
        self.step_label.setText(step_caption(step))
        self.returns.set_step(step)
        self._draw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def shown_names(self) -> list[str]:
        """The ticked policies, in list order."""
        return [name for name in self.policies if name in self.ticked]

    def mean_returns(self) -> dict[str, np.ndarray]:
        return {name: r.mean_return for name in self.shown_names() if (r := self.rollouts(name)) is not None}
