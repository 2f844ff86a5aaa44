"""Sinusoid meta-training beside the JAX anchor, in one run, each measurement pinned to the same core.

    python benchmarks/bench_jax.py [--jax-python JAXVENV/bin/python] [--core 0] [--rounds 3] [--scale] [--full]

Every figure comes from a subprocess pinned with `taskset` to one core, one thread each (XLA's flags for JAX):
- step rates at S = 1 and S = 5 (paper config: meta-batch 25, K = 10, second order): mamlviz's `Trainer` as
  `mamlviz train` drives it (task sampling included), eager and compiled, beside the anchor's host-sampled
  (`np-sample`, one jit call a step) and fused (`scan`) modes;
- with --scale, iterations/s, tasks/s and peak memory at meta-batch 25, 100 and 1,000 and K = 5, 10 and 50;
- with --full, the wall time of the whole 70,000-iteration `mamlviz train` process beside the anchor's `train`.
Without --jax-python the JAX figures are skipped (the anchor lives in ../shared/bench/, with how to make its venv).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ANCHOR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "jax_maml_anchor.py"
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

MEASURE = """
import json, resource, sys, time, torch
torch.set_num_threads(1)
from mamlviz.core.config import TaskConfig, TrainConfig
from mamlviz.core.train import Trainer
steps, batch, shots, compile, seconds = {steps}, {batch}, {shots}, {compile}, {seconds}
cfg = TrainConfig(inner_steps=steps, meta_batch=batch, task=TaskConfig(shots=shots, queries=shots),
                  iterations=1_000_000, val_every=1_000_000)
run = Trainer(cfg, compile=compile).iterate()
start = time.perf_counter(); next(run); first = time.perf_counter() - start
for _ in range(3): next(run)
rates = []
for _ in range(3):
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(run); done += 1
    rates.append(done / (time.perf_counter() - start))
memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rate": sorted(rates)[1], "first": first, "memory_mb": memory}}))
"""


def pinned(core: int, command: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run `command` on one core; its stdout and wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        ["taskset", "-c", str(core), *command], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if done.returncode:
        raise RuntimeError(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    return done.stdout, time.perf_counter() - start


def mamlviz_rate(core: int, steps: int, batch: int, shots: int, compile: bool, seconds: float) -> dict[str, float]:
    code = MEASURE.format(steps=steps, batch=batch, shots=shots, compile=compile, seconds=seconds)
    out, _ = pinned(core, [sys.executable, "-c", code], {"OMP_NUM_THREADS": "1"})
    return json.loads(out.strip().splitlines()[-1])


def jax_rates(core: int, python: str, steps: list[int], batches: list[int], shots: int) -> dict[tuple, float]:
    """{(S, meta-batch, mode): it/s} from the anchor's bench mode."""
    big = [b for b in batches if b != 25]
    command = [python, str(ANCHOR), "bench", "--inner-steps", *map(str, steps), "--modes", "np-sample", "scan"]
    command += ["--k", str(shots), "--seconds", "2", "--big-batches", *map(str, big)]
    out, _ = pinned(core, command, {"XLA_FLAGS": XLA_ONE_THREAD})
    rates = {}
    for line in out.splitlines():
        found = re.search(r"S=(\d+) 2nd-order MB=\s*(\d+) K=\d+ (\S+).*?([\d.]+) it/s", line)
        if found:
            s, mb, mode, rate = found.groups()
            rates[(int(s), int(mb), mode)] = float(rate)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jax-python", help="the Python of a venv with jax, jaxlib and optax (see shared/bench)")
    parser.add_argument("--core", type=int, default=0, help="the core every measurement is pinned to")
    parser.add_argument("--seconds", type=float, default=2.0, help="each of the 3 timing windows")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of the step-rate comparison")
    parser.add_argument("--scale", action="store_true", help="also the scale table (minutes)")
    parser.add_argument("--full", action="store_true", help="also the whole 70,000-iteration runs (minutes)")
    args = parser.parse_args()
    jax = args.jax_python
    if jax is None:
        print("JAX figures skipped: give --jax-python (a venv with jax[cpu] and optax, see ../shared/bench).")

    print(f"step rate, paper config (meta-batch 25, K = 10, second order), it/s; {args.rounds} rounds, each JAX then")
    print("mamlviz back to back; each figure the median of 3 windows")
    print(f"{'round':>5} {'S':>2} {'eager':>8} {'compiled':>9} {'JAX np-sample':>14} {'JAX scan':>9} {'ratio':>22}")
    ratios: dict[int, list[tuple[float, float]]] = {1: [], 5: []}
    for round_ in range(1, args.rounds + 1):
        jax_table = jax_rates(args.core, jax, [1, 5], [25], 10) if jax else {}
        for steps in (1, 5):
            eager = mamlviz_rate(args.core, steps, 25, 10, False, args.seconds)["rate"]
            compiled = mamlviz_rate(args.core, steps, 25, 10, True, args.seconds)["rate"]
            per_step, scan = jax_table.get((steps, 25, "np-sample")), jax_table.get((steps, 25, "scan"))
            ratio = "–"
            if per_step and scan:
                ratios[steps].append((compiled / per_step, compiled / scan))
                ratio = f"{compiled / per_step:.2f}x / {compiled / scan:.2f}x"
            cells = f"{per_step or float('nan'):>14.0f} {scan or float('nan'):>9.0f}"
            print(f"{round_:>5} {steps:>2} {eager:>8.0f} {compiled:>9.0f} {cells} {ratio:>22}", flush=True)
    for steps, found in ratios.items():
        if found:
            per_step, scan = (statistics.median(column) for column in zip(*found, strict=True))
            print(f"S = {steps}: median ratio {per_step:.2f}x over JAX np-sample, {scan:.2f}x over JAX scan")
    print("(ratio: compiled mamlviz over JAX np-sample / over JAX scan)")

    if args.scale:
        scale_table(args, jax)
    if args.full:
        full_runs(args, jax)


def scale_table(args: argparse.Namespace, jax: str | None) -> None:
    print("\nscale, S = 1, second order, compiled mamlviz (JAX scan beside): it/s, tasks/s, peak memory")
    print(f"{'batch':>6} {'K':>3} {'it/s':>8} {'tasks/s':>9} {'MB':>6} {'JAX it/s':>9} {'JAX tasks/s':>12}")
    for shots in (5, 10, 50):
        table = jax_rates(args.core, jax, [1], [25, 100, 1000], shots) if jax else {}
        for batch in (25, 100, 1000):
            got = mamlviz_rate(args.core, 1, batch, shots, True, args.seconds)
            other = table.get((1, batch, "scan"), float("nan"))
            print(
                f"{batch:>6} {shots:>3} {got['rate']:>8.0f} {got['rate'] * batch:>9.0f} {got['memory_mb']:>6.0f} "
                f"{other:>9.0f} {other * batch:>12.0f}"
            )


def full_runs(args: argparse.Namespace, jax: str | None) -> None:
    print("\nwhole 70,000-iteration runs (process wall time, compile and start-up included)")
    with tempfile.TemporaryDirectory() as tmp:
        for steps in (1, 5):
            command = [sys.executable, "-m", "mamlviz", "train", "--iters", "70000", "--inner-steps", str(steps)]
            command += ["--out", f"{tmp}/s{steps}.safetensors"]
            _, ours = pinned(args.core, command, {"OMP_NUM_THREADS": "1"})
            line = f"S = {steps}: mamlviz train {ours:.1f} s"
            if jax:
                anchor = [jax, str(ANCHOR), "train", "--inner-steps", str(steps), "--iters", "70000"]
                _, theirs = pinned(args.core, anchor, {"XLA_FLAGS": XLA_ONE_THREAD})
                line += (
                    f", JAX anchor train {theirs:.1f} s (its meta-test included): JAX time / ours {theirs / ours:.2f}"
                )
            print(line, flush=True)


if __name__ == "__main__":
    main()
