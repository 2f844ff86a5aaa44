"""The Classification tab: a sampled Omniglot task or the user's own drawings, with each
initialization's class probabilities before and after 1…k adaptation steps, side by side, in the task setting
(N-way K-shot) chosen in its Task box."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mamlviz.core.model import Params
from mamlviz.core.omniglot.classification import has_meta_trained_head
from mamlviz.core.omniglot.convnet import HEAD
from mamlviz.core.omniglot.fewshot_demo import META_TEST, DemoTask, FewShotDemo
from mamlviz.core.omniglot.metric import is_metric
from mamlviz.core.omniglot.metric_demo import ClassifierDemo
from mamlviz.gui.classification.canvas import DrawingCanvas
from mamlviz.gui.classification.embedding import EmbeddingPanel, TaskViews, task_views
from mamlviz.gui.classification.widgets import QueryResult, Thumbnail, WrappingGrid
from mamlviz.gui.jobs import Job, JobRunner

DRAW_HINT = "Draw at least one example for every class (+ keep stores it and frees the canvas), then a query."
CLASS_CANVAS = 84
"""The side of each class's canvas (3 × 28): five classes fit one row of a 1400×900 window's tab, which leaves
room for the query, every learner's bars and the embedding view (112-pixel canvases wrapped to two rows)."""
SMALL_CLASS_CANVAS = 56
"""The side (2 × 28) for more than five classes: 20 of them wrap to three rows of that tab, not four or five."""
SETTING_TIP = "The task setting: N classes (ways) with K drawings each (shots); hover an item for its files."
SAMPLED, DRAWN = 0, 1
"""The two modes (pages) of the tab; each has its own header line and its own adaptation job."""
KINDS = {SAMPLED: "sampled task", DRAWN: "drawn task"}


class ClassificationTab(QWidget):
    """Sampled task view and drawing view; `predictions_changed` fires after each adaptation, which runs off the
    GUI thread (one job per mode; a newer request replaces a waiting one and an outdated result is dropped).
    `setting_chosen` fires with the label the user picks in the Task box (`set_settings`); loading it is the
    caller's (`show_loading`, then `set_demo` or `loading_failed`)."""

    predictions_changed = Signal()
    setting_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.demo: FewShotDemo | None = None
        self.task: DemoTask | None = None
        self.predictions: dict[str, np.ndarray] = {}
        self.drawn_predictions: dict[str, np.ndarray] = {}
        self.views: dict[int, TaskViews | None] = {SAMPLED: None, DRAWN: None}
        """Each mode's embedding views (`embedding.task_views`), computed with its predictions."""
        self.seed = 0
        self.setting: str | None = None
        """The label of the task setting shown (`set_demo`), if any."""
        self.loading: str | None = None
        """While a task setting loads, the header line that says so."""
        self.added: dict[str, tuple[Params, str]] = {}
        """The initializations given to `set_init` (parameters, algorithm): they stay when the task setting changes."""
        self.head_notes: dict[str, str] = {}
        """A sentence per initialization whose head has another number of ways than the tasks (shown with
        the header, not silently replaced)."""
        self.stale = False
        """An initialization changed while the tab was hidden: adapt again when it is shown."""
        self.query_results: list[QueryResult] = []
        self.class_canvases: list[DrawingCanvas] = []
        self.kept: list[list[np.ndarray]] = []
        self.kept_labels: list[QLabel] = []
        self.kept_rows: list[QHBoxLayout] = []

        self.sampled_button = QRadioButton("Sampled task")
        self.draw_button = QRadioButton("Draw your own")
        self.sampled_button.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.sampled_button, 0)
        modes.addButton(self.draw_button, 1)
        modes.idToggled.connect(self._mode_toggled)
        self.setting_label = QLabel("Task:")
        self.setting_combo = QComboBox()
        self.setting_combo.setToolTip(SETTING_TIP)
        self.setting_combo.currentTextChanged.connect(self._setting_picked)
        for widget in (self.setting_label, self.setting_combo):
            widget.hide()  # until `set_settings` offers some
        self.new_task_button = QPushButton("New task")
        self.new_task_button.clicked.connect(self.new_task)
        self.steps_spin = QSpinBox(minimum=1, maximum=20, value=3, prefix="k = ", suffix=" steps")
        self.steps_spin.valueChanged.connect(self._steps_changed)
        self.step_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=3, value=3)
        self.step_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.step_slider.valueChanged.connect(self._show_step)
        self.step_label = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 6)  # the canvases never jump
        self.headers = {SAMPLED: "Load an Omniglot initialization to classify characters.", DRAWN: DRAW_HINT}
        """The header line of each mode: a sampled task's name is not shown over the drawing page."""
        self.status.setText(self.headers[SAMPLED])
        self.versions = {SAMPLED: 0, DRAWN: 0}
        """The latest adaptation asked for, per mode: a result of an older one is dropped."""
        self.runners = {mode: JobRunner(queue_latest=True, parent=self) for mode in KINDS}
        for runner in self.runners.values():
            runner.finished.connect(self._on_job)

        controls = QHBoxLayout()  # the task, then the steps: one row ran off the tab of a 1400×900 window
        for widget in (
            self.setting_label,
            self.setting_combo,
            self.sampled_button,
            self.draw_button,
            self.new_task_button,
        ):
            controls.addWidget(widget)
        controls.addStretch(1)
        steps = QHBoxLayout()
        steps.addWidget(self.steps_spin)
        steps.addWidget(QLabel("show:"))
        steps.addWidget(self.step_slider, 1)
        steps.addWidget(self.step_label)

        self.support_box = QGroupBox("Support set")
        self.support_grid = QGridLayout(self.support_box)
        self.support_grid.setAlignment(Qt.AlignmentFlag.AlignTop)  # the box is as tall as the queries beside it
        self.queries_box = QGroupBox("Queries")
        key = QLabel(
            "Bars: dashed = before adaptation, filled = after the chosen step"
            " (ProtoNet and Matching Net take no steps: they compare embeddings)."
        )
        key.setWordWrap(True)
        self.queries_grid = WrappingGrid()
        queries_layout = QVBoxLayout(self.queries_box)
        queries_layout.addWidget(key)
        queries_layout.addWidget(self.queries_grid)
        queries_layout.addStretch(1)
        sampled = QWidget()
        sampled_row = QHBoxLayout()
        sampled_row.addWidget(self.support_box)
        sampled_row.addWidget(self.queries_box, 1)
        sampled_layout = QVBoxLayout(sampled)
        sampled_layout.addLayout(sampled_row)
        sampled_layout.addStretch(1)

        self.drawing = QWidget()
        self.drawing_layout = QVBoxLayout(self.drawing)
        self.drawing_layout.setContentsMargins(4, 4, 4, 4)
        self.classes_grid = WrappingGrid()
        """One box per class, wrapping to the width (five in a row ran off a 1400×900 window)."""
        self.query_canvas = DrawingCanvas()
        self.query_canvas.stroke_finished.connect(self.classify_drawings)
        self.drawn_result = QueryResult([], None)
        clear_all = QPushButton("Clear all drawings")
        clear_all.clicked.connect(self.clear_drawings)
        query_box = QGroupBox("Query: draw a character to classify")
        query_layout = QHBoxLayout(query_box)
        canvas_column = QVBoxLayout()
        canvas_column.addWidget(self.query_canvas)
        canvas_column.addWidget(clear_all)
        canvas_column.addStretch(1)
        query_layout.addLayout(canvas_column)
        query_layout.addWidget(self.drawn_result, 1)
        self.drawing_layout.addWidget(self.classes_grid)
        self.drawing_layout.addWidget(query_box)
        self.drawing_layout.addStretch(1)

        self.pages = QStackedWidget()
        for page in (sampled, self.drawing):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            self.pages.addWidget(scroll)
        self.embedding = EmbeddingPanel()
        self.embedding_box = QGroupBox("Embedding view (2-D PCA of this task's support and query drawings)")
        QVBoxLayout(self.embedding_box).addWidget(self.embedding)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        """The shown page (it scrolls) above the embedding view, which stays on screen in both modes (under the
        page it was cut off at a 1400×900 window); the handle between them moves."""
        self.splitter.addWidget(self.pages)
        self.splitter.addWidget(self.embedding_box)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([10_000, 1])  # the embedding view starts at its smallest, the page takes the rest
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)  # two rows of controls: the drawn query's bars stay on screen
        layout.addLayout(controls)
        layout.addLayout(steps)
        layout.addWidget(self.status)
        layout.addWidget(self.splitter, 1)
        self._update_step_label()

    # --- setters (numpy only) ---------------------------------------------------------------

    def set_settings(self, settings: dict[str, tuple[str, bool]]) -> None:
        """Offer task settings in the Task box: each label with its tooltip, greyed out where it is not available."""
        current = self.setting or self.setting_combo.currentText()
        with QSignalBlocker(self.setting_combo):
            self.setting_combo.clear()
            for i, (label, (tip, available)) in enumerate(settings.items()):
                self.setting_combo.addItem(label)
                self.setting_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
                self.setting_combo.model().item(i).setEnabled(available)
        self._select_setting(current)
        self.setting_label.show()
        self.setting_combo.show()

    def show_loading(self, setting: str) -> None:
        """Say that the learners of `setting` are loading, until `set_demo` or `loading_failed`; the Task box waits."""
        self._select_setting(setting)
        self.setting_combo.setEnabled(False)
        self.loading = f"Loading the {setting} learners and their test characters…"
        self._show_header()

    def loading_failed(self, setting: str, sentence: str) -> None:
        """`setting` could not be loaded: say why in one sentence; the Task box shows the setting still shown."""
        self.loading = None
        self.setting_combo.setEnabled(True)
        self._select_setting(self.setting)
        self._set_header(self._mode(), f"The {setting} learners could not be loaded: {sentence.rstrip('.')}.")

    def set_demo(self, demo: FewShotDemo, setting: str | None = None) -> None:
        """Use these initializations (and their meta-test pool, if any), of the task setting labelled `setting`,
        with those given to `set_init`; samples a first task. A `ClassifierDemo` also holds metric learners and
        gives the embedding view."""
        self.demo, self.loading = demo, None
        self.setting = setting or self.setting
        self.setting_combo.setEnabled(True)
        self._select_setting(self.setting)
        self.head_notes = {}
        for name, (params, algorithm) in self.added.items():
            self._add_init(name, params, algorithm)
        self._build_drawing_classes(demo.ways, list(demo.inits))
        with QSignalBlocker(self.steps_spin):  # the setting's own steps (5 for 20 ways); the task below adapts
            self.steps_spin.setValue(demo.steps)
        self._show_up_to(demo.steps)
        self.new_task_button.setEnabled(demo.pool is not None)
        if demo.pool is None:
            self.task, self.predictions, self.query_results = None, {}, []
            _clear_layout(self.support_grid)
            self.queries_grid.set_widgets([])
            self._set_header(SAMPLED, "No Omniglot data loaded: draw your own task.")
            self._set_header(DRAWN, "No Omniglot data loaded: draw your own task. " + DRAW_HINT)
            self.draw_button.setChecked(True)
        else:
            self.new_task()

    def set_init(self, name: str, params: Params, algorithm: str = "maml") -> None:
        """Add or replace one initialization (e.g. one being meta-trained) and adapt to the shown task again;
        while the tab is hidden that waits until it is shown. It stays when `set_demo` changes the task setting.
        A metric `algorithm` ('protonet', 'matchingnet') classifies by its rule; any other adapts by SGD."""
        self.added[name] = (params, algorithm)
        if self.demo is None:
            return
        added = name not in self.demo.inits
        self._add_init(name, params, algorithm)
        if added:
            self._replace_drawn_result(list(self.demo.inits))
        self.stale = True
        if self.isVisible():
            self._readapt()

    def _add_init(self, name: str, params: Params, algorithm: str) -> None:
        """Put one initialization into the demo, with a head note if its head has another number of ways."""
        if is_metric(algorithm) and not isinstance(self.demo, ClassifierDemo):  # SGD learners only so far
            old = self.demo
            self.demo = ClassifierDemo(**{f.name: getattr(old, f.name) for f in dataclasses.fields(old)})
        self.demo.inits[name] = params
        self.head_notes.pop(name, None)
        head = params.get(f"{HEAD}.weight") if has_meta_trained_head(algorithm) else None
        classes = head.shape[-2] if head is not None and head.ndim >= 2 else self.demo.ways
        if classes != self.demo.ways:
            self.head_notes[name] = (
                f"{name} was meta-trained for {classes}-way tasks:"
                f" on {self.demo.ways}-way ones its head starts at zero."
            )
        if isinstance(self.demo, ClassifierDemo):
            self.demo.rules.pop(name, None)
            self.demo.rules.update({name: algorithm} if is_metric(algorithm) else {})

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.stale:
            self._readapt()

    def _readapt(self) -> None:
        self.stale = False
        if self.task is not None:
            self.set_task(self.task.support, self.task.queries, self.task.query_labels)
            self._adapt_task()
        if self.draw_button.isChecked():
            self.classify_drawings()

    def set_task(self, support: np.ndarray, queries: np.ndarray, query_labels: np.ndarray | None = None) -> None:
        """Show support (N, K, 28, 28) and queries (M, 28, 28), ink in [0, 1]; clears predictions."""
        labels = np.full(len(queries), -1) if query_labels is None else np.asarray(query_labels)
        self.task = DemoTask(np.asarray(support), np.asarray(queries), labels)
        self.versions[SAMPLED] += 1  # an adaptation still running is of another task
        _clear_layout(self.support_grid)
        for c, drawings in enumerate(self.task.support):
            self.support_grid.addWidget(QLabel(f"class {c + 1}"), c, 0)
            for k, ink in enumerate(drawings):
                self.support_grid.addWidget(Thumbnail(ink, 2), c, k + 1)
        names = list(self.demo.inits) if self.demo else []
        self.query_results = [QueryResult(names, ink) for ink in self.task.queries]
        self.queries_grid.set_widgets(self.query_results)
        self.predictions = {}
        self._set_views(SAMPLED, None)

    def set_predictions(self, predictions: dict[str, np.ndarray]) -> None:
        """Probabilities (steps + 1, M, N) of the current task's queries per initialization name."""
        self.predictions = predictions
        steps = next(iter(predictions.values())).shape[0] - 1 if predictions else self.steps_spin.value()
        self.step_slider.setMaximum(steps)
        self._show_step()
        self.predictions_changed.emit()

    # --- actions -----------------------------------------------------------------------------

    def new_task(self) -> None:
        """Sample a fresh meta-test task and adapt every initialization to it."""
        if self.demo is None or self.demo.pool is None:
            return
        self.seed += 1
        task = self.demo.sample_task(self.seed)
        self.set_task(task.support, task.queries, task.query_labels)
        self._adapt_task()

    def task_caption(self) -> str:
        """'Task 3: 5-way 1-shot from …', naming the pool (`DemoPool.source`: the characters the files did not
        meta-train on, e.g. 'the 172 characters none of these learners trained on' when their splits differ)."""
        source = getattr(self.demo.pool, "source", META_TEST)
        return f"Task {self.seed}: {self.demo.ways}-way {self.demo.shots}-shot from {source}."

    def _adapt_task(self) -> None:
        task, steps = self.task, self.steps_spin.value()
        caption = self.task_caption() if self.seed else "Your task"
        ways, shots = task.support.shape[:2]
        support, labels = task.support.reshape(ways * shots, *task.support.shape[2:]), np.repeat(np.arange(ways), shots)

        def compute(demo: FewShotDemo) -> tuple[dict[str, np.ndarray], TaskViews]:
            views = task_views(demo, support, labels, task.queries, steps, task.query_labels)
            return demo.predict_task(task, steps), views

        self._run(SAMPLED, compute, lambda result: self._show_sampled(*result), caption)

    def classify_drawings(self) -> None:
        """Adapt to the drawn support set and classify the drawn query (after every stroke)."""
        if self.demo is None:
            return
        support, labels = [], []
        for c, canvas in enumerate(self.class_canvases):
            drawings = self.kept[c] + ([] if canvas.is_empty() else [canvas.image()])
            support += drawings
            labels += [c] * len(drawings)
        missing = [c + 1 for c in range(self.demo.ways) if c not in labels]
        if missing or self.query_canvas.is_empty():
            self.versions[DRAWN] += 1  # what is still adapting is not what is drawn now
            self._set_header(DRAWN, DRAW_HINT + (f" Missing: class {missing[0]}." if missing else ""))
            return
        query, support_images, steps = self.query_canvas.image()[None], np.stack(support), self.steps_spin.value()
        labels = np.array(labels)

        def compute(demo: FewShotDemo) -> tuple[dict[str, np.ndarray], TaskViews]:
            views = task_views(demo, support_images, labels, query, steps)
            return demo.predict(support_images, labels, query, steps), views

        self._run(DRAWN, compute, lambda result: self._show_drawn(*result), "Adapted to your drawings.")

    def clear_drawings(self) -> None:
        for canvas in [*self.class_canvases, self.query_canvas]:
            canvas.clear()
        self.kept = [[] for _ in self.class_canvases]
        self._update_kept_labels()
        self.drawn_predictions = {}
        self._set_views(DRAWN, None)
        self.versions[DRAWN] += 1
        self._set_header(DRAWN, DRAW_HINT)

    # --- internals ---------------------------------------------------------------------------

    def _set_header(self, mode: int, text: str) -> None:
        """The header line of `mode`, shown while that mode's page is (and no task setting loads)."""
        self.headers[mode] = text
        self._show_header()

    def _show_header(self) -> None:
        self.status.setText(self.loading or self.headers[self._mode()])

    def _select_setting(self, label: str | None) -> None:
        """Show `label` in the Task box (no `setting_chosen`), its tooltip on the box."""
        index = self.setting_combo.findText(label or "")
        if index >= 0:
            with QSignalBlocker(self.setting_combo):
                self.setting_combo.setCurrentIndex(index)
            tip = self.setting_combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
            self.setting_combo.setToolTip(f"{SETTING_TIP}\n{tip}")

    def _setting_picked(self, label: str) -> None:
        if label and label != self.setting:
            self.setting_chosen.emit(label)

    def _mode(self) -> int:
        return DRAWN if self.draw_button.isChecked() else SAMPLED

    def _run(self, mode: int, compute: Callable[[FewShotDemo], object], show, caption: str) -> None:
        """Adapt off the GUI thread: `compute(demo)` on a copy of the demo whose initializations cannot change
        under it, then `show(result)` and `caption` as the header; a failure is one sentence in the header."""
        self.versions[mode] += 1
        demo = copy.copy(self.demo)
        demo.inits = dict(self.demo.inits)
        if isinstance(demo, ClassifierDemo):
            demo.rules = dict(self.demo.rules)
        self._set_header(mode, f"{caption.removesuffix('.')} · Adapting…" if mode == SAMPLED else "Adapting…")
        self.runners[mode].submit(Job(KINDS[mode], self.versions[mode], lambda: compute(demo), (mode, show, caption)))

    def _on_job(self, job: Job) -> None:
        mode, show, caption = job.context
        if job.version != self.versions[mode]:
            return  # outdated: a newer adaptation was asked for
        if job.failed:
            self._set_header(mode, f"Adaptation failed: {job.sentence().rstrip('.')}.")
            return
        notes = [note for name, note in self.head_notes.items() if self.demo and name in self.demo.inits]
        self._set_header(mode, " ".join([caption, *notes]))
        show(job.result)

    @property
    def busy(self) -> bool:
        """Whether an adaptation is running or waiting."""
        return any(runner.busy for runner in self.runners.values())

    def _show_sampled(self, predictions: dict[str, np.ndarray], views: TaskViews) -> None:
        self._set_views(SAMPLED, views)
        self.set_predictions(predictions)

    def _set_views(self, mode: int, views: TaskViews | None) -> None:
        """Keep a mode's embedding views; the panel shows the current mode's."""
        self.views[mode] = views
        if self._mode() == mode:
            self.embedding.set_views(views)

    def _show_drawn(self, predictions: dict[str, np.ndarray], views: TaskViews | None = None) -> None:
        self._set_views(DRAWN, views)
        self.drawn_predictions = predictions
        self.step_slider.setMaximum(next(iter(predictions.values())).shape[0] - 1)
        self._show_step()
        self.predictions_changed.emit()

    def _build_drawing_classes(self, ways: int, names: list[str]) -> None:
        boxes: list[QWidget] = []
        self.class_canvases, self.kept_labels, self.kept_rows = [], [], []
        side = CLASS_CANVAS if ways <= 5 else SMALL_CLASS_CANVAS
        for c in range(ways):
            box = QGroupBox(f"class {c + 1}")
            column = QVBoxLayout(box)
            column.setContentsMargins(4, 4, 4, 4)
            column.setSpacing(2)
            canvas = DrawingCanvas(side, 7.0 * side / 112)  # the same ink width at 28 × 28
            canvas.stroke_finished.connect(self.classify_drawings)
            keep = QPushButton("+ keep")
            keep.setFixedWidth(side)  # as wide as the canvas: the button does not widen the box
            keep.setToolTip("Keep this drawing as an example and draw another one")
            keep.clicked.connect(lambda _=False, c=c: self._keep(c))
            kept = QLabel()
            thumbnails = QHBoxLayout()
            column.addWidget(canvas)
            column.addWidget(keep)
            column.addWidget(kept)
            column.addLayout(thumbnails)
            column.addStretch()
            boxes.append(box)
            self.class_canvases.append(canvas)
            self.kept_labels.append(kept)
            self.kept_rows.append(thumbnails)
        self.classes_grid.set_widgets(boxes)
        self._replace_drawn_result(names)
        self.clear_drawings()

    def _replace_drawn_result(self, names: list[str]) -> None:
        """The result bars of the drawn query, one row per initialization name (the drawings stay)."""
        self.drawn_result.deleteLater()
        self.drawn_result = QueryResult(names, None)
        self.drawn_result.setMaximumWidth(320)
        self.query_canvas.parentWidget().layout().addWidget(self.drawn_result, 1)

    def _keep(self, c: int) -> None:
        canvas = self.class_canvases[c]
        if canvas.is_empty():
            self._set_header(DRAWN, f"The canvas of class {c + 1} is empty: draw something first.")
            return
        self.kept[c].append(canvas.image())
        canvas.clear()
        self._update_kept_labels()
        self.classify_drawings()

    def _update_kept_labels(self) -> None:
        for label, row, kept in zip(self.kept_labels, self.kept_rows, self.kept, strict=True):
            label.setText(f"{len(kept)} kept")
            _clear_layout(row)
            for ink in kept[-2:]:  # two fit under the canvas without widening the box
                row.addWidget(Thumbnail(ink, 1))

    def _mode_toggled(self, mode: int, checked: bool) -> None:
        if checked:
            self.pages.setCurrentIndex(mode)
            self.new_task_button.setVisible(mode == SAMPLED)
            self._show_header()  # Draw mode does not name the sampled task
            self.embedding.set_views(self.views[mode])
            self._show_step()

    def _steps_changed(self, steps: int) -> None:
        self._show_up_to(steps)
        if self.draw_button.isChecked():
            self.classify_drawings()
        elif self.task is not None and self.demo is not None:
            self._adapt_task()

    def _show_up_to(self, steps: int) -> None:
        """The step slider spans 0…steps and shows the last."""
        self.step_slider.setMaximum(steps)
        self.step_slider.setValue(steps)

    def _show_step(self) -> None:
        step = self.step_slider.value()
        self._update_step_label()
        if self.task is not None:
            for q, result in enumerate(self.query_results):
                truth = int(self.task.query_labels[q]) if self.task.query_labels[q] >= 0 else None
                for name, probabilities in self.predictions.items():
                    result.show_step(name, probabilities[:, q], min(step, len(probabilities) - 1), truth)
        for name, probabilities in self.drawn_predictions.items():
            self.drawn_result.show_step(name, probabilities[:, 0], min(step, len(probabilities) - 1), None)

    def _update_step_label(self) -> None:
        step = self.step_slider.value()
        self.step_label.setText("before adaptation" if step == 0 else f"after {step} step{'s' * (step > 1)}")


def _clear_layout(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
