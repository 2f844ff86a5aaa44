"""A text progress bar for long CLI work (written to stderr).

Hand-written because long trainings are logged to files: tqdm redraws with carriage returns whatever the stream,
so a log becomes one ever-growing line, and rich's progress draws nothing on a stream that is not a terminal. This
bar writes one line per tenth (and per minute) to a log, and redraws in place on a terminal.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """`update(done, suffix)` redraws at most 10 times a second (when not a terminal: every 10%, and at least
    once a minute, so a long run written to a log still shows it is alive)."""

    LOG_PERIOD_S = 60.0

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.last_decile = -1
        self.interactive = self.stream.isatty()

    def update(self, done: int, suffix: str = "") -> None:
        now = time.perf_counter()
        decile = 10 * done // self.total
        if self.interactive and now - self.last_draw < 0.1 and done < self.total:
            return
        if not self.interactive and decile == self.last_decile and now - self.last_draw < self.LOG_PERIOD_S:
            return
        self.last_draw, self.last_decile = now, decile
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        filled = 24 * done // self.total
        line = (
            f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {done}/{self.total} "
            f"{rate:,.{0 if rate >= 10 else 2}f} it/s ETA {format_duration(eta)} {suffix}"
        )
        self.stream.write(("\r" + line + "\x1b[K") if self.interactive else line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (e.g. a validation figure), kept above the bar, which is redrawn at the next update."""
        self.stream.write(("\r" + text + "\x1b[K\n") if self.interactive else text + "\n")
        self.stream.flush()
        self.last_draw = 0.0

    def close(self) -> float:
        """Finish the line; return elapsed seconds."""
        if self.interactive:
            self.stream.write("\n")
        return time.perf_counter() - self.start
