"""The training controller: start, pause, stop and reset a meta-training run, and route its chunks.

The `Trainer` is built on a job (decoding Omniglot takes seconds) and then belongs to the worker thread: the
controller only reads what each chunk carries. Snapshots become initializations in the app state; the monitor and
the status line are views it drives (any objects with the same methods: the tests use mocks).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from mamlviz.core import registry
from mamlviz.core.checkpoint import Initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.device import describe, resolve_device
from mamlviz.core.model import Params
from mamlviz.core.sinusoid.playground import make_probe, probe_fit
from mamlviz.core.train import Trainer
from mamlviz.gui.jobs import Job, JobRunner
from mamlviz.gui.shipped import DEFAULT_SHOWN
from mamlviz.gui.state import AppState
from mamlviz.gui.style import display_name
from mamlviz.gui.worker import TrainingChunk, TrainingWorker

STOP_WAIT_MS = 1000


class MonitorView(Protocol):
    def reset(self, probe: object, steps: int, total: int, names: list[str]) -> None: ...

    def append(self, chunk: TrainingChunk) -> None: ...

    def finish(self) -> None: ...

    def clear(self) -> None: ...


class StatusView(Protocol):
    def set_device(self, text: str) -> None: ...

    def idle(self) -> None: ...

    def progress(self, done: int, total: int, rate: float, loss: float | None) -> None: ...

    def paused(self, done: int, total: int) -> None: ...

    def ended(self, done: int, total: int) -> None: ...

    def message(self, text: str, ms: int = 5000) -> None: ...


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
        self.jobs.submit(
            Job("build", 0, lambda: Trainer(config, with_baseline=True, device=resolve_device(device_name)))
        )
        self.run_state_changed.emit()

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.worker.paused:
            self.worker.resume()
            self.status.message("Training resumed.", 3000)
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
        if self.running:
            self.worker.stop()
            if wait and not self.worker.wait(STOP_WAIT_MS):
                self.worker.wait()

    def reset(self) -> None:
        """Stop and forget the run (the caller puts the initializations back)."""
        self.stop(wait=True)
        self.worker = self.config = None
        self.done, self.validation, self.names = 0, {}, {}
        self.monitor.clear()
        self.status.idle()
        self.run_state_changed.emit()

    def shutdown(self) -> None:
        """On closing: cancel a build, stop the worker and wait for it; what it still sends is dropped."""
        self.jobs.stop()
        self.stop(wait=True)
        self.worker = None

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
        self.worker.diverged.connect(self._on_diverged)
        self.worker.failed.connect(lambda message, details: self.failed.emit("Training failed", message, details))
        self.worker.finished.connect(self._on_finished)
        self.device = describe(trainer.device)
        self.status.set_device(self.device)
        self.started_at = time.perf_counter()
        self.worker.start()
        self.run_state_changed.emit()
        self.started.emit()

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
        self.monitor.finish()
        self.status.ended(self.done, self.config.iterations)
        self.status.message(f"Training ended after {self.done:,} iterations.", 5000)
        self.run_state_changed.emit()
        self.finished.emit()
