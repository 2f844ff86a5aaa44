"""Files: open and export initializations, sessions, recent files, and the plots as PNG or CSV.

Every command returns whether it did what it was asked; a refusal or a failure is reported in one sentence
through `report(title, message)` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.errors import MamlvizError
from mamlviz.core.sessions import Session, load_session, save_session
from mamlviz.gui.playground_panel import DOMAIN as PLAYGROUND_DOMAIN
from mamlviz.gui.playground_panel import GRID
from mamlviz.gui.shipped import DEFAULT_SHOWN
from mamlviz.gui.style import display_name

if TYPE_CHECKING:
    from mamlviz.gui.main_window import MainWindow

INIT_FILTER = "Initializations (*.safetensors *.pt);;All files (*)"
SESSION_FILTER = "mamlviz sessions (*.json);;All files (*)"
MAX_RECENT = 8
CSV_TABLES = {"playground": "Playground curves", "test-time": "Test-time MSE", "losses": "Loss history"}
PNG_PLOTS = {"playground": "Playground", "test-time": "Test-time MSE", "losses": "Loss curves", "probe": "Probe fit"}


class FileCommands(QObject):
    """The File menu's commands, on the window's state and settings."""

    recent_changed = Signal()

    def __init__(self, window: MainWindow, settings: QSettings, report: Callable[[str, str], None]) -> None:
        super().__init__(window)
        self.window, self.state, self.settings, self.report = window, window.state, settings, report

    # ---- dialogs and recent files -------------------------------------------------------------------------------
    def _ask_open(self, title: str, filter_: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.settings.value("last_dir", ""), filter_)
        return path

    def _ask_save(self, title: str, name: str, filter_: str) -> str:
        start = str(Path(self.settings.value("last_dir", "") or ".") / name)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filter_)
        return path

    def _remember(self, path: Path) -> None:
        self.settings.setValue("last_dir", str(path.parent))
        recent = [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent_files", [str(path), *recent][:MAX_RECENT])
        self.recent_changed.emit()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def open_recent(self, path: str) -> bool:
        return self.open_session(path) if path.endswith(".json") else self.open_initialization(path)

    def _refuse_while_training(self, what: str) -> bool:
        if self.window.training.running:
            self.report("Training is running", f"Stop training before opening {what}.")
            return True
        return False

    # ---- initializations ----------------------------------------------------------------------------------------
    def open_initialization(self, path: str | None = None) -> bool:
        """Load an initialization as a new row of its domain (the playground, or the Classification tab)."""
        if self._refuse_while_training("an initialization"):
            return False
        path = path or self._ask_open("Open initialization", INIT_FILTER)
        if not path:
            return False
        try:
            init = load_initialization(path)
            self.window.check_for_domain(init, path)
        except MamlvizError as exc:
            self.report("Cannot open initialization", str(exc))
            return False
        label = display_name(init.algorithm) if init.algorithm != "unknown" else "initialization"
        name = self.state.free_name(f"{label} ({Path(path).name})")
        self.state.put_init(name, init, primary=init.algorithm != "pretrained")
        self.state.source = Path(path).name
        self.window.show_domain(init.config.domain)
        self.window.controls.training.follow_domain(init.config.domain)  # Start then trains in the file's domain
        self._remember(Path(path))
        return True

    def export_initialization(self, name: str | None = None, path: str | None = None) -> bool:
        """Export an initialization (default: the primary one, the highlighted row of the compare list)."""
        name = name or self.state.primary or ""
        init = self.state.inits.get(name)
        stem = f"{init.config.domain}_{init.algorithm}_init" if init else "init"
        return self._export(name, init, display_name(name), stem, path)

    def export_omniglot(self, path: str | None = None) -> bool:
        """Export the Omniglot initialization meta-trained in this app last."""
        trained = [n for n, i in self.state.inits_of("omniglot").items() if n in self.state.unsaved or "trained" in n]
        learned = [n for n in trained if self.state.inits[n].algorithm != "pretrained"]
        name = learned[-1] if learned else ""
        return self._export(name, self.state.inits.get(name), "trained Omniglot", "omniglot_init", path)

    def _export(self, name: str, init: Initialization | None, label: str, stem: str, path: str | None) -> bool:
        if init is None:
            self.report("Nothing to export", f"There is no {label} initialization to export.")
            return False
        path = path or self._ask_save(f"Export {label} initialization", f"{stem}.safetensors", INIT_FILTER)
        if not path:
            return False
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".safetensors")
        try:
            save_initialization(target, init)
        except (MamlvizError, OSError) as exc:
            self.report("Export failed", f"Could not write {target}: {exc}")
            return False
        self.state.mark_kept([name])
        self._remember(target)
        self.window.status.message(f"Exported {label} initialization to {target}.")
        return True

    # ---- sessions -----------------------------------------------------------------------------------------------
    def session(self) -> Session:
        """The playground as a session: settings, task, points, view and its initializations."""
        window, state = self.window, self.state
        try:
            config = window.controls.training.config()
        except MamlvizError:
            config = TrainConfig()
        adaptation = state.adaptation
        view = {
            "lr": adaptation.lr,
            "steps": adaptation.steps,
            "show_steps": adaptation.show_steps,
            "log_y": window.monitor.losses.log_y.isChecked(),
            "last_n": window.monitor.losses.last_n.value(),
            "sample_k": window.controls.task.shots.value(),
            "shown": [name for name in state.shown if name in state.inits_of(PLAYGROUND_DOMAIN)],
        }
        return Session(
            config, state.truth, state.points, view, state.inits_of(PLAYGROUND_DOMAIN), window.rl.view_state()
        )

    def save_session(self, path: str | None = None) -> bool:
        path = path or self._ask_save("Save session", "session.json", SESSION_FILTER)
        if not path:
            return False
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".json")
        session = self.session()
        try:
            save_session(target, session)
        except (MamlvizError, OSError) as exc:
            self.report("Saving the session failed", f"Could not write {target}: {exc}")
            return False
        self.state.mark_kept(session.inits)
        self._remember(target)
        self.window.status.message(f"Session saved to {target}.")
        return True

    def open_session(self, path: str | None = None) -> bool:
        if self._refuse_while_training("a session"):
            return False
        path = path or self._ask_open("Open session", SESSION_FILTER)
        if not path:
            return False
        try:
            session = load_session(path)
        except MamlvizError as exc:
            self.report("Cannot open session", str(exc))
            return False
        self.apply_session(session)
        self._remember(Path(path))
        return True

    def apply_session(self, session: Session) -> None:
        """Restore a session (validated whole when it was read) in one go."""
        window, state, view = self.window, self.state, session.view
        window.controls.training.set_config(session.config)
        window.controls.task.shots.setValue(int(view.get("sample_k", 5)))
        window.monitor.losses.log_y.setChecked(bool(view.get("log_y", True)))
        window.monitor.losses.last_n.setValue(int(view.get("last_n", 0)))
        if session.inits:
            playground = state.inits_of(PLAYGROUND_DOMAIN)
            others = {n: i for n, i in state.inits.items() if n not in playground}
            state.replace_inits(
                {**session.inits, **others},
                "session",
                [str(name) for name in view.get("shown", DEFAULT_SHOWN)],
                state.primary if state.primary in session.inits else None,
            )
        state.set_truth(session.truth)
        state.set_adaptation(
            float(view.get("lr", 0.01)), int(view.get("steps", 10)), bool(view.get("show_steps", False))
        )
        state.set_points(session.points)
        window.rl.restore_view(session.rl)

    # ---- plots --------------------------------------------------------------------------------------------------
    def _plot_item(self, key: str) -> pg.PlotItem:
        window = self.window
        widgets: dict[str, QWidget] = {
            "playground": window.playground.plot,
            "test-time": window.playground.mse_plot,
            "losses": window.monitor.losses.plot,
            "probe": window.monitor.probe.plot,
        }
        return widgets[key].getPlotItem()

    def export_png(self, key: str, path: str | None = None) -> bool:
        path = path or self._ask_save("Export plot as PNG", f"{key}.png", "PNG images (*.png)")
        if not path:
            return False
        item = self._plot_item(key)
        exporter = pyqtgraph.exporters.ImageExporter(item)
        exporter.parameters()["width"] = max(1200, int(item.sceneBoundingRect().width()))
        try:
            exporter.export(str(Path(path).with_suffix(".png")))
        except OSError as exc:
            self.report("Export failed", f"Could not write {path}: {exc}")
            return False
        return True

    def csv_table(self, key: str) -> tuple[list[str], np.ndarray]:
        """The data behind a plot as a header and a numeric table."""
        curves = self.window.playground.curves
        if key == "losses":
            return self.window.monitor.losses.table()
        if key == "test-time":
            names = [n for n, c in curves.items() if c.true_mse is not None]
            steps = max((len(curves[n].true_mse) for n in names), default=0)
            columns = [np.arange(steps, dtype=float)] + [curves[n].true_mse for n in names]
            return ["step", *(f"{n}_mse" for n in names)], np.column_stack(columns)
        truth = self.state.truth
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
            self.report("Export failed", f"Could not write {path}: {exc}")
            return False
        return True
