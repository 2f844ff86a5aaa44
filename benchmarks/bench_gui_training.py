"""Training inside the app versus headless, and GUI event-loop stalls while training runs.

One script run measures, on the same config (paper settings, N iterations):
  * headless: `Trainer(cfg, compile=...).iterate()` as `mamlviz train --compile ...` runs it (MAML only), and
    with the baseline;
  * in the app: Start → training_finished, MAML + pretrained side by side, plots updating;
  * stalls: a 5 ms QTimer on the GUI thread during one more app run; stall = tick gap − 5 ms.
The machine is shared and its speed drifts, so the runs alternate, headless, app, headless, app, ...,
each app run is compared with the mean of the headless runs just before and after it, and the median
of those ratios is printed with every one of them.

Like with like: both sides make the same compile choice, `--compile {auto,on,off}` (default auto, what the app and
`mamlviz train` do: compile the sinusoid (FO-)MAML meta-iteration from `fused.COMPILE_PAYS_FROM` = 20,000
iterations on, and the pretrained baseline's step beside it). The app is given it through
`mamlviz.gui.training.COMPILE`, headless through `Trainer(compile=...)`, and the lines printed say what each side
did. Where the choice compiles, one untimed warm-up run compiles the programs into this machine's cache (its seconds
are printed, a few milliseconds when they are cached already); every timed run, on both sides, then loads them from
there, as a fresh `mamlviz train` process or app session does.
Run: python benchmarks/bench_gui_training.py [--iters 1500] [--rounds 3] [--compile auto]
Compiled: --iters 20000 (auto chooses it; --rounds 2 takes over 10 minutes on a shared core), or --compile on at any
length, e.g. --iters 5000 --rounds 2 (the same compiled program, a quarter of the time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gui_harness import make_window
from PySide6.QtCore import QEventLoop, QTimer

import mamlviz.gui.training as app_training
from mamlviz.core.train import Trainer

COMPILE = {"auto": None, "on": True, "off": False}
"""`mamlviz train --compile` → `Trainer(compile=...)`."""


def compiles(trainer: Trainer) -> bool:
    return any(getattr(learner, "fused", None) is not None for learner in trainer.learners)


def headless_rate(cfg, with_baseline: bool, compile: bool | None) -> float:
    trainer = Trainer(cfg, with_baseline=with_baseline, compile=compile)
    start = time.perf_counter()
    for _ in trainer.iterate():
        pass
    return cfg.iterations / (time.perf_counter() - start)


def warm_up(cfg, compile: bool | None) -> tuple[bool, float]:
    """Whether this choice compiles and, if it does, the seconds of the untimed run that compiles it once."""
    trainer = Trainer(cfg, with_baseline=True, compile=compile)
    if not compiles(trainer):
        return False, 0.0
    start = time.perf_counter()
    next(trainer.iterate())
    return True, time.perf_counter() - start


def app_run(app, window, iterations: int, ticking: bool) -> tuple[float, float, np.ndarray]:
    """Iterations per second in the app, the GUI thread's share of one CPU and, when `ticking`, the event-loop
    stalls (ms) seen by a 5 ms timer (its 200 wake-ups a second cost the worker time: throughput is measured
    without it)."""
    window.controls.training.iterations.setValue(iterations)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    window.training.finished.connect(loop.quit)
    start, cpu = time.perf_counter(), time.thread_time()
    window.start_training()
    last[0] = time.perf_counter()
    if ticking:
        timer.start()
    loop.exec()
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
    timer.stop()
    window.training.finished.disconnect(loop.quit)
    stalls = np.maximum(np.array(gaps) - 0.005, 0) * 1000
    return iterations / elapsed, cpu / elapsed, stalls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3, help="app runs timed, each between two headless runs")
    parser.add_argument(
        "--compile", choices=tuple(COMPILE), default="auto", help="the compile choice of both sides (default auto)"
    )
    args = parser.parse_args()
    compile = COMPILE[args.compile]
    app_training.COMPILE = compile
    app, window = make_window()
    window.controls.training.iterations.setValue(args.iters)
    cfg = window.controls.training.config()
    compiled, compile_seconds = warm_up(cfg, compile)

    def headless(with_baseline: bool) -> float:
        return headless_rate(cfg, with_baseline, compile)

    def in_the_app(ticking: bool) -> tuple[float, float, np.ndarray]:
        window.reset_training()
        result = app_run(app, window, args.iters, ticking)
        app_compiled.append(compiles(window.training.worker.trainer))
        return result

    app_compiled: list[bool] = []
    maml_only, both, in_app, gui_cpu = [headless(False)], [headless(True)], [], []
    for _ in range(args.rounds):
        rate, cpu, _ = in_the_app(ticking=False)
        in_app.append(rate)
        gui_cpu.append(cpu)
        both.append(headless(True))
        maml_only.append(headless(False))
    ticked_rate, _, stall = in_the_app(ticking=True)
    window.close()
    same_work = [rate / np.mean(both[i : i + 2]) for i, rate in enumerate(in_app)]
    maml_work = [rate / np.mean(maml_only[i : i + 2]) for i, rate in enumerate(in_app)]

    def runs(values: list[float], fmt: str) -> str:
        return ", ".join(format(v, fmt) for v in values)

    print(
        f"config: {cfg.algo}, {cfg.iterations} iterations, meta-batch {cfg.meta_batch}, validation every "
        f"{cfg.val_every}; {args.rounds} app runs between headless runs"
    )
    how = "compiled (MAML and the pretrained baseline)" if compiled else "eager"
    when = (
        f"; compiling (or loading) took {compile_seconds:.2f} s in the untimed warm-up, and every timed run loads the "
        "compiled programs again"
        if compiled
        else ""
    )
    print(f"--compile {args.compile}: headless {how}; the app {'compiled' if all(app_compiled) else 'eager'}{when}")
    if all(app_compiled) != compiled:
        print("WARNING: the app and headless made different compile choices: the ratio compares unlike work")
    print(f"headless `mamlviz train` loop (MAML only): {runs(maml_only, '.1f')} it/s")
    print(f"headless MAML + pretrained:               {runs(both, '.1f')} it/s")
    print(f"in the app, MAML + pretrained, plots live: {runs(in_app, '.1f')} it/s")
    print(f"GUI thread's CPU time during those app runs: {runs(gui_cpu, '.0%')} of their wall time")
    for label, ratios in (("same work, MAML + pretrained", same_work), ("`mamlviz train`, MAML only", maml_work)):
        print(f"in-app / headless ({label}): median {np.median(ratios):.0%} ({runs(ratios, '.0%')})")
    print(
        f"GUI event-loop stalls during one more app run ({len(stall)} ticks of a 5 ms timer; {ticked_rate:.1f} it/s): "
        f"median {np.median(stall):.1f} ms, p99 {np.percentile(stall, 99):.1f} ms, max {stall.max():.1f} ms"
    )


if __name__ == "__main__":
    main()
