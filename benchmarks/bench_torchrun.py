"""torchrun on one machine: `mamlviz train` meta-iterations per second with N ranks × 1 torch thread against one
process with 1 thread, for Omniglot (5-way 1-shot second-order MAML, meta-batch 32: splitting pays) and for the
sinusoid (paper settings: an iteration is under a millisecond, so the all-reduces per iteration cost more than it).

Each round runs both, in alternating order (the machine may be shared and noisy); the rate is the CLI's own
"after I iterations in S s" (training and the one final validation, which only rank 0 runs, so it counts against the
ranks), and the table holds every round and the median ratio. Needs as many free cores as ranks.

    python benchmarks/bench_torchrun.py [--ranks 2] [--rounds 2] [--data ../shared/data/omniglot]
        [--omniglot-iters 40] [--sinusoid-iters 3000] [--only omniglot|sinusoid]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SAVED = re.compile(r"after (\d+) iterations in ([\d.]+) s")


def rate(train_args: list[str], ranks: int, folder: Path) -> float:
    """Meta-iterations per second of one `mamlviz train` run on `ranks` processes of one thread each."""
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"] if ranks > 1 else []
    out = folder / f"{ranks}.safetensors"
    command = [sys.executable, *launcher, "-m", "mamlviz", "train", *train_args, "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    found = SAVED.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(found[1]) / float(found[2])


def compare(name: str, train_args: list[str], ranks: int, rounds: int) -> None:
    """Print each round's rates and the median ratio of `ranks` ranks to one process."""
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            order = (1, ranks) if r % 2 == 0 else (ranks, 1)
            rates = {n: rate(train_args, n, Path(folder)) for n in order}
            ratios.append(rates[ranks] / rates[1])
            print(
                f"{name:9} round {r + 1}: 1 rank {rates[1]:8.2f} it/s   {ranks} ranks {rates[ranks]:8.2f} it/s   "
                f"ratio {ratios[-1]:.2f}x",
                flush=True,
            )
    print(f"{name:9} median ratio, {ranks} ranks × 1 thread / 1 process × 1 thread: {statistics.median(ratios):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", default=str(Path(__file__).parents[2] / "shared" / "data" / "omniglot"))
    parser.add_argument("--omniglot-iters", type=int, default=40)
    parser.add_argument("--sinusoid-iters", type=int, default=3000)
    parser.add_argument("--only", choices=("omniglot", "sinusoid"))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; each rank and the single process run one torch thread")
    quiet = ["--val-tasks", "1"]
    if args.only != "sinusoid":
        omniglot = ["--domain", "omniglot", "--data", args.data, "--iters", str(args.omniglot_iters)]
        compare("omniglot", [*omniglot, "--val-every", str(args.omniglot_iters), *quiet], args.ranks, args.rounds)
    if args.only != "omniglot":
        sinusoid = ["--iters", str(args.sinusoid_iters), "--val-every", str(args.sinusoid_iters), *quiet]
        compare("sinusoid", sinusoid, args.ranks, args.rounds)


if __name__ == "__main__":
    main()
