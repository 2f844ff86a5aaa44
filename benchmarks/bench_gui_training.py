"""Training inside the app versus headless, and GUI event-loop stalls while training runs.

One script run measures, on the same config (paper settings, N iterations):
  * headless: `Trainer(cfg).iterate()` as `mamlviz train` runs it (MAML only), and with the baseline;
  * in the app: Start → training_finished, MAML + pretrained side by side, plots updating;
  * stalls: a 5 ms QTimer on the GUI thread during one more app run; stall = tick gap − 5 ms.
The machine is shared and its speed drifts, so the runs alternate, headless, app, headless, app, ...,
each app run is compared with the mean of the headless runs just before and after it, and the median
of those ratios is printed with every one of them.
Run: python benchmarks/bench_gui_training.py [--iters 1500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gui_harness import make_window
from PySide6.QtCore import QEventLoop, QTimer

from mamlviz.core.train import Trainer


def headless_rate(cfg, with_baseline: bool) -> float:
    trainer = Trainer(cfg, with_baseline=with_baseline)
    start = time.perf_counter()
    for _ in trainer.iterate():
        pass
    return cfg.iterations / (time.perf_counter() - start)


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
    args = parser.parse_args()
    app, window = make_window()
    window.controls.training.iterations.setValue(args.iters)
    cfg = window.controls.training.config()
    maml_only, both, in_app, gui_cpu = [headless_rate(cfg, False)], [headless_rate(cfg, True)], [], []
    for _ in range(args.rounds):
        window.reset_training()
        rate, cpu, _ = app_run(app, window, args.iters, ticking=False)
        in_app.append(rate)
        gui_cpu.append(cpu)
        both.append(headless_rate(cfg, True))
        maml_only.append(headless_rate(cfg, False))
    window.reset_training()
    ticked_rate, _, stall = app_run(app, window, args.iters, ticking=True)
    window.close()
    same_work = [rate / np.mean(both[i : i + 2]) for i, rate in enumerate(in_app)]
    maml_work = [rate / np.mean(maml_only[i : i + 2]) for i, rate in enumerate(in_app)]

    def runs(values: list[float], fmt: str) -> str:
        return ", ".join(format(v, fmt) for v in values)

    print(
        f"config: {cfg.algo}, {cfg.iterations} iterations, meta-batch {cfg.meta_batch}, validation every "
        f"{cfg.val_every}; {args.rounds} app runs between headless runs"
    )
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
