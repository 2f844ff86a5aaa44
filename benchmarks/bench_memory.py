"""Peak memory of sinusoid meta-training: flat in the number of iterations, growing with S and the meta-batch.

    python benchmarks/bench_memory.py [--core 0] [--compile on|off]

Each configuration trains in its own process, pinned to one core: the paper config (K = 10) at S = 1 and 5 and
meta-batch 25, 100 and 1,000. The process's peak resident memory (`ru_maxrss`) is read after building the trainer,
after 200 iterations, after 2,000, and after the run's end (its final validation); what training adds is the peak at
2,000 iterations minus the first figure (torch's own libraries are most of the process). Compiled, each
configuration runs twice and the second is shown: the first may compile its program into the cache, and a compile's
own memory is not training's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

MEASURE = """
import json, resource, torch
torch.set_num_threads(1)
from mamlviz.core.config import TrainConfig
from mamlviz.core.train import Trainer
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
trainer = Trainer(TrainConfig(inner_steps={steps}, meta_batch={batch}, iterations=2001, val_every=10**6),
                  with_baseline=False, compile={compile})
figures, run = [peak()], trainer.iterate()
for iteration, _ in enumerate(run, 1):
    if iteration in (200, 2000):
        figures.append(peak())
figures.append(peak())
print(json.dumps(figures))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--compile", choices=("on", "off"), default="on")
    args = parser.parse_args()
    compile = args.compile == "on"
    print(f"peak resident memory, MB ({'compiled' if compile else 'eager'}; one process per row, core {args.core})")
    print(f"{'S':>2} {'batch':>6} {'built':>7} {'200 it':>7} {'2000 it':>8} {'end':>6} {'training adds':>14}")
    for steps in (1, 5):
        for batch in (25, 100, 1000):
            code = MEASURE.format(steps=steps, batch=batch, compile=compile)
            for _ in range(2 if compile else 1):
                done = subprocess.run(
                    ["taskset", "-c", str(args.core), sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "OMP_NUM_THREADS": "1"},
                    check=True,
                )
            built, early, late, end = json.loads(done.stdout.strip().splitlines()[-1])
            row = f"{steps:>2} {batch:>6} {built:>7.0f} {early:>7.0f} {late:>8.0f} {end:>6.0f}"
            print(f"{row} {late - built:>14.0f}", flush=True)


if __name__ == "__main__":
    main()
