"""The main window: Controls dock, Playground (centre), Training monitor dock, menus, toolbar, status bar."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from mamlviz.core.algorithms import InnerLoop, inner_loop_for
from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.device import describe, resolve_device
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.fewshot_demo import FewShotDemo
from mamlviz.core.model import init_params
from mamlviz.core.playground import Truth, make_probe, probe_fit, random_truth, sample_points
from mamlviz.core.sessions import Session, load_session, save_session
from mamlviz.core.tasks import default_generator
from mamlviz.core.train import Trainer
from mamlviz.gui.classification import ClassificationTab
from mamlviz.gui.collector import GuiThreadCollector
from mamlviz.gui.compare_table import ComparisonDialog
from mamlviz.gui.controls import PRESETS, ControlsPanel
from mamlviz.gui.dialogs import about_box, error_box
from mamlviz.gui.insights import InsightsPanel
from mamlviz.gui.monitor import TrainingMonitor
from mamlviz.gui.playground_panel import GRID, PlaygroundPanel
from mamlviz.gui.style import display_name
from mamlviz.gui.worker import TrainingChunk, TrainingWorker
from mamlviz.progress import format_duration
from mamlviz.resources import (
    SHIPPED_FAMILY,
    SHIPPED_MAML,
    SHIPPED_OMNIGLOT_MAML,
    SHIPPED_OMNIGLOT_PRETRAINED,
    SHIPPED_PRETRAINED,
    resource_path,
)

INIT_FILTER = "Initializations (*.safetensors *.pt);;All files (*)"
SESSION_FILTER = "mamlviz sessions (*.json);;All files (*)"
MAX_RECENT = 8
STOP_WAIT_MS = 1000
DEFAULT_SHOWN = ("maml", "pretrained")


def shipped_initializations() -> tuple[dict[str, Initialization], str]:
    """The shipped MAML and pretrained initializations (seeded random ones, with a note, if missing), then the
    shipped family inits that adapt from points alone (the oracle, which needs the task's parameters, is left out)."""
    try:
        inits = {
            name: load_initialization(resource_path(file))
            for name, file in (("maml", SHIPPED_MAML), ("pretrained", SHIPPED_PRETRAINED))
        }
        source = "shipped"
    except (FileNotFoundError, CheckpointError):
        config = TrainConfig()
        params = init_params(config.model, default_generator(0))
        inits = {name: Initialization(params, config, name) for name in ("maml", "pretrained")}
        source = "random (no shipped files)"
    for file in SHIPPED_FAMILY:
        name = file.removesuffix("_sinusoid.safetensors").replace("mamlpp", "maml++")
        try:
            init = load_initialization(resource_path(file))
        except (FileNotFoundError, CheckpointError):
            continue
        if init.algorithm != "oracle":
            inits[name] = init
    return inits, source


def shipped_omniglot_data() -> str:
    """The Omniglot folder the shipped Omniglot init was trained on, if it exists on this machine, else ''."""
    try:
        data = load_initialization(resource_path(SHIPPED_OMNIGLOT_MAML)).config.classification.data
    except (FileNotFoundError, MamlvizError):
        return ""
    return data if data and Path(data).is_dir() else ""


def playground_loop(init: Initialization) -> InnerLoop:
    """How an initialization adapts in the playground (α itself comes from the slider)."""
    return inner_loop_for(init.config, init.inner_lrs, algo=init.algorithm)


def init_tooltip(name: str, init: Initialization) -> str:
    """Algorithm, training length and, when stored, the 5-shot evaluation after 1 / 5 / 10 steps."""
    text = f"{display_name(name)}: {init.algorithm}, {init.iterations:,} meta-iterations"
    mse = init.metrics.get("eval_K5", {}).get("mse") if isinstance(init.metrics.get("eval_K5"), dict) else None
    if mse and len(mse) > 10:
        text += f"\n5-shot MSE after 1 / 5 / 10 steps: {mse[1]:.2f} / {mse[5]:.2f} / {mse[10]:.2f}"
    if init.inner_lrs:
        text += "\nAdapts with its learned step sizes."
    if init.algorithm == "anil":
        text += "\nAdapts only the last layer."
    return text


class AfterFirstFrame(QObject):
    """Calls `callback` once, on the event loop's turn after `widget` has painted its first frame, or a second
    after it was shown if no paint came (a window shown minimized).

    (A zero timer set before the window shows fires *before* that first paint.)"""

    FALLBACK_MS = 1000

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self.widget = widget
        self.callback: Callable[[], None] | None = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:  # the window itself is painted first, then its children
            QTimer.singleShot(0, self._fire)
        elif event.type() == QEvent.Type.Show:
            QTimer.singleShot(self.FALLBACK_MS, self._fire)
        return False

    def _fire(self) -> None:
        if self.callback is not None:
            callback, self.callback = self.callback, None
            self.widget.removeEventFilter(self)
            callback()


class MainWindow(QMainWindow):
    """The desktop explorer. Relay signals let tests and scripts wait on what the worker does."""

    training_started = Signal()
    training_finished = Signal()
    chunk_received = Signal(object)
    error_shown = Signal(str)
    trainer_built = Signal(object)
    """A Trainer built off the GUI thread (Omniglot), or the error that prevented it."""
    classification_loaded = Signal(object)
    """A FewShotDemo (or the MamlvizError that prevented it), loaded off the GUI thread."""

    def __init__(self, settings: QSettings | None = None, warm_up: Callable[[], None] | None = None) -> None:
        """`warm_up`: run on a background thread once the window shows (the app's torch warm-up)."""
        super().__init__()
        self.collector = GuiThreadCollector(self)
        self.collector.start()
        self.setWindowTitle("mamlviz — MAML explorer")
        self.settings = settings if settings is not None else QSettings("mamlviz", "mamlviz")
        self.rng = np.random.default_rng(0)
        self.worker: TrainingWorker | None = None
        self.trainer: Trainer | None = None
        self.last_error: QMessageBox | None = None
        self.train_start = 0.0
        self.trainer_loader: threading.Thread | None = None
        self.unsaved_names: set[str] = set()
        self.ask_before_closing = True
        """Closing asks before trained, unexported initializations are lost (off for scripts and tests)."""
        self.omniglot_trained: dict[str, Initialization] = {}
        """Omniglot initializations trained in this app (they live in the Classification tab, not the playground)."""
        self.warm_up_target = warm_up
        self.warm_up: threading.Thread | None = None
        """The background warm-up, once started; training waits for it."""
        self.controls = ControlsPanel()
        self.playground = PlaygroundPanel()
        self.monitor = TrainingMonitor()
        self.classification = ClassificationTab()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.playground, "Sinusoid playground")
        classification_area = QScrollArea()
        classification_area.setWidget(self.classification)
        classification_area.setWidgetResizable(True)
        self.classification_index = self.tabs.addTab(classification_area, "Classification (Omniglot)")
        self.tabs.setTabToolTip(self.classification_index, "Few-shot Omniglot: sampled tasks or your own drawings")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.classification_loaded.connect(self._on_classification_loaded)
        self.trainer_built.connect(self._on_trainer_built)
        self.classification_loader: threading.Thread | None = None
        self.setCentralWidget(self.tabs)
        self.controls_dock = self._dock(
            "Controls", self._scrolling(self.controls), Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.monitor_dock = self._dock("Training monitor", self.monitor, Qt.DockWidgetArea.RightDockWidgetArea)
        self.insights = InsightsPanel()
        self.insights_dock = self._dock("Insights", self.insights, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.insights_dock.setToolTip(
            "Why the MAML family differs: gradient flow, feature reuse, stability, task map, α"
        )
        self.insights_dock.hide()  # View ▸ Insights (Ctrl+I): the playground keeps the room until asked
        self.insights_dock.visibilityChanged.connect(self._size_insights)
        self.resizeDocks([self.controls_dock, self.monitor_dock], [300, 430], Qt.Orientation.Horizontal)
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._wire()
        if self.settings.value("window_state") is not None:  # docks and toolbar as the user left them
            self.restoreState(self.settings.value("window_state"))
        self.inits, source = shipped_initializations()
        self.primary = "maml"
        """The meta-learned initialization exported by default: the one trained or opened last."""
        self._update_run_state()
        truth = self.controls.task.truth()
        self.playground.truth = truth
        self.playground.points = sample_points(truth, 5, (-5.0, 5.0), self.rng)
        self._use_inits(source, shown=DEFAULT_SHOWN)
        self.first_frame = AfterFirstFrame(self, self._fill_in_after_showing)

    def _fill_in_after_showing(self) -> None:
        """What the first frame need not wait for: the probe's shipped fits (unless a run has started), the
        Omniglot folder the shipped Omniglot init was trained on, then the warm-up thread."""
        if self.trainer is None:
            self._show_probe_before_training()
        if not self.controls.training.data.text():
            self.controls.training.data.setText(shipped_omniglot_data())
        if self.warm_up_target is not None and self.warm_up is None:
            self.warm_up = threading.Thread(target=self.warm_up_target, name="warm-up", daemon=True)
            self.warm_up.start()

    def _show_probe_before_training(self) -> None:
        """The probe plot is never empty: before any run it shows the shipped MAML and pretrained fits."""
        config, steps = TrainConfig(), 10
        probe = make_probe(config.task, 5)
        self.monitor.probe.reset(probe, steps)
        fits = {
            name: probe_fit(self.inits[name].params, probe, config.inner_lr, steps)
            for name in DEFAULT_SHOWN
            if name in self.inits
        }
        self.monitor.probe.add(0, fits, caption="shipped, before training")

    def _size_insights(self, visible: bool) -> None:
        """A third of the window's height when the dock appears, so the playground stays the largest panel."""
        if visible and not self.insights_dock.isFloating():
            self.resizeDocks([self.insights_dock], [max(260, self.height() // 3)], Qt.Orientation.Vertical)

    # ---- classification tab ---------------------------------------------------------------------------------------
    def _on_tab_changed(self, index: int) -> None:
        if (
            index == self.classification_index
            and self.classification_loader is None
            and self.classification.demo is None
        ):
            self.classification.status.setText("Loading the shipped Omniglot initialization and meta-test alphabets…")
            self.classification_loader = threading.Thread(target=self._load_classification, daemon=True)
            self.classification_loader.start()

    def _load_classification(self) -> None:
        """Worker thread: the shipped Omniglot init, with its stored data folder when that still exists."""
        try:
            data = shipped_omniglot_data()
            self.classification_loaded.emit(
                FewShotDemo.from_files(
                    {
                        "MAML": resource_path(SHIPPED_OMNIGLOT_MAML),
                        "pretrained": resource_path(SHIPPED_OMNIGLOT_PRETRAINED),
                    },
                    data or None,
                )
            )
        except (MamlvizError, OSError) as exc:
            self.classification_loaded.emit(exc)

    def _on_classification_loaded(self, result: object) -> None:
        if isinstance(result, FewShotDemo):
            self.classification.set_demo(result)
            for name, init in self.omniglot_trained.items():
                self.classification.set_init(f"{display_name(name)} (trained here)", init.params)
        else:
            self.classification.status.setText(f"The Omniglot demo could not be loaded: {result}")

    # ---- layout -------------------------------------------------------------------------------------------------
    @staticmethod
    def _scrolling(widget) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4)
        return area

    def _dock(self, title: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.status_labels = {key: QLabel() for key in ("device", "iteration", "rate", "eta", "loss", "init")}
        for label in self.status_labels.values():
            self.statusBar().addPermanentWidget(label)
        self.status_labels["device"].setText(f"Device: {describe(resolve_device('cpu'))}")
        self.status_labels["iteration"].setText("it 0 / 0")

    def _action(
        self, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        tip = tip or text.rstrip("…")
        action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut is not None else tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_init_action = a(
            "Open initialization…",
            lambda: self.open_initialization(),
            QKeySequence.StandardKey.Open,
            "Load a .safetensors initialization into the playground",
        )
        self.export_init_action = a(
            "Export initialization…",
            lambda: self.export_initialization(),
            "Ctrl+E",
            "Save the meta-learned initialization as .safetensors",
        )
        self.export_baseline_action = a(
            "Export baseline initialization…",
            lambda: self.export_initialization("pretrained"),
            "Ctrl+Shift+E",
            "Save the pretrained baseline initialization as .safetensors",
        )
        self.export_omniglot_action = a(
            "Export trained Omniglot initialization…",
            lambda: self.export_omniglot(),
            None,
            "Save the Omniglot initialization meta-trained in this app as .safetensors",
        )
        self.export_omniglot_action.setEnabled(False)
        self.save_session_action = a(
            "Save session…",
            lambda: self.save_session(),
            QKeySequence.StandardKey.Save,
            "Save settings, task, points and initializations to a JSON session",
        )
        self.open_session_action = a(
            "Open session…", lambda: self.open_session(), "Ctrl+Shift+O", "Restore a saved session"
        )
        self.quit_action = a("Quit", self.close, QKeySequence.StandardKey.Quit, "Quit mamlviz")
        self.start_action = a(
            "Start",
            self.start_training,
            "F5",
            "Meta-train the chosen algorithm and the pretrained baseline side by side",
        )
        self.pause_action = a("Pause", self.toggle_pause, "Space", "Pause or resume training")
        self.stop_action = a("Stop", self.stop_training, "Shift+F5", "Stop training and keep what was learned")
        self.reset_action = a(
            "Reset",
            self.reset_training,
            "Ctrl+Shift+R",
            "Stop, clear the monitor and go back to the shipped initializations",
        )
        self.random_action = a("Random task", self.random_task, "R", "Draw a new true sinusoid")
        self.sample_action = a(
            "Sample K points",
            lambda: self.sample_points(self.controls.task.shots.value()),
            "S",
            "Replace the points by K samples of the true curve",
        )
        self.clear_action = a(
            "Clear points", lambda: self.playground.set_points([]), "Ctrl+Shift+Backspace", "Remove every support point"
        )
        self.undo_action = a(
            "Undo point edit", self.playground.undo, QKeySequence.StandardKey.Undo, "Take back the last point edit"
        )
        self.redo_action = a(
            "Redo point edit", self.playground.redo, QKeySequence.StandardKey.Redo, "Redo the point edit taken back"
        )
        self.compare_action = a(
            "Compare ticked initializations…",
            lambda: self.compare_initializations(),
            "Ctrl+T",
            "Evaluate the ticked initializations on 600 tasks (K = 5 and 10), as `mamlviz eval` does",
        )
        self.about_action = a("About mamlviz", lambda: self._about(), None, "Versions and device")
        for action in (self.random_action, self.sample_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.playground.addAction(action)
            self.removeAction(action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions(
            [self.open_init_action, self.export_init_action, self.export_baseline_action, self.export_omniglot_action]
        )
        file_menu.addSeparator()
        file_menu.addActions([self.open_session_action, self.save_session_action])
        self.recent_menu = file_menu.addMenu("Open recent")
        self._rebuild_recent()
        file_menu.addSeparator()
        png = file_menu.addMenu("Export plot as PNG")
        csv = file_menu.addMenu("Export data as CSV")
        for key, label in self.plot_targets().items():
            png.addAction(label, lambda k=key: self.export_png(k))
        for key, label in (
            ("playground", "Playground curves"),
            ("test-time", "Test-time MSE"),
            ("losses", "Loss history"),
        ):
            csv.addAction(label, lambda k=key: self.export_csv(k))
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        training = bar.addMenu("&Training")
        training.addActions([self.start_action, self.pause_action, self.stop_action, self.reset_action])
        presets = training.addMenu("Presets")
        for name in PRESETS:
            presets.addAction(name, lambda n=name: self.controls.training.apply_preset(n))
        playground = bar.addMenu("&Playground")
        playground.addActions([self.undo_action, self.redo_action])
        playground.addSeparator()
        playground.addActions([self.random_action, self.sample_action, self.clear_action])
        playground.addSeparator()
        playground.addAction(self.compare_action)
        view = bar.addMenu("&View")
        view.addAction(self.controls_dock.toggleViewAction())
        view.addAction(self.monitor_dock.toggleViewAction())
        self.insights_action = insights_toggle = self.insights_dock.toggleViewAction()
        insights_toggle.setShortcut(QKeySequence("Ctrl+I"))
        insights_toggle.setToolTip(
            "Show the Insights panel: gradient flow, feature reuse, stability, task map, α (Ctrl+I)"
        )
        view.addAction(insights_toggle)
        view.addSeparator()
        self.log_y_action = view.addAction("Log-scale loss axis")
        self.log_y_action.setCheckable(True)
        self.log_y_action.setChecked(True)
        self.log_y_action.toggled.connect(self.monitor.losses.log_y.setChecked)
        self.monitor.losses.log_y.toggled.connect(self.log_y_action.setChecked)
        self.ghost_action = view.addAction("Faint curve after every step")
        self.ghost_action.setCheckable(True)
        self.ghost_action.toggled.connect(self.controls.adapt.show_steps.setChecked)
        self.controls.adapt.show_steps.toggled.connect(self.ghost_action.setChecked)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.addActions([self.start_action, self.pause_action, self.stop_action, self.reset_action])
        toolbar.addSeparator()
        toolbar.addActions([self.random_action, self.sample_action, self.clear_action])
        toolbar.addSeparator()
        toolbar.addActions([self.open_init_action, self.export_init_action])
        toolbar.addSeparator()
        toolbar.addActions([self.compare_action, self.insights_action])

    def _wire(self) -> None:
        task, adapt = self.controls.task, self.controls.adapt
        task.truth_changed.connect(self.playground.set_truth)
        task.random_requested.connect(self.random_task)
        task.sample_requested.connect(self.sample_points)
        task.clear_requested.connect(lambda: self.playground.set_points([]))
        adapt.changed.connect(
            lambda: self.playground.set_adaptation(adapt.lr.value(), adapt.steps.value(), adapt.show_steps.isChecked())
        )
        self.playground.problem.connect(lambda message: self.show_error("Support points refused", message))
        self.playground.history_changed.connect(self._update_history_actions)
        self._update_history_actions()
        self.controls.compare.changed.connect(self._show_ticked)
        self.playground.updated.connect(lambda: self.insights.set_support(self.playground.points))
        adapt.changed.connect(lambda: self.insights.set_adaptation(adapt.lr.value(), adapt.steps.value()))
        self.insights.task_chosen.connect(self.choose_task)

    # ---- playground ---------------------------------------------------------------------------------------------
    def random_task(self) -> None:
        truth = random_truth(TrainConfig().task, self.rng)
        self.controls.task.set_truth(truth)
        self.playground.set_truth(self.controls.task.truth())

    def choose_task(self, amplitude: float, phase: float) -> None:
        """Make (A, φ) the true task (a task-map click), with K fresh points on it."""
        self.controls.task.set_truth(Truth(amplitude, phase))
        self.playground.set_truth(self.controls.task.truth())
        self.sample_points(self.controls.task.shots.value())
        self.tabs.setCurrentWidget(self.playground)

    def sample_points(self, k: int) -> None:
        truth = self.playground.truth
        if truth is None:
            self.statusBar().showMessage("Sampling needs a ground truth: tick 'Ground truth sinusoid'.", 5000)
            return
        self.playground.set_points(sample_points(truth, k, (-5.0, 5.0), self.rng))

    def set_init_source(self, source: str) -> None:
        self.init_source = source
        self.status_labels["init"].setText(f"Init: {source}")

    def _use_inits(self, source: str, shown: Iterable[str] | None = None) -> None:
        """List `self.inits` in the compare list (ticked: `shown`, else as before) and show the ticked ones."""
        self.set_init_source(source)
        compare = self.controls.compare
        shown = compare.shown() if shown is None else shown
        tips = {name: init_tooltip(name, init) for name, init in self.inits.items()}
        compare.set_entries(tips, shown, self.primary if self.primary in self.inits else None)

    def _show_ticked(self) -> None:
        shown = [name for name in self.controls.compare.shown() if name in self.inits]
        self.playground.set_inits(
            {name: self.inits[name].params for name in shown},
            {name: playground_loop(self.inits[name]) for name in shown},
        )
        self.insights.set_initializations({name: self.inits[name] for name in shown})

    def meta_name(self) -> str:
        """The initialization to export: the highlighted row, else the one trained or opened last."""
        return self.controls.compare.current() or self.primary

    def compare_initializations(self) -> ComparisonDialog | None:
        """Open the comparison table of the ticked initializations (evaluated off the GUI thread)."""
        names = self.controls.compare.shown()
        if not names:
            self.show_error("Nothing to compare", "Tick at least one initialization in the Initializations list.")
            return None
        self.comparison = ComparisonDialog(self)
        self.comparison.evaluate({name: self.inits[name] for name in names})
        self.comparison.show()
        return self.comparison

    # ---- errors -------------------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str, details: str = "") -> None:
        self.last_error = error_box(self, title, message, details)
        self.statusBar().showMessage(message, 8000)
        self.error_shown.emit(message)

    def _about(self) -> None:
        device = describe(self.trainer.device) if self.trainer else "CPU"
        self.last_about = about_box(self, device)

    # ---- training -----------------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def start_training(self) -> None:
        """Start a fresh run (or resume a paused one)."""
        if self.training:
            if self.worker.paused:
                self.toggle_pause()
            return
        if self.warm_up is not None:
            self.warm_up.join()
        if self.trainer_loader is not None:
            return
        try:
            config = self.controls.training.config()
            device = resolve_device(self.controls.training.device_name())
            if config.domain == "omniglot":  # decoding the archives takes seconds: off the GUI thread
                self.statusBar().showMessage("Loading Omniglot for meta-training…")
                self.trainer_loader = threading.Thread(target=self._build_trainer, args=(config, device), daemon=True)
                self.trainer_loader.start()
                self._update_run_state()
                return
            trainer = Trainer(config, with_baseline=True, device=device)
        except MamlvizError as exc:
            self.show_error("Cannot start training", str(exc))
            return
        self._start_worker(trainer)

    def _build_trainer(self, config: TrainConfig, device) -> None:
        """Loader thread: a Trainer for `config`, or the error that prevented it, sent to the GUI thread."""
        try:
            result: object = Trainer(config, with_baseline=True, device=device)
        except (MamlvizError, OSError) as exc:
            result = exc
        with contextlib.suppress(RuntimeError):  # the window is gone
            self.trainer_built.emit(result)

    def _on_trainer_built(self, result: object) -> None:
        self.trainer_loader = None
        if isinstance(result, Trainer):
            self.statusBar().clearMessage()
            self._start_worker(result)
        else:
            self._update_run_state()
            self.show_error("Cannot start training", str(result))

    def _start_worker(self, trainer: Trainer) -> None:
        self.trainer = trainer
        config = trainer.cfg
        steps = max(config.inner_steps, 10)
        probe = make_probe(config.task, 5) if config.domain == "sinusoid" else None
        self.monitor.reset(probe, steps, config.iterations, [learner.algo for learner in trainer.learners])
        self.worker = TrainingWorker(trainer, probe, steps)
        self.worker.chunk.connect(self._on_chunk)
        self.worker.diverged.connect(self._on_diverged)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.status_labels["device"].setText(f"Device: {describe(trainer.device)}")
        self.train_start = time.perf_counter()
        self.worker.start()
        self._update_run_state()
        self.training_started.emit()

    def toggle_pause(self) -> None:
        if not self.training:
            return
        if self.worker.paused:
            self.worker.resume()
            self.statusBar().showMessage("Training resumed.", 3000)
        else:
            self.worker.pause()
            self.statusBar().showMessage("Training paused.", 3000)
        self._update_run_state()

    def stop_training(self, wait: bool = False) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.stop()
            if wait:
                self.worker.wait(STOP_WAIT_MS)

    def reset_training(self) -> None:
        self.stop_training(wait=True)
        self.trainer = None
        self.monitor.losses.clear()
        self.inits, source = shipped_initializations()
        self.unsaved_names = {name for name in self.unsaved_names if name.startswith("Omniglot")}
        self.primary = "maml"
        self._use_inits(source, shown=DEFAULT_SHOWN)
        self._show_probe_before_training()
        self.status_labels["iteration"].setText("it 0 / 0")
        for key in ("rate", "eta", "loss"):
            self.status_labels[key].setText("")

    def _on_chunk(self, chunk: TrainingChunk) -> None:
        trainer = self.trainer
        if trainer is None or self.sender() is not self.worker:
            return
        self.monitor.append(chunk)
        if len(chunk.iterations):
            total, done = trainer.cfg.iterations, int(chunk.iterations[-1])
            self.status_labels["iteration"].setText(f"it {done:,} / {total:,}")
            self.status_labels["rate"].setText(f"{chunk.rate:,.0f} it/s")
            eta = (total - done) / chunk.rate if chunk.rate > 0 else 0
            self.status_labels["eta"].setText(f"ETA {format_duration(eta)}")
            loss = chunk.losses.get(f"{trainer.cfg.algo}/post")
            if loss is not None:
                self.status_labels["loss"].setText(f"meta-loss {loss[-1]:.3f}")
        if chunk.snapshot is not None and trainer.cfg.domain == "omniglot":
            self._use_trained_classifiers(chunk.snapshot, trainer)
        elif chunk.snapshot is not None:
            metrics = {"validation": dict(trainer.last_validation)}
            for name, params in chunk.snapshot.items():
                self.inits[name] = Initialization(params, trainer.cfg, name, trainer.iteration, metrics)
                self.unsaved_names.add(name)
            self.primary = trainer.cfg.algo
            self.insights.add_training_snapshot(trainer.iteration, chunk.snapshot[trainer.cfg.algo], trainer.cfg)
            self._use_inits(
                f"trained here ({trainer.iteration:,} it)", {*self.controls.compare.shown(), *chunk.snapshot}
            )
        self.chunk_received.emit(chunk)

    def _use_trained_classifiers(self, snapshot: dict, trainer: Trainer) -> None:
        """Omniglot snapshots join the Classification tab as '<algorithm> (trained here)' and can be exported."""
        metrics = {"validation": dict(trainer.last_validation)}
        for name, params in snapshot.items():
            self.omniglot_trained[name] = Initialization(params, trainer.cfg, name, trainer.iteration, metrics)
            self.unsaved_names.add(f"Omniglot {display_name(name)}")
            self.classification.set_init(f"{display_name(name)} (trained here)", params)
        self.export_omniglot_action.setEnabled(True)

    def _on_diverged(self, message: str) -> None:
        self._update_run_state()
        self.show_error("Training paused", message)

    def _on_failed(self, message: str, details: str) -> None:
        self.show_error("Training failed", message, details)

    def _on_finished(self) -> None:
        if self.sender() is not self.worker:
            return
        self.monitor.losses.flush()
        done = self.trainer.iteration if self.trainer else 0
        self.statusBar().showMessage(f"Training ended after {done:,} iterations.", 5000)
        self._update_run_state()
        self.training_finished.emit()

    def _update_history_actions(self) -> None:
        self.undo_action.setEnabled(bool(self.playground.undo_stack))
        self.redo_action.setEnabled(bool(self.playground.redo_stack))

    def _update_run_state(self) -> None:
        running = self.training
        paused = running and self.worker.paused
        self.start_action.setEnabled(not running and self.trainer_loader is None)
        self.pause_action.setEnabled(running)
        self.pause_action.setText("Resume" if paused else "Pause")
        self.stop_action.setEnabled(running)
        self.controls.training.set_editable(not running)
        for action in (self.open_init_action, self.open_session_action):
            action.setEnabled(not running)

    # ---- files --------------------------------------------------------------------------------------------------
    def _ask_open(self, title: str, filter_: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, self.settings.value("last_dir", ""), filter_)
        return path

    def _ask_save(self, title: str, name: str, filter_: str) -> str:
        start = str(Path(self.settings.value("last_dir", "") or ".") / name)
        path, _ = QFileDialog.getSaveFileName(self, title, start, filter_)
        return path

    def _remember(self, path: Path) -> None:
        self.settings.setValue("last_dir", str(path.parent))
        recent = [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent_files", [str(path), *recent][:MAX_RECENT])
        self._rebuild_recent()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            opener = self.open_session if path.endswith(".json") else self.open_initialization
            self.recent_menu.addAction(Path(path).name, lambda p=path, o=opener: o(p)).setToolTip(path)
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def open_initialization(self, path: str | None = None) -> bool:
        """Load an initialization into the playground; it replaces the model of the same algorithm."""
        if self.training:
            self.show_error("Training is running", "Stop training before opening an initialization.")
            return False
        path = path or self._ask_open("Open initialization", INIT_FILTER)
        if not path:
            return False
        try:
            init = load_initialization(path)
            sizes = init.config.model.sizes
            if sizes[0] != 1 or sizes[-1] != 1:
                raise CheckpointError(
                    f"{path} maps {sizes[0]} inputs to {sizes[-1]} outputs; the sinusoid playground needs 1 → 1."
                )
        except MamlvizError as exc:
            self.show_error("Cannot open initialization", str(exc))
            return False
        name = init.algorithm if init.algorithm != "unknown" else Path(path).stem
        self.inits[name] = init
        if name != "pretrained":
            self.primary = name
        self._use_inits(f"{Path(path).name}", {*self.controls.compare.shown(), name})
        self._remember(Path(path))
        return True

    def export_initialization(self, name: str | None = None, path: str | None = None) -> bool:
        """Export a sinusoid initialization (default: the highlighted row of the compare list)."""
        name = name or self.meta_name()
        exported = self._export(self.inits.get(name), display_name(name), f"{name}_init", path)
        if exported:
            self.unsaved_names.discard(name)
        return exported

    def export_omniglot(self, path: str | None = None) -> bool:
        """Export the Omniglot initialization meta-trained in this app."""
        name = next((n for n in self.omniglot_trained if n != "pretrained"), "")
        exported = self._export(self.omniglot_trained.get(name), "trained Omniglot", f"omniglot_{name}_init", path)
        if exported:
            self.unsaved_names.discard(f"Omniglot {display_name(name)}")
        return exported

    def _export(self, init: Initialization | None, label: str, stem: str, path: str | None) -> bool:
        if init is None:
            self.show_error("Nothing to export", f"There is no {label} initialization to export.")
            return False
        path = path or self._ask_save(f"Export {label} initialization", f"{stem}.safetensors", INIT_FILTER)
        if not path:
            return False
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".safetensors")
        try:
            save_initialization(target, init)
        except (MamlvizError, OSError) as exc:
            self.show_error("Export failed", f"Could not write {target}: {exc}")
            return False
        self._remember(target)
        self.statusBar().showMessage(f"Exported {label} initialization to {target}.", 5000)
        return True

    def session(self) -> Session:
        if self.warm_up is not None:
            self.warm_up.join()
        try:
            config = self.controls.training.config()
        except MamlvizError:
            config = TrainConfig()
        adapt = self.controls.adapt
        view = {
            "lr": adapt.lr.value(),
            "steps": adapt.steps.value(),
            "show_steps": adapt.show_steps.isChecked(),
            "log_y": self.monitor.losses.log_y.isChecked(),
            "last_n": self.monitor.losses.last_n.value(),
            "sample_k": self.controls.task.shots.value(),
            "shown": self.controls.compare.shown(),
        }
        return Session(config, self.playground.truth, self.playground.points, view, dict(self.inits))

    def save_session(self, path: str | None = None) -> bool:
        path = path or self._ask_save("Save session", "session.json", SESSION_FILTER)
        if not path:
            return False
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".json")
        try:
            save_session(target, self.session())
        except (MamlvizError, OSError) as exc:
            self.show_error("Saving the session failed", f"Could not write {target}: {exc}")
            return False
        self._remember(target)
        self.unsaved_names = {name for name in self.unsaved_names if name.startswith("Omniglot")}
        self.statusBar().showMessage(f"Session saved to {target}.", 5000)
        return True

    def open_session(self, path: str | None = None) -> bool:
        if self.training:
            self.show_error("Training is running", "Stop training before opening a session.")
            return False
        path = path or self._ask_open("Open session", SESSION_FILTER)
        if not path:
            return False
        try:
            session = load_session(path)
        except MamlvizError as exc:
            self.show_error("Cannot open session", str(exc))
            return False
        self.apply_session(session)
        self._remember(Path(path))
        return True

    def apply_session(self, session: Session) -> None:
        view = session.view
        self.controls.training.set_config(session.config)
        self.controls.task.set_truth(session.truth)
        adapt = self.controls.adapt
        for widget in (adapt.lr, adapt.steps, adapt.show_steps):
            widget.blockSignals(True)
        adapt.lr.setValue(float(view.get("lr", 0.01)))
        adapt.steps.setValue(int(view.get("steps", 10)))
        adapt.steps_label.setText(str(adapt.steps.value()))
        adapt.show_steps.setChecked(bool(view.get("show_steps", False)))
        for widget in (adapt.lr, adapt.steps, adapt.show_steps):
            widget.blockSignals(False)
        self.controls.task.shots.setValue(int(view.get("sample_k", 5)))
        self.monitor.losses.log_y.setChecked(bool(view.get("log_y", True)))
        self.monitor.losses.last_n.setValue(int(view.get("last_n", 0)))
        if session.inits:
            self.inits = dict(session.inits)
        pg_state = self.playground
        pg_state.truth = session.truth
        pg_state.lr, pg_state.steps, pg_state.show_steps = (
            adapt.lr.value(),
            adapt.steps.value(),
            adapt.show_steps.isChecked(),
        )
        pg_state.points = session.points
        self._use_inits("session", [str(name) for name in view.get("shown", DEFAULT_SHOWN)])

    def plot_targets(self) -> dict[str, str]:
        return {"playground": "Playground", "test-time": "Test-time MSE", "losses": "Loss curves", "probe": "Probe fit"}

    def _plot_item(self, key: str) -> pg.PlotItem:
        return {
            "playground": self.playground.plot,
            "test-time": self.playground.mse_plot,
            "losses": self.monitor.losses.plot,
            "probe": self.monitor.probe.plot,
        }[key].getPlotItem()

    def export_png(self, key: str, path: str | None = None) -> bool:
        path = path or self._ask_save("Export plot as PNG", f"{key}.png", "PNG images (*.png)")
        if not path:
            return False
        exporter = pyqtgraph.exporters.ImageExporter(self._plot_item(key))
        exporter.parameters()["width"] = max(1200, int(self._plot_item(key).sceneBoundingRect().width()))
        try:
            exporter.export(str(Path(path).with_suffix(".png")))
        except OSError as exc:
            self.show_error("Export failed", f"Could not write {path}: {exc}")
            return False
        return True

    def csv_table(self, key: str) -> tuple[list[str], np.ndarray]:
        """The data behind a plot as a header and a numeric table."""
        curves = self.playground.curves
        if key == "losses":
            return self.monitor.losses.table()
        if key == "test-time":
            names = [n for n, c in curves.items() if c.true_mse is not None]
            steps = max((len(curves[n].true_mse) for n in names), default=0)
            columns = [np.arange(steps, dtype=float)] + [curves[n].true_mse for n in names]
            return ["step", *(f"{n}_mse" for n in names)], np.column_stack(columns)
        truth = self.playground.truth
        header, columns = ["x"], [GRID]
        if truth is not None:
            header.append("truth")
            columns.append(truth(GRID))
        for name, model in curves.items():
            for step, row in enumerate(model.predictions):
                header.append(f"{name}_step{step}")
                columns.append(row)
        return header, np.column_stack(columns)

    def export_csv(self, key: str, path: str | None = None) -> bool:
        path = path or self._ask_save("Export data as CSV", f"{key}.csv", "CSV files (*.csv)")
        if not path:
            return False
        header, table = self.csv_table(key)
        try:
            np.savetxt(Path(path), table, delimiter=",", header=",".join(header), comments="", fmt="%.8g")
        except OSError as exc:
            self.show_error("Export failed", f"Could not write {path}: {exc}")
            return False
        return True

    # ---- lifetime -----------------------------------------------------------------------------------------------
    def unsaved(self) -> list[str]:
        """Names of initializations trained in this window and neither exported nor saved in a session."""
        return sorted(self.unsaved_names)

    def _confirm_close(self) -> bool:
        """Offer to save a session when trained initializations would be lost; False: stay open."""
        if not self.ask_before_closing or not self.unsaved_names:
            return True
        sinusoid = [name for name in self.unsaved() if not name.startswith("Omniglot")]
        names = ", ".join(display_name(name) for name in self.unsaved())
        text = f"Trained here and not exported: {names}."
        buttons = QMessageBox.StandardButton
        choices = buttons.Discard | buttons.Cancel
        if sinusoid:
            text += " Save a session to keep the sinusoid initializations?"
            choices |= buttons.Save
        if len(sinusoid) < len(self.unsaved_names):
            text += " Omniglot ones are kept by File ▸ Export trained Omniglot initialization… (Cancel to do it)."
        answer = QMessageBox.question(self, "Keep what you trained?", text, choices, buttons.Cancel)
        if answer == buttons.Save:
            return self.save_session()
        return answer == buttons.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        """Offer to keep unexported trained initializations, then stop the worker (within a second)."""
        if not self._confirm_close():
            event.ignore()
            return
        if self.worker is not None and self.worker.isRunning():
            self.worker.stop()
            if not self.worker.wait(STOP_WAIT_MS):
                self.worker.wait()
        self.insights.stop(STOP_WAIT_MS / 1000)
        if self.warm_up is not None:  # a thread still inside torch when Python exits aborts the process
            self.warm_up.join()
        self.settings.setValue("window_state", self.saveState())
        self.collector.stop()
        event.accept()
