"""The status bar: device, progress (iteration, rate, ETA, meta-loss) and which initializations are shown."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from mamlviz.progress import format_duration

COMPILING = "Compiling the meta-iteration"
COMPILE_TIME = "about 30 s the first time"
"""`fused.MetaUpdate`'s first call: about 30 s the first time on a machine, milliseconds once its programs are
cached."""


class StatusLine:
    """Permanent labels on a status bar; each training phase states itself, so nothing stays stale."""

    KEYS = ("device", "iteration", "rate", "eta", "loss", "init")

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.labels = {key: QLabel() for key in self.KEYS}
        for label in self.labels.values():
            bar.addPermanentWidget(label)
        self.labels["iteration"].setToolTip("Meta-iterations done / asked for")
        self.idle()

    def _set(self, **texts: str) -> None:
        for key, text in texts.items():
            self.labels[key].setText(text)

    def set_device(self, text: str) -> None:
        self._set(device=f"Device: {text}")

    def set_init(self, text: str) -> None:
        self._set(init=f"Init: {text}" if text else "")

    def idle(self) -> None:
        """Before any run, or after Reset."""
        self._set(iteration="Not training (F5 starts)", rate="", eta="", loss="")

    def progress(self, done: int, total: int, rate: float, loss: float | None) -> None:
        eta = (total - done) / rate if rate > 0 else 0.0
        self._set(
            iteration=f"it {done:,} / {total:,}",
            rate=f"{rate:,.0f} it/s",
            eta=f"ETA {format_duration(eta)}",
            loss="" if loss is None else f"meta-loss {loss:.3f}",
        )

    def compiling(self, done: int, total: int, seconds: float) -> None:
        """While an iteration compiles the meta-iteration (`seconds` so far): no rate or ETA until it is done."""
        so_far = f" {seconds:.0f} s," if seconds >= 1 else ""
        self._set(iteration=f"{COMPILING} ({COMPILE_TIME})…{so_far} at it {done:,} / {total:,}", rate="", eta="")

    def paused(self, done: int, total: int) -> None:
        self._set(iteration=f"paused at it {done:,} / {total:,}", rate="", eta="")

    def ended(self, done: int, total: int) -> None:
        self._set(iteration=f"ended at it {done:,} / {total:,}", rate="", eta="")

    def message(self, text: str, ms: int = 5000) -> None:
        self.bar.showMessage(text, ms)

    def message_now(self, text: str) -> None:
        """A message painted at once, before the GUI thread blocks (e.g. waiting for a compile to finish)."""
        self.bar.showMessage(text)
        self.bar.repaint()

    def text(self) -> str:
        """Everything the permanent labels say (for tests and screen readers)."""
        return " · ".join(label.text() for label in self.labels.values() if label.text())
