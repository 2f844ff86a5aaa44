"""The app's one way to run work off the GUI thread.

A `JobRunner` runs one `Job` at a time on a Python thread and hands it back, finished, on the GUI thread. Every
exception the work raises becomes the job's result (with its traceback), so no screen waits forever. A job can
be cancelled (its work may poll `runner.cancelled()`), and `JobRunner.stop_all()` joins every runner's thread
before the window closes: a thread still inside torch when Python exits aborts the process.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QObject, Qt, Signal


@dataclass
class Job:
    """One computation: `compute()` runs off the GUI thread; `result` is its value or the exception it raised."""

    name: str
    version: int
    compute: Callable[[], object]
    context: object = None
    """What the result is about (the inputs it is computed from), for its caption."""
    result: object = None
    details: str = ""
    """The traceback, when `compute` raised."""
    cancelled: bool = False

    @property
    def failed(self) -> bool:
        return isinstance(self.result, BaseException)

    def sentence(self) -> str:
        """The failure as one sentence (the exception's first line, else its type)."""
        exc = self.result
        text = (str(exc).strip().splitlines() or [""])[0].strip() if isinstance(exc, BaseException) else ""
        return text or type(exc).__name__


class JobRunner(QObject):
    """Runs one job at a time on a Python thread and hands it back, finished, on the GUI thread.

    A job submitted while one runs waits as the next one (replacing any older waiting job) when `queue_latest`,
    or is dropped otherwise. A cancelled job's result is not handed back."""

    started = Signal(object)
    finished = Signal(object)
    _landed = Signal(object)
    live: ClassVar[weakref.WeakSet[JobRunner]] = weakref.WeakSet()

    def __init__(self, queue_latest: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue_latest = queue_latest
        self.running: Job | None = None
        self.waiting: Job | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._closed = False
        self._landed.connect(self._on_landed, Qt.ConnectionType.QueuedConnection)
        JobRunner.live.add(self)

    @property
    def busy(self) -> bool:
        return self.running is not None or self.waiting is not None

    def submit(self, job: Job) -> bool:
        """Start `job` now if idle; returns whether it started. A stopped runner starts nothing more."""
        if self._closed:
            return False
        if self.running is None:
            self._start(job)
            return True
        if self.queue_latest:
            self.waiting = job
        return False

    def run(self, name: str, compute: Callable[[], object], context: object = None) -> bool:
        """Shorthand: submit a job of version 0."""
        return self.submit(Job(name, 0, compute, context))

    def has(self, name: str, version: int) -> bool:
        """Whether a job named `name` at `version` is running or waiting."""
        return any(job.name == name and job.version == version for job in (self.running, self.waiting) if job)

    def cancelled(self) -> bool:
        """For the running work to poll: stop early, its result will be dropped."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Drop the waiting job and ask the running one to stop; neither is handed back."""
        self.waiting = None
        if self.running is not None:
            self.running.cancelled = True
            self._cancel.set()

    def stop(self, timeout_s: float | None = None) -> bool:
        """Cancel, then wait for the thread (at most `timeout_s`); returns whether it ended. No job starts later."""
        self._closed = True
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self._thread is None or not self._thread.is_alive()

    @classmethod
    def all_idle(cls) -> bool:
        """Whether no runner has a job running or waiting."""
        return not any(runner.busy for runner in cls.live)

    @classmethod
    def stop_all(cls) -> None:
        """Cancel every runner's work and join their threads (on closing the window)."""
        for runner in list(cls.live):
            runner.stop()

    def _start(self, job: Job) -> None:
        self.running = job
        self._cancel.clear()
        self._thread = threading.Thread(target=self._work, args=(job,), name=f"job: {job.name}", daemon=True)
        self._thread.start()
        self.started.emit(job)

    def _work(self, job: Job) -> None:
        try:
            job.result = job.compute()
        except Exception as exc:  # every failure reaches the GUI thread as the job's result
            job.result, job.details = exc, traceback.format_exc()
        with contextlib.suppress(RuntimeError):  # the runner was deleted with its window
            self._landed.emit(job)

    def _on_landed(self, job: Job) -> None:
        self.running = None
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            self._start(waiting)
        if not job.cancelled:
            self.finished.emit(job)
