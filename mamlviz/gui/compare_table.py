"""The comparison table: `mamlviz eval` of the ticked initializations, computed off the GUI thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import EVAL_SEED
from mamlviz.core.evaluate import EvalCurve
from mamlviz.core.sinusoid.evaluation import evaluate_initialization
from mamlviz.core.sinusoid.playground import PAPER_TABLE2_5SHOT
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.style import display_name

COLUMNS = ("Initialization", "K", "θ (no step)", "1 step", "5 steps", "10 steps", "diverged")
STEPS = (0, 1, 5, 10)


class ComparisonDialog(QDialog):
    """MSE after 0 / 1 / 5 / 10 steps on the paper's protocol for several initializations, beside Table 2."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare initializations")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        for widget in (self.caption, self.table, self.status, buttons):
            layout.addWidget(widget)
        self.resize(900, 560)
        self.rows: list[tuple[str, EvalCurve]] = []
        self.jobs = JobRunner(queue_latest=False, parent=self)
        self.evaluated = self.jobs.finished
        """A finished job: its result is the rows [(name, EvalCurve), ...], or the error that prevented them."""
        self.evaluated.connect(self._show)
        self.finished.connect(lambda _: self.jobs.cancel())

    def evaluate(
        self, inits: Mapping[str, Initialization], shots: Sequence[int] = (5, 10), n_tasks: int = 600, lr: float = 0.01
    ) -> None:
        """Start evaluating `inits` in a background thread; the table fills when it is done."""
        self.caption.setText(
            f"MSE on {n_tasks} fresh tasks (seed {EVAL_SEED}, 100-point grid) after SGD with α = {lr:g} (or the "
            "init's learned step sizes), mean ± 95% interval: the numbers `mamlviz eval` prints for the same files."
        )
        self.status.setText(f"Evaluating {len(inits)} initialization(s)…")
        self.table.setRowCount(0)
        named, shots = dict(inits), tuple(shots)
        self.jobs.run("compare", lambda: self._rows(named, shots, n_tasks, lr))

    def _rows(self, inits: dict[str, Initialization], shots: tuple[int, ...], n_tasks: int, lr: float) -> list:
        """Job: each initialization evaluated in turn (stopping early when the dialog closes)."""
        rows = []
        for name, init in inits.items():
            if self.jobs.cancelled():
                break
            rows += [(name, curve) for curve in evaluate_initialization(init, shots, max(STEPS), n_tasks, lr)]
        return rows

    def _show(self, job: Job) -> None:
        if job.failed:
            self.status.setText(f"The evaluation failed: {job.sentence()}")
            return
        self.rows = list(job.result)
        cells = [
            [display_name(name), str(curve.shots)]
            + [f"{curve.mean[s]:.3f} ± {curve.ci95[s]:.3f}" for s in STEPS]
            + [f"{curve.diverged} of {curve.n_tasks}"]
            for name, curve in self.rows
        ]
        cells += [
            [f"Paper {display_name(name)} (Table 2)", "5", "", *(f"{table[s]:.2f}" for s in STEPS[1:]), ""]
            for name, table in PAPER_TABLE2_5SHOT.items()
        ]
        self.table.setRowCount(len(cells))
        for row, values in enumerate(cells):
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.status.setText("Diverged tasks (MSE not finite or above 10⁶) are left out of the mean and counted.")
