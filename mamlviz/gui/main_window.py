"""The main window: lays out the panels around the app state and wires them; the work lives elsewhere.

State: `gui/state.py`. Training: `gui/training.py`. Files: `gui/files.py`. Actions and menus: `gui/actions.py`.
Background work: `gui/jobs.py`. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QScrollArea, QTabWidget, QWidget

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import Truth
from mamlviz.core.errors import MamlvizError
from mamlviz.core.sinusoid.playground import random_truth, sample_points
from mamlviz.gui import shipped
from mamlviz.gui.actions import Actions
from mamlviz.gui.classification import ClassificationTab
from mamlviz.gui.collector import GuiThreadCollector
from mamlviz.gui.compare_table import ComparisonDialog
from mamlviz.gui.controls import ControlsPanel, scrolling
from mamlviz.gui.dialogs import ask_discard, ask_keep_trained, error_box
from mamlviz.gui.files import FileCommands
from mamlviz.gui.first_frame import AfterFirstFrame
from mamlviz.gui.insights import InsightsPanel
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.monitor import TrainingMonitor
from mamlviz.gui.playground_panel import DOMAIN as PLAYGROUND_DOMAIN
from mamlviz.gui.playground_panel import PlaygroundPanel
from mamlviz.gui.rl import RL_DOMAIN, RLTab
from mamlviz.gui.state import AppState
from mamlviz.gui.status import StatusLine
from mamlviz.gui.training import TrainingController

CLASSIFICATION_DOMAIN = "omniglot"


class MainWindow(QMainWindow):
    """The desktop explorer. `error_shown` lets tests and scripts wait on what the user is told."""

    error_shown = Signal(str)
    classification_loaded = Signal()

    def __init__(
        self, settings: QSettings | None = None, warm_up: Callable[[], None] | None = None, seed: int | None = None
    ) -> None:
        """`warm_up`: run on a job once the window shows (the app's torch warm-up); `seed`: the start-up task's."""
        super().__init__()
        self.setWindowTitle("mamlviz — MAML explorer")
        self.collector = GuiThreadCollector(self)
        self.collector.start()
        self.settings = settings if settings is not None else QSettings("mamlviz", "mamlviz")
        self.rng = np.random.default_rng(seed)
        self.ask_before_closing = True
        """Closing and Reset ask before trained, unkept initializations are lost (off for scripts and tests)."""
        self.requested_splits: frozenset[str] = frozenset()
        """The classifiers' splits the Classification tab's last load was asked to leave out."""
        self.last_error: QMessageBox | None = None
        self.state = AppState(self)
        self.controls, self.monitor, self.insights = ControlsPanel(), TrainingMonitor(), InsightsPanel()
        self.playground, self.classification = PlaygroundPanel(self.state), ClassificationTab()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.playground, "Sinusoid playground")
        classification_area = QScrollArea(widgetResizable=True)
        classification_area.setWidget(self.classification)
        self.classification_index = self.tabs.addTab(classification_area, "Classification (Omniglot)")
        self.tabs.setTabToolTip(self.classification_index, "Few-shot Omniglot: sampled tasks or your own drawings")
        self.domain_tabs = {PLAYGROUND_DOMAIN: 0, CLASSIFICATION_DOMAIN: self.classification_index}
        self.rl = RLTab()  # Reinforcement learning: fed the state's 2D navigation policies (`_wire`)
        self.domain_tabs[RL_DOMAIN] = self.tabs.addTab(self.rl, "Reinforcement learning (2D navigation)")
        self.domain_checks = {PLAYGROUND_DOMAIN: PlaygroundPanel.check_init}  # what a domain's tab refuses
        self.setCentralWidget(self.tabs)
        self.controls_dock = self._dock("Controls", scrolling(self.controls), Qt.DockWidgetArea.LeftDockWidgetArea)
        self.monitor_dock = self._dock("Training monitor", self.monitor, Qt.DockWidgetArea.RightDockWidgetArea)
        self.insights_dock = self._dock("Insights", self.insights, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.insights_dock.setToolTip("Why the MAML family differs: gradient flow, feature reuse, stability, α")
        self.insights_dock.hide()  # View ▸ Insights (Ctrl+I): the playground keeps the room until asked
        self.resizeDocks([self.controls_dock, self.monitor_dock], [300, 430], Qt.Orientation.Horizontal)
        self.status = StatusLine(self.statusBar())
        self.jobs = JobRunner(queue_latest=False, parent=self)
        self.jobs.finished.connect(self._on_job)
        self.training = TrainingController(self.state, self.monitor, self.status, self)
        self.files = FileCommands(self, self.settings, self.report)
        self.actions = Actions(self)
        self.actions.build_menus()
        self.actions.build_toolbar()
        self._wire()
        if self.settings.value("window_state") is not None:  # docks and toolbar as the user left them
            self.restoreState(self.settings.value("window_state"))
        inits, source = shipped.shipped_initializations()
        self.state.replace_inits(inits, source, shipped.DEFAULT_SHOWN, "maml")
        self.state.set_truth(random_truth(TrainConfig().task, self.rng))
        self.sample_points(undoable=False)
        self.warm_up_work = warm_up
        self.first_frame = AfterFirstFrame(self, self._fill_in_after_showing)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        state, controls, actions = self.state, self.controls, self.actions
        controls.task.truth_changed.connect(state.set_truth)
        controls.task.random_requested.connect(self.random_task)
        controls.task.sample_requested.connect(self.sample_points)
        controls.task.clear_requested.connect(lambda: state.set_points([]))
        adapt = controls.adapt
        adapt.changed.connect(
            lambda: state.set_adaptation(adapt.lr.value(), adapt.steps.value(), adapt.show_steps.isChecked())
        )
        state.truth_changed.connect(lambda: controls.task.set_truth(state.truth))
        state.adaptation_changed.connect(lambda: adapt.set_values(state.adaptation))
        state.problem.connect(lambda message: self.report("Support points refused", message))
        state.history_changed.connect(actions.update_history)
        state.inits_changed.connect(self._list_inits)
        state.shown_changed.connect(self._list_inits)
        state.unsaved_changed.connect(self._on_unsaved)
        controls.compare.changed.connect(self._on_ticks)
        controls.compare.list.currentItemChanged.connect(lambda *_: state.set_primary(controls.compare.current()))
        state.shown_changed.connect(lambda: self.insights.set_initializations(state.shown_of(PLAYGROUND_DOMAIN)))
        state.points_changed.connect(lambda: self.insights.set_support(state.points))
        state.adaptation_changed.connect(
            lambda: self.insights.set_adaptation(state.adaptation.lr, state.adaptation.steps)
        )
        state.inits_changed.connect(self._offer_classifiers)
        state.inits_changed.connect(lambda: self.rl.set_inits(state.inits_of(RL_DOMAIN)))
        self.insights.task_chosen.connect(self.choose_task)
        self.insights_dock.visibilityChanged.connect(self._size_insights)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.classification.setting_chosen.connect(self.load_classification)
        self.training.run_state_changed.connect(self._on_run_state)
        self.training.failed.connect(self.report)
        self.training.snapshot_taken.connect(self.insights.add_training_snapshot)
        self._on_run_state()

    # ---- what the panels show -------------------------------------------------------------------------------------
    def _list_inits(self) -> None:
        state = self.state
        rows = state.inits_of(PLAYGROUND_DOMAIN)
        self.controls.compare.set_entries(
            {name: shipped.init_tooltip(name, init) for name, init in rows.items()}, state.shown, state.primary
        )
        self.status.set_init(state.source)

    def _on_ticks(self) -> None:
        others = [name for name in self.state.shown if name not in self.state.inits_of(PLAYGROUND_DOMAIN)]
        self.state.set_shown([*self.controls.compare.shown(), *others])

    def _offer_classifiers(self) -> None:
        """Omniglot initializations of the state join the Classification tab (it keeps them across task settings).
        One meta-trained on characters that the tab's tasks may hold (another split) has the tab load its setting
        again, from the characters none of its learners trained on."""
        for name, init in self.state.inits_of(CLASSIFICATION_DOMAIN).items():
            self.classification.set_init(name, init.params, init.algorithm)
        self._leave_out_classifier_splits()

    def _leave_out_classifier_splits(self) -> None:
        """Load the tab's setting again if its tasks may hold characters a classifier of the state meta-trained on
        (once per set of splits: a load that failed says why in the tab, and is not repeated)."""
        demo = self.classification.demo
        left_out = set(getattr(demo.pool, "splits", ())) if demo is not None else set()  # empty: not known
        needed = frozenset(self._classifier_splits())
        if left_out and not needed <= left_out and needed != self.requested_splits:
            self.load_classification(self.classification.setting or shipped.DEFAULT_OMNIGLOT_SETTING)

    def _classifier_splits(self) -> list[str]:
        """The Omniglot splits the state's classifiers (trained here or opened) meta-trained on."""
        return [init.config.classification.split for init in self.state.inits_of(CLASSIFICATION_DOMAIN).values()]

    def _on_unsaved(self) -> None:
        trained = [n for n in self.state.inits_of(CLASSIFICATION_DOMAIN) if n in self.state.unsaved]
        self.actions.export_omniglot.setEnabled(bool(trained) or self.actions.export_omniglot.isEnabled())

    def _on_run_state(self) -> None:
        self.actions.update_run_state()
        self.controls.training.set_editable(not self.training.running and not self.training.building)

    def check_for_domain(self, init: Initialization, source: str) -> None:
        """Raise `CheckpointError` if the tab of the initialization's domain cannot show it."""
        check = self.domain_checks.get(init.config.domain)
        if check is not None:
            check(init, source)

    def show_domain(self, domain: str) -> None:
        """Bring the tab of `domain` to the front."""
        self.tabs.setCurrentIndex(self.domain_tabs.get(domain, 0))

    def _on_tab_changed(self, index: int) -> None:
        on_playground = index == self.domain_tabs[PLAYGROUND_DOMAIN]
        for group in (self.controls.task, self.controls.adapt, self.controls.compare):
            group.setVisible(on_playground)
        if index == self.classification_index and not self.jobs.busy:
            self.classification.set_settings(shipped.omniglot_settings())  # files may have been shipped since
            if self.classification.demo is None:
                self.load_classification(shipped.DEFAULT_OMNIGLOT_SETTING)

    def load_classification(self, setting: str) -> None:
        """Load the shipped learners of an Omniglot task setting ('20-way 1-shot') off the GUI thread; the tab
        says so meanwhile, and `classification_loaded` fires once it shows them."""
        also = self._classifier_splits()
        if self.jobs.run("omniglot demo", lambda: shipped.load_omniglot_demo(setting, also), setting):
            self.requested_splits = frozenset(also)
            self.classification.show_loading(setting)

    def _on_job(self, job: Job) -> None:
        if job.name == "omniglot demo" and job.failed:
            self.classification.loading_failed(job.context, job.sentence())
        elif job.name == "omniglot demo":
            self.classification.set_demo(job.result, job.context)
            self.classification_loaded.emit()
            self._leave_out_classifier_splits()  # a classifier that joined during the load

    def _size_insights(self, visible: bool) -> None:
        """A third of the window's height when the dock appears, so the playground stays the largest panel."""
        if visible and not self.insights_dock.isFloating():
            self.resizeDocks([self.insights_dock], [max(260, self.height() // 3)], Qt.Orientation.Vertical)

    def _fill_in_after_showing(self) -> None:
        """What the first frame need not wait for: the probe's shipped fits, the Omniglot folder of the shipped
        Omniglot init, then the warm-up."""
        if self.training.config is None:
            self.training.show_before_training()
        if not self.controls.training.data.text():
            self.controls.training.data.setText(shipped.shipped_omniglot_data())
        if self.warm_up_work is not None:
            self.training.warm_up(self.warm_up_work)
            self.warm_up_work = None

    # ---- playground commands ---------------------------------------------------------------------------------------
    def random_task(self) -> None:
        """A new true sinusoid with K fresh points on it."""
        self.state.set_truth(random_truth(TrainConfig().task, self.rng))
        self.sample_points()

    def choose_task(self, amplitude: float, phase: float) -> None:
        """Make (A, φ) the true task (a task-map click), with K fresh points on it."""
        self.state.set_truth(Truth(amplitude, phase))
        self.sample_points()
        self.show_domain(PLAYGROUND_DOMAIN)

    def sample_points(self, k: int | None = None, undoable: bool = True) -> None:
        truth = self.state.truth
        if truth is None:
            self.status.message("Sampling needs a ground truth: tick 'Ground truth sinusoid'.")
            return
        k = self.controls.task.shots.value() if k is None else k
        self.state.set_points(sample_points(truth, k, TrainConfig().task.x_range, self.rng), undoable=undoable)

    def compare_initializations(self) -> ComparisonDialog | None:
        """Open the comparison table of the ticked sinusoid initializations (evaluated on a job)."""
        inits = self.state.shown_of(PLAYGROUND_DOMAIN)
        if not inits:
            self.report("Nothing to compare", "Tick at least one initialization in the Initializations list.")
            return None
        self.comparison = ComparisonDialog(self)
        self.comparison.evaluate(inits)
        self.comparison.show()
        return self.comparison

    # ---- training -------------------------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Start a fresh run (or resume a paused one)."""
        try:
            config = self.controls.training.config()
        except MamlvizError as exc:
            self.report("Cannot start training", str(exc))
            return
        self.training.start(config, self.controls.training.device_name())

    def reset_training(self) -> bool:
        """Stop, clear the monitor and go back to the shipped initializations, keeping the ticks (asks first)."""
        lost = [name for name in self.state.unsaved if name in self.state.inits_of(PLAYGROUND_DOMAIN)]
        if lost and self.ask_before_closing and not ask_discard(self, lost):
            return False
        self.training.reset()
        state = self.state
        inits, source = shipped.shipped_initializations()
        kept = {n: i for n, i in state.inits.items() if n not in state.inits_of(PLAYGROUND_DOMAIN)}
        state.replace_inits({**inits, **kept}, source, [n for n in state.shown if n in inits or n in kept], "maml")
        self.training.show_before_training()
        return True

    # ---- messages -------------------------------------------------------------------------------------------------
    def report(self, title: str, message: str, details: str = "") -> None:
        """One sentence in a dialog (details behind a button) and in the status bar."""
        self.last_error = error_box(self, title, message, details)
        self.status.message(message, 8000)
        self.error_shown.emit(message)

    # ---- lifetime -------------------------------------------------------------------------------------------------
    def unsaved(self) -> list[str]:
        """Names of initializations trained in this window and neither exported nor saved in a session."""
        return sorted(self.state.unsaved)

    def _confirm_close(self) -> bool:
        """Offer to save a session when trained initializations would be lost; False: stay open."""
        if not self.ask_before_closing or not self.state.unsaved:
            return True
        sinusoid = [name for name in self.unsaved() if name in self.state.inits_of(PLAYGROUND_DOMAIN)]
        answer = ask_keep_trained(self, self.unsaved(), sinusoid)
        return self.files.save_session() if answer == QMessageBox.StandardButton.Save else answer is not None

    def closeEvent(self, event: QCloseEvent) -> None:
        """Pause training while asking to keep unkept initializations, then stop and join every thread."""
        was_running = self.training.pause()
        if not self._confirm_close():
            if was_running:
                self.training.toggle_pause()
            event.ignore()
            return
        self.training.shutdown()
        JobRunner.stop_all()  # a thread still inside torch when Python exits aborts the process
        self.settings.setValue("window_state", self.saveState())
        self.collector.stop()
        event.accept()
