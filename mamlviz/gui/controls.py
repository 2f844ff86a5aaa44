"""The Controls dock: the task and points, test-time adaptation, and the training settings."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mamlviz.core import registry
from mamlviz.core.config import (
    ADAPT_LR_RANGE,
    ALGORITHMS,
    SETTING_LIMITS,
    ClassificationConfig,
    TaskConfig,
    TrainConfig,
    parse_hidden,
)
from mamlviz.core.data import Truth
from mamlviz.core.errors import ConfigError
from mamlviz.core.presets import DOMAIN_DEFAULTS, PRESETS
from mamlviz.gui.compare import CompareList
from mamlviz.gui.state import Adaptation
from mamlviz.gui.style import display_name

OMNIGLOT_PAPER = PRESETS["Omniglot 5-way 1-shot (Finn et al. 2017)"]
CLASSIFICATION_ALGORITHMS = ("maml", "fomaml", "protonet", "matchingnet")
"""The meta-learners the Omniglot domain trains (the pretrained baseline is trained alongside)."""


def _sinusoid_learner(algo: str) -> bool:
    """Whether `algo` meta-trains a 1 → 1 regression network (the playground's kind; not e.g. an oracle)."""
    try:
        TrainConfig(algo=algo).validate()
    except ConfigError:
        return False
    return True


META_ALGORITHMS = tuple(a for a in ALGORITHMS if a != "pretrained" and _sinusoid_learner(a))
"""The algorithm list: the core's algorithms; the pretrained baseline is always trained alongside."""


@dataclass(frozen=True)
class DomainForm:
    """What the Meta-training form offers for a domain: its algorithms, and the network rows it shows."""

    algorithms: tuple[str, ...]
    network: str
    """'mlp' (hidden sizes) or 'conv' (ways and the Omniglot folder)."""


DOMAIN_FORMS = {
    "sinusoid": DomainForm(META_ALGORITHMS, "mlp"),
    "omniglot": DomainForm(CLASSIFICATION_ALGORITHMS, "conv"),
    "nav2d": DomainForm(("maml", "fomaml"), "mlp"),  # TRPO meta-updates; K: trajectories per inner step
}
"""The form of each registered domain (a domain without a form here cannot be trained from the app)."""
CUDA_MISSING = "CUDA is not available: this PyTorch build sees no CUDA GPU."
_SIZE = rf"[1-9][0-9]{{0,{len(str(SETTING_LIMITS['hidden'][1])) - 1}}}"
"""One hidden size as typed in the form: up to as many digits as the largest allowed size (9999: four)."""


def _double_spin(low: float, high: float, value: float, decimals: int, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(10 ** -(decimals - 1))
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


def _int_spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setGroupSeparatorShown(True)
    return spin


class TaskControls(QGroupBox):
    """Ground truth (amplitude, phase, random, or none) and the support-point buttons."""

    truth_changed = Signal(object)
    sample_requested = Signal(int)
    clear_requested = Signal()
    random_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Task and support points", parent)
        self.has_truth = QCheckBox("Ground truth sinusoid")
        self.has_truth.setChecked(True)
        self.has_truth.setToolTip("Untick to draw freely without a true curve (no MSE is measured then).")
        self.amplitude = QSlider(Qt.Orientation.Horizontal)
        self.amplitude.setRange(10, 500)
        self.amplitude.setToolTip("Amplitude A of y = A·sin(x − φ), 0.1 to 5.0 as in the paper.")
        self.phase = QSlider(Qt.Orientation.Horizontal)
        self.phase.setRange(0, 314)
        self.phase.setToolTip("Phase φ of y = A·sin(x − φ), 0 to π as in the paper.")
        self.amplitude_label, self.phase_label = QLabel(), QLabel()
        self.random = QPushButton("Random task")
        self.random.setToolTip("Draw amplitude and phase from the training distribution (R).")
        self.shots = _int_spin(
            *SETTING_LIMITS["shots"], 5, "How many points 'Sample K points' draws from the true curve."
        )
        self.sample = QPushButton("Sample K points")
        self.sample.setToolTip("Replace the support points by K points on the true curve (S).")
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Remove every support point.")

        form = QFormLayout(self)
        form.addRow(self.has_truth)
        form.addRow(self._with_label("A", self.amplitude, self.amplitude_label))
        form.addRow(self._with_label("φ", self.phase, self.phase_label))
        form.addRow(self.random)
        row = QHBoxLayout()
        row.addWidget(QLabel("K"))
        row.addWidget(self.shots)
        row.addWidget(self.sample, 1)
        form.addRow(row)
        form.addRow(self.clear)
        hint = QLabel("Click the plot to add a point · drag to move · right-click or Delete to remove")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        form.addRow(hint)

        self.amplitude.valueChanged.connect(self._emit_truth)
        self.phase.valueChanged.connect(self._emit_truth)
        self.has_truth.toggled.connect(self._emit_truth)
        self.random.clicked.connect(self.random_requested)
        self.sample.clicked.connect(lambda: self.sample_requested.emit(self.shots.value()))
        self.clear.clicked.connect(self.clear_requested)
        self.set_truth(Truth(2.5, 1.0))

    @staticmethod
    def _with_label(name: str, slider: QSlider, value: QLabel) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel(name))
        row.addWidget(slider, 1)
        value.setMinimumWidth(38)
        row.addWidget(value)
        return row

    def truth(self) -> Truth | None:
        if not self.has_truth.isChecked():
            return None
        return Truth(self.amplitude.value() / 100, self.phase.value() / 100)

    def set_truth(self, truth: Truth | None) -> None:
        """Show a truth without emitting one change per widget."""
        for widget in (self.amplitude, self.phase, self.has_truth):
            widget.blockSignals(True)
        self.has_truth.setChecked(truth is not None)
        if truth is not None:
            self.amplitude.setValue(round(min(max(truth.amplitude, 0.1), 5.0) * 100))
            self.phase.setValue(round(min(max(truth.phase, 0.0), 3.14) * 100))
        for widget in (self.amplitude, self.phase, self.has_truth):
            widget.blockSignals(False)
        self._update_labels()

    def _update_labels(self) -> None:
        enabled = self.has_truth.isChecked()
        for widget in (self.amplitude, self.phase, self.random, self.sample, self.shots):
            widget.setEnabled(enabled)
        self.amplitude_label.setText(f"{self.amplitude.value() / 100:.2f}")
        self.phase_label.setText(f"{self.phase.value() / 100:.2f}")

    def _emit_truth(self) -> None:
        self._update_labels()
        self.truth_changed.emit(self.truth())


class AdaptControls(QGroupBox):
    """Test-time adaptation: learning rate α, number of SGD steps, per-step curves."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Adaptation (SGD)", parent)
        self.lr = _double_spin(
            *ADAPT_LR_RANGE,
            0.01,
            4,
            "Learning rate α of the test-time SGD steps (the paper: 0.01); Meta-SGD and MAML++ use their learned ones.",
        )
        self.steps = QSlider(Qt.Orientation.Horizontal)
        self.steps.setRange(*SETTING_LIMITS["adapt_steps"])
        self.steps.setValue(10)
        self.steps.setToolTip("Number of SGD steps k on the support points, 0 to 50.")
        self.steps_label = QLabel("10")
        self.steps_label.setMinimumWidth(24)
        self.show_steps = QCheckBox("Faint curve after every step")
        self.show_steps.setToolTip("Draw the prediction after each intermediate step.")
        form = QFormLayout(self)
        form.addRow("α", self.lr)
        row = QHBoxLayout()
        row.addWidget(self.steps, 1)
        row.addWidget(self.steps_label)
        form.addRow("steps k", row)
        form.addRow(self.show_steps)
        self.lr.valueChanged.connect(self.changed)
        self.steps.valueChanged.connect(lambda v: (self.steps_label.setText(str(v)), self.changed.emit()))
        self.show_steps.toggled.connect(self.changed)

    def set_values(self, adaptation: Adaptation) -> None:
        """Show the state's α, k and per-step curves without emitting a change per widget."""
        for widget in (self.lr, self.steps):
            widget.blockSignals(True)
        self.lr.setValue(adaptation.lr)
        self.steps.setValue(adaptation.steps)
        self.steps_label.setText(str(adaptation.steps))
        for widget in (self.lr, self.steps):
            widget.blockSignals(False)
        self.show_steps.setChecked(adaptation.show_steps)  # unblocked: the View menu's twin follows


class TrainingControls(QGroupBox):
    """Meta-training settings; `config()` turns them into a validated `TrainConfig`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Meta-training", parent)
        defaults = TrainConfig()
        self.preset = QComboBox()
        self.preset.addItem("Custom")
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Fill every setting from a preset.")
        self.domain = QComboBox()
        for name in (name for name in registry.names() if name in DOMAIN_FORMS):
            self.domain.addItem(registry.get(name).label, name)
        self.domain.setToolTip(
            "What to meta-train: the playground's sinusoids, or N-way K-shot Omniglot characters (the Classification "
            "tab shows the initialization being trained)."
        )
        self.algorithm = QComboBox()
        self._list_algorithms(META_ALGORITHMS)
        self.algorithm.setToolTip("Meta-learning algorithm; the pretrained baseline is always trained alongside.")
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA", "cuda")
        if not torch.cuda.is_available():
            item = self.device.model().item(1)
            item.setEnabled(False)
            item.setToolTip(CUDA_MISSING)
            self.device.setItemData(1, CUDA_MISSING, Qt.ItemDataRole.ToolTipRole)
        self.device.setToolTip("Where to train. " + ("" if torch.cuda.is_available() else CUDA_MISSING))
        self.inner_lr = _double_spin(*ADAPT_LR_RANGE, defaults.inner_lr, 4, "Inner (adaptation) learning rate α.")
        self.meta_lr = _double_spin(0.00001, 0.1, defaults.meta_lr, 5, "Adam meta learning rate β.")
        self.inner_steps = _int_spin(
            *SETTING_LIMITS["inner_steps"], defaults.inner_steps, "Inner SGD steps S during meta-training."
        )
        self.meta_batch = _int_spin(*SETTING_LIMITS["meta_batch"], defaults.meta_batch, "Tasks per meta-batch.")
        self.shots = _int_spin(
            *SETTING_LIMITS["shots"], defaults.task.shots, "Support (and query) points K per training task."
        )
        self.hidden = QLineEdit(",".join(map(str, defaults.model.hidden)))
        self.hidden.setValidator(QRegularExpressionValidator(QRegularExpression(rf"^{_SIZE}(,{_SIZE})*$")))
        self.hidden.setToolTip("Hidden layer sizes, comma separated (the paper: 40,40).")
        self.iterations = _int_spin(*SETTING_LIMITS["iterations"], defaults.iterations, "Meta-iterations to run.")
        self.seed = _int_spin(
            *SETTING_LIMITS["seed"], defaults.seed, "Random seed of the initialization and task stream."
        )
        self.ways = _int_spin(2, 60, OMNIGLOT_PAPER.classification.ways, "Classes N per Omniglot task (N-way).")
        self.data = QLineEdit()
        self.data.setPlaceholderText("empty: download the official archives")
        self.data.setToolTip("Folder holding images_background.zip and images_evaluation.zip (or their folders).")
        browse = QPushButton("…")
        browse.setToolTip("Choose the Omniglot folder")
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._browse_data)
        self.data_row = QHBoxLayout()
        self.data_row.addWidget(self.data, 1)
        self.data_row.addWidget(browse)
        self.form = form = QFormLayout(self)
        for label, widget in (
            ("Preset", self.preset),
            ("Domain", self.domain),
            ("Algorithm", self.algorithm),
            ("Device", self.device),
            ("α (inner)", self.inner_lr),
            ("β (meta)", self.meta_lr),
            ("Inner steps", self.inner_steps),
            ("Meta-batch", self.meta_batch),
            ("K (shots)", self.shots),
            ("Hidden", self.hidden),
            ("Ways N", self.ways),
            ("Omniglot data", self.data_row),
            ("Iterations", self.iterations),
            ("Seed", self.seed),
        ):
            form.addRow(label, widget)
        self.preset.activated.connect(self._apply_preset)
        for combo in (self.preset, self.domain, self.algorithm, self.device):  # long names must not widen the dock
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.domain.activated.connect(lambda: self.set_config(DOMAIN_DEFAULTS[self.domain.currentData()]))
        self._show_domain_rows()

    def _list_algorithms(self, algorithms: tuple[str, ...]) -> None:
        chosen = self.algorithm.currentData()
        self.algorithm.clear()
        for algo in algorithms:
            self.algorithm.addItem(display_name(algo), algo)
        self.algorithm.setCurrentIndex(max(self.algorithm.findData(chosen), 0))

    def _show_domain_rows(self) -> None:
        """The chosen domain's algorithms and settings rows (`DOMAIN_FORMS`)."""
        form = DOMAIN_FORMS[self.domain.currentData()]
        self._list_algorithms(form.algorithms)
        self.form.setRowVisible(self.hidden, form.network == "mlp")
        for row in (self.ways, self.data_row):
            self.form.setRowVisible(row, form.network == "conv")

    def _browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Omniglot folder", self.data.text())
        if folder:
            self.data.setText(folder)

    def _apply_preset(self, index: int) -> None:
        name = self.preset.itemText(index)
        if name in PRESETS:
            self.set_config(PRESETS[name])
            self.preset.setCurrentIndex(index)

    def apply_preset(self, name: str) -> None:
        self._apply_preset(self.preset.findText(name))

    def config(self) -> TrainConfig:
        """The settings as a validated config; raises `ConfigError` with one sentence."""
        shots = self.shots.value()
        base = PRESETS.get(self.preset.currentText(), TrainConfig())
        domain = self.domain.currentData()
        form = DOMAIN_FORMS[domain]
        classification = ClassificationConfig(ways=self.ways.value(), shots=shots, data=self.data.text().strip())
        config = TrainConfig(
            domain=domain,
            classification=classification if form.network == "conv" else ClassificationConfig(),
            algo=self.algorithm.currentData(),
            iterations=self.iterations.value(),
            inner_steps=self.inner_steps.value(),
            inner_lr=self.inner_lr.value(),
            meta_lr=self.meta_lr.value(),
            meta_batch=self.meta_batch.value(),
            seed=self.seed.value(),
            val_every=max(1, min(base.val_every, math.ceil(self.iterations.value() / 10))),
            task=dataclasses.replace(TaskConfig(), shots=shots, queries=shots),
            model=dataclasses.replace(DOMAIN_DEFAULTS[domain].model, hidden=parse_hidden(self.hidden.text())),
        )
        spec = registry.get(domain)
        config = config if spec.shots(config) == shots else spec.with_shots(config, shots)  # nav2d: trajectories
        config.validate()
        return config

    def set_config(self, config: TrainConfig) -> None:
        self.domain.setCurrentIndex(self.domain.findData(config.domain))
        self._show_domain_rows()
        self.ways.setValue(config.classification.ways)
        if config.classification.data:
            self.data.setText(config.classification.data)
        index = self.algorithm.findData(config.algo)
        if index >= 0:
            self.algorithm.setCurrentIndex(index)
        self.inner_lr.setValue(config.inner_lr)
        self.meta_lr.setValue(config.meta_lr)
        self.inner_steps.setValue(config.inner_steps)
        self.meta_batch.setValue(config.meta_batch)
        self.shots.setValue(registry.get(config.domain).shots(config))
        self.hidden.setText(",".join(map(str, config.model.hidden)))
        self.iterations.setValue(config.iterations)
        self.seed.setValue(config.seed)
        self.preset.setCurrentIndex(0)

    def follow_domain(self, domain: str) -> None:
        """Show `domain`'s defaults, as choosing it in the Domain box does, unless the form is on it already (or the
        domain has no form)."""
        index = self.domain.findData(domain)  # -1: no form
        if index not in (-1, self.domain.currentIndex()):
            self.set_config(DOMAIN_DEFAULTS[domain])

    def device_name(self) -> str:
        return self.device.currentData()

    def set_editable(self, editable: bool) -> None:
        for widget in self.findChildren(QWidget):
            widget.setEnabled(editable)
        if editable and not torch.cuda.is_available():
            self.device.model().item(1).setEnabled(False)


class ControlsPanel(QWidget):
    """The groups stacked: task, adaptation, initializations compared, training."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = TaskControls()
        self.adapt = AdaptControls()
        self.compare = CompareList()
        self.training = TrainingControls()
        layout = QVBoxLayout(self)
        for group in (self.task, self.adapt, self.compare, self.training):
            layout.addWidget(group)
        layout.addStretch(1)
        from mamlviz.gui.style import WheelGuard  # the wheel scrolls the panel, not an unfocused value (#12 item 9)

        self.wheel_guard = WheelGuard(self)
        self.wheel_guard.guard(self)


def scrolling(widget: QWidget) -> QScrollArea:
    """`widget` in a vertical scroll area as wide as it needs."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4)
    return area
