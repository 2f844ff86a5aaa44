"""The training controller: start, pause, stop and reset a meta-training run, and route its chunks.

The `Trainer` is built on a job (decoding Omniglot takes seconds) and then belongs to the worker thread: the
controller only reads what each chunk carries. Snapshots become initializations in the app state; the monitor and
the status line are views it drives (any objects with the same methods: the tests use mocks).

Like `mamlviz train --compile auto`, a run compiles its sinusoid (FO-)MAML meta-iteration, and the pretrained
baseline's step beside it, where it is long enough (`fused.compile_by_default`). The iteration that compiles takes
about 30 s the first time on a machine (later runs load the program from the cache in milliseconds): the status line
counts them, and a pause or stop asked meanwhile says that it waits for the compile, which cannot be interrupted.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from mamlviz.core import registry
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.device import describe, resolve_device
from mamlviz.core.fused import COMPILE_COST
from mamlviz.core.model import Params
from mamlviz.core.sinusoid.playground import make_probe, probe_fit
from mamlviz.core.train import Trainer
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.shipped import DEFAULT_SHOWN
from mamlviz.gui.state import AppState
from mamlviz.gui.status import COMPILE_TIME
from mamlviz.gui.style import display_name
from mamlviz.gui.worker import TrainingChunk, TrainingWorker

STOP_WAIT_MS = 1000
COMPILE: bool | None = None
"""The `Trainer`'s `compile`: None is `mamlviz train --compile auto` (`fused.compile_by_default`)."""
COMPILE_NOTE = f"Compiling each meta-iteration into one call: {COMPILE_COST}."
PAUSE_AFTER_COMPILE = f"Training pauses once the meta-iteration is compiled ({COMPILE_TIME})."
STOP_AFTER_COMPILE = f"Stopping once the meta-iteration is compiled ({COMPILE_TIME}): a compile cannot be interrupted."


class MonitorView(Protocol):
    def reset(self, probe: object, steps: int, total: int, names: list[str]) -> None: ...

    def append(self, chunk: TrainingChunk) -> None: ...

    def finish(self) -> None: ...

    def clear(self) -> None: ...


class StatusView(Protocol):
    def set_device(self, text: str) -> None: ...

    def idle(self) -> None: ...

    def progress(self, done: int, total: int, rate: float, loss: float | None) -> None: ...

    def compiling(self, done: int, total: int, seconds: float) -> None: ...

    def paused(self, done: int, total: int) -> None: ...

    def ended(self, done: int, total: int) -> None: ...

    def message(self, text: str, ms: int = 5000) -> None: ...

    def message_now(self, text: str) -> None: ...


class TrainingController(QObject):
    """Owns the run: its worker, its state (building, running, paused) and the names its snapshots get."""

    started = Signal()
    finished = Signal()
    chunk_received = Signal(object)
    run_state_changed = Signal()
    failed = Signal(str, str, str)
    """(title, one sentence, details) of what stopped a run or prevented it."""
    snapshot_taken = Signal(int, object, object)
    """(iteration, θ of the learner being meta-trained, its config): for the gradient-flow view."""

    def __init__(self, state: AppState, monitor: MonitorView, status: StatusView, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.monitor, self.status = state, monitor, status
        self.jobs = JobRunner(queue_latest=True, parent=self)
        self.jobs.finished.connect(self._on_job)
        self.worker: TrainingWorker | None = None
        self.config: TrainConfig | None = None
        self.done = 0
        """The iteration the last chunk carried."""
        self.validation: dict[str, float] = {}
        self.names: dict[str, str] = {}
        """Learner → the state's name for what it trains in this run."""
        self.compiling = False
        """Whether the worker said it is compiling the meta-iteration (and has not said it is done)."""
        self.compile_began = 0.0
        self.compile_clock = QTimer(self)
        self.compile_clock.setInterval(1000)
        self.compile_clock.timeout.connect(self._show_compiling)
        self.device = describe(resolve_device("cpu"))
        status.set_device(self.device)

    # ---- what the actions ask ---------------------------------------------------------------------------------
    @property
    def building(self) -> bool:
        return self.jobs.has("build", 0)

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    @property
    def paused(self) -> bool:
        return self.running and self.worker.paused

    def warm_up(self, work: Callable[[], object]) -> None:
        """Run the app's warm-up first on the same job runner: a run started meanwhile waits for it."""
        self.jobs.run("warm-up", work)

    def start(self, config: TrainConfig, device_name: str) -> None:
        """Start a fresh run (or resume a paused one)."""
        if self.running:
            if self.worker.paused:
                self.toggle_pause()
            return
        if self.building:
            return
        self.status.message("Preparing meta-training…", 0)
        self.jobs.submit(Job("build", 0, lambda: self._build(config, device_name)))
        self.run_state_changed.emit()

    @staticmethod
    def _build(config: TrainConfig, device_name: str) -> Trainer:
        """On the job: the run's trainer (an unknown device or a bad config fails the job, with its sentence)."""
        return Trainer(config, with_baseline=True, device=resolve_device(device_name), compile=COMPILE)

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.worker.paused:
            self.worker.resume()
            self.status.message("Training resumed.", 3000)
        elif self.compiling or self.worker.compiling_now:  # it pauses after the compiling iteration, and says so
            self.worker.pause()
            self.status.message(PAUSE_AFTER_COMPILE, 0)
        else:
            self.worker.pause()
            self.status.paused(self.done, self.config.iterations)
            self.status.message("Training paused.", 3000)
        self.run_state_changed.emit()

    def pause(self) -> bool:
        """Pause a running run; returns whether it was running unpaused (so the caller can resume it)."""
        if self.running and not self.worker.paused:
            self.toggle_pause()
            return True
        return False

    def stop(self, wait: bool = False) -> None:
        """Ask the worker to stop after its iteration (`wait`: and wait for it, e.g. for a compile to finish)."""
        if self.running:
            compiling = self.compiling or self.worker.compiling_now  # the worker's own flag: its signal is queued
            self.worker.stop()
            if compiling and wait:
                self.status.message_now(STOP_AFTER_COMPILE)  # painted before this thread blocks
            elif compiling:
                self.status.message(STOP_AFTER_COMPILE, 0)
            if wait and not self.worker.wait(STOP_WAIT_MS):
                self.worker.wait()

    def reset(self) -> None:
        """Stop and forget the run (the caller puts the initializations back)."""
        self.stop(wait=True)
        self.worker = self.config = None
        self.done, self.validation, self.names = 0, {}, {}
        self._compiled()
        self.monitor.clear()
        self.status.idle()
        self.run_state_changed.emit()

    def shutdown(self) -> None:
        """On closing: cancel a build, stop the worker and wait for it; what it still sends is dropped."""
        self.jobs.stop()
        self.stop(wait=True)
        self.worker = None
        self._compiled()

    def show_before_training(self) -> None:
        """The probe plot is never empty: before any run it shows the shipped MAML and pretrained fits."""
        config, steps = TrainConfig(), 10
        probe = make_probe(config.task, 5)
        self.monitor.probe.reset(probe, steps)
        inits = self.state.inits
        fits = {n: probe_fit(inits[n].params, probe, config.inner_lr, steps) for n in DEFAULT_SHOWN if n in inits}
        self.monitor.probe.add(0, fits, caption="shipped, before training")

    # ---- the run ----------------------------------------------------------------------------------------------
    def _on_job(self, job: Job) -> None:
        if job.name != "build":
            return
        self.status.message("", 1)
        if job.failed:
            self.run_state_changed.emit()
            self.failed.emit("Cannot start training", job.sentence(), job.details)
            return
        self._start_worker(job.result)

    def _start_worker(self, trainer: Trainer) -> None:
        config = self.config = trainer.cfg
        spec = registry.get(config.domain)
        probe = spec.make_probe(config) if spec.make_probe else None
        steps = max(config.inner_steps, 10)
        learners = [learner.algo for learner in trainer.learners]
        self.done, self.validation = trainer.iteration, {}
        self.names = {algo: self.state.free_name(f"{display_name(algo)} (trained here)") for algo in learners}
        self.monitor.reset(probe, steps, config.iterations, learners)
        self.worker = TrainingWorker(trainer, probe, steps)
        self.worker.chunk.connect(self._on_chunk)
        self.worker.compiling.connect(self._on_compiling)
        self.worker.diverged.connect(self._on_diverged)
        self.worker.failed.connect(lambda message, details: self.failed.emit("Training failed", message, details))
        self.worker.finished.connect(self._on_finished)
        self.device = describe(trainer.device)
        self.status.set_device(self.device)
        self.started_at = time.perf_counter()
        self.worker.start()
        self.run_state_changed.emit()
        self.started.emit()

    def _on_compiling(self, active: bool) -> None:
        if self.worker is None or self.sender() is not self.worker or self.config is None:
            return
        if active:
            self.compiling, self.compile_began = True, time.perf_counter()
            asked = STOP_AFTER_COMPILE if self.worker.stopping else PAUSE_AFTER_COMPILE if self.worker.paused else None
            self.status.message(asked or COMPILE_NOTE, 0)  # a pause or stop asked before this signal came
            self._show_compiling()
            self.compile_clock.start()
            return
        seconds = self._compiled()
        if self.worker.paused:  # asked while compiling
            self.status.paused(self.done, self.config.iterations)
            self.status.message("Training paused.", 3000)
        else:
            loaded = "Loaded the compiled meta-iteration from this machine's cache."
            self.status.message(f"Compiled the meta-iteration in {seconds:.0f} s." if seconds >= 1 else loaded, 4000)

    def _show_compiling(self) -> None:
        if self.compiling and self.config is not None:
            seconds = time.perf_counter() - self.compile_began
            self.status.compiling(self.done, self.config.iterations, seconds)

    def _compiled(self) -> float:
        """The compile is over (done, failed, or the run is gone): stop counting; returns its seconds."""
        self.compile_clock.stop()
        seconds = time.perf_counter() - self.compile_began if self.compiling else 0.0
        self.compiling = False
        return seconds

    def _on_chunk(self, chunk: TrainingChunk) -> None:
        if self.worker is None or self.sender() is not self.worker or self.config is None:
            return  # a chunk of a run that was reset or closed
        config = self.config
        self.monitor.append(chunk)
        self.done = chunk.iteration
        for _, values in chunk.validation:
            self.validation = dict(values)
        if self.worker.paused:  # the pause's own chunk carries the iteration it stopped at
            self.status.paused(self.done, config.iterations)
        elif len(chunk.iterations):
            loss = chunk.losses.get(f"{config.algo}/post")
            self.status.progress(self.done, config.iterations, chunk.rate, None if loss is None else float(loss[-1]))
        if chunk.snapshot is not None:
            self._keep(chunk.snapshot, chunk.inner_lrs or {}, chunk.iteration)
        self.chunk_received.emit(chunk)

    def _keep(self, snapshot: dict[str, Params], inner_lrs: dict[str, Params | None], iteration: int) -> None:
        """Each learner's snapshot becomes (or replaces) its '… (trained here)' initialization, ticked."""
        metrics = {"validation": dict(self.validation)}
        self.state.source = f"trained here ({iteration:,} it)"
        for algo, params in snapshot.items():
            config = dataclasses.replace(self.config, algo=algo)  # the baseline's file says it is the baseline
            init = Initialization(params, config, algo, iteration, metrics, inner_lrs.get(algo))
            self.state.put_init(self.names[algo], init, primary=algo == self.config.algo, unsaved=True)
        self.snapshot_taken.emit(iteration, snapshot[self.config.algo], self.config)

    def _on_diverged(self, message: str) -> None:
        if self.config is None:
            return
        self.status.paused(self.done, self.config.iterations)
        self.run_state_changed.emit()
        self.failed.emit("Training paused", message, "")

    def _on_finished(self) -> None:
        if self.worker is None or self.sender() is not self.worker:
            return
        self._compiled()  # after an error inside the compile the worker never said it was done
        self.monitor.finish()
        self.status.ended(self.done, self.config.iterations)
        self.status.message(f"Training ended after {self.done:,} iterations.", 5000)
        self.run_state_changed.emit()
        self.finished.emit()
