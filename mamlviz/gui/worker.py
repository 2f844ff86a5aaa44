"""The training worker: a QThread that iterates `Trainer.iterate()` and streams throttled chunks."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from mamlviz.core.errors import TrainingDiverged
from mamlviz.core.model import Params
from mamlviz.core.sinusoid.playground import Probe, probe_fit
from mamlviz.core.train import Trainer


@dataclass
class TrainingChunk:
    """Everything that happened since the previous chunk (no iteration is dropped)."""

    iteration: int
    """The trainer's iteration when the chunk was made (probe fits and snapshot belong to it)."""
    iterations: np.ndarray
    losses: dict[str, np.ndarray]
    validation: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    probe: dict[str, np.ndarray] | None = None
    """Per learner: (3, G) probe predictions before, after 1 and after S steps, at `iteration`."""
    snapshot: dict[str, Params] | None = None
    inner_lrs: dict[str, Params | None] | None = None
    """Per learner, with the snapshot: its learned inner step sizes (None for a learner with plain α)."""
    rate: float = 0.0
    """Iterations per second of active (unpaused) training."""


class TrainingWorker(QThread):
    """Runs one trainer until it finishes or is stopped; pause/resume/stop are thread-safe.

    Chunks are emitted at most `max_hz` times a second; probe fits and parameter snapshots ride
    along at most every `probe_period` seconds. A non-finite loss pauses (θ stays finite).
    The defaults keep the GUI thread near 10% of a CPU while training (measured: 15-17% at 10 Hz and
    1 s, 11-13% at 7 Hz and 1.5 s); the worker loses about that share of its time to it through the GIL
    (an idle GUI thread left training at 89-95% of headless, one at 13% at 71-81%).
    The loop leaves GIL hand-offs to the interpreter, which makes one when the GUI thread has waited
    `sys.getswitchinterval()` (5 ms): a `time.sleep(0)` after every iteration cost the compiled sinusoid run a
    quarter of its rate (56-73% of headless against 79-91% without, one core) and did not shorten the GUI's stalls.

    An iteration that compiles the meta-iteration (`fused.MetaUpdate`: the first one of a compiled run, and the
    first second-order one after `first_order_until`) takes seconds with no chunk: `compiling` says so, True just
    before it and False once it is done (not after an unexpected error: `failed` then says what happened). It cannot
    be interrupted, so a pause or stop asked meanwhile takes effect when it is done. Its seconds and that one
    iteration are left out of `rate`, which stays the steady rate an ETA needs.
    """

    chunk = Signal(object)
    diverged = Signal(str)
    failed = Signal(str, str)
    compiling = Signal(bool)

    def __init__(
        self,
        trainer: Trainer,
        probe: Probe | None,
        probe_steps: int,
        max_hz: float = 5.0,
        probe_period: float = 2.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.trainer = trainer
        self.probe = probe
        self.probe_steps = probe_steps
        self.min_interval = 1.0 / max_hz
        self.probe_period = probe_period
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._pending: list[tuple[int, dict[str, float]]] = []
        self._validation: list[tuple[int, dict[str, float]]] = []
        self._start_time = 0.0
        self._paused_seconds = 0.0
        self._start_iteration = trainer.iteration
        self._compiles = [learner.fused for learner in trainer.learners if _compiles_alone(learner)]
        """The learners' compiled `MetaUpdate`s (asked before each iteration whether it compiles)."""
        self._compile_began: float | None = None
        self._compile_seconds = 0.0
        self._compiled_iterations = 0

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked (the worker may still be finishing its iteration)."""
        return self._stop.is_set()

    def run(self) -> None:
        self._start_time = time.perf_counter()
        try:
            self._loop()
        except Exception as exc:  # any failure must reach the user, not kill the app
            self._flush(with_probe=False)
            self.failed.emit(f"Training stopped because of an unexpected error: {exc}", traceback.format_exc())

    def _wait_while_paused(self) -> None:
        self._flush(with_probe=True)
        began = time.perf_counter()
        self._running.wait()
        self._paused_seconds += time.perf_counter() - began

    @property
    def compiling_now(self) -> bool:
        """Whether the iteration running now compiles (read from any thread)."""
        return self._compile_began is not None

    def _check_compile(self) -> None:
        """Before an iteration: if it compiles, flush what is pending and say so."""
        upcoming = self.trainer.iteration + 1
        if upcoming > self.trainer.cfg.iterations:
            return
        if any(fused.compiles_at(upcoming) for fused in self._compiles):
            self._flush(with_probe=False)
            self._compile_began = time.perf_counter()
            self.compiling.emit(True)

    def _compile_done(self) -> float:
        """After the compiling iteration (whatever its outcome): its seconds leave the rate; returns now."""
        now = time.perf_counter()
        if self._compile_began is not None:
            self._compile_seconds += now - self._compile_began
            self._compiled_iterations += 1
            self._compile_began = None
            self.compiling.emit(False)
        return now

    def _loop(self) -> None:
        last_emit = last_probe = 0.0
        while not self._stop.is_set():
            try:
                if self._compiles:
                    self._check_compile()
                for progress in self.trainer.iterate():
                    if self._compile_began is not None:
                        # the next chunk comes one interval later, with a rate measured after the compile
                        last_emit = self._compile_done()
                    self._pending.append((progress.iteration, progress.losses))
                    if progress.validation:
                        self._validation.append((progress.iteration, progress.validation))
                    now = time.perf_counter()
                    if now - last_emit >= self.min_interval:
                        with_probe = now - last_probe >= self.probe_period
                        self._flush(with_probe)
                        last_emit = now
                        last_probe = now if with_probe else last_probe
                    if self._stop.is_set():
                        break
                    if not self._running.is_set():
                        self._wait_while_paused()
                    if self._compiles:
                        self._check_compile()
            except TrainingDiverged as exc:
                self._compile_done()  # compiled, and its first result was not finite
                self._running.clear()
                self.diverged.emit(str(exc))
                self._wait_while_paused()
                continue
            break
        self._flush(with_probe=True)

    def _flush(self, with_probe: bool) -> None:
        if not self._pending and not with_probe:
            return
        pending, self._pending = self._pending, []
        validation, self._validation = self._validation, []
        keys = sorted({k for _, losses in pending for k in losses})
        iterations = np.array([i for i, _ in pending], dtype=np.int64)
        losses = {k: np.array([p.get(k, np.nan) for _, p in pending], dtype=np.float64) for k in keys}
        probe = snapshot = inner_lrs = None
        if with_probe:
            snapshot = self.trainer.snapshot()
            inner_lrs = {learner.algo: learner.learned_lrs() for learner in self.trainer.learners}
            lr = self.trainer.cfg.inner_lr
            if self.probe is not None:
                probe = {name: probe_fit(theta, self.probe, lr, self.probe_steps) for name, theta in snapshot.items()}
        active = time.perf_counter() - self._start_time - self._paused_seconds - self._compile_seconds
        done = self.trainer.iteration - self._start_iteration - self._compiled_iterations
        rate = done / active if active > 0 and done > 0 else 0.0
        chunk = TrainingChunk(self.trainer.iteration, iterations, losses, validation, probe, snapshot, inner_lrs, rate)
        self.chunk.emit(chunk)


def _compiles_alone(learner: object) -> bool:
    """Whether a learner steps through a compiled `MetaUpdate` (one on several ranks steps eagerly)."""
    fused = getattr(learner, "fused", None)
    return fused is not None and getattr(learner, "reduce", None) is None
