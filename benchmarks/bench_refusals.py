"""How long mamlviz takes to refuse what would hurt it, and to close while training (latency, not correctness).

The tests check that each refusal is one sentence and happens before anything large is allocated; this script
times them, with the same generated inputs:
- initialization files whose header claims 40 GB, or a learned step size of 10⁹ rows (a sparse file on disk);
- a session document of a million points;
- closing the main window while it trains (the worker must have stopped when `close()` returns).
Targets: each refusal well under 0.5 s, closing under 1 s.

    python benchmarks/bench_refusals.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's mamlviz and tests

import torch
from gui_harness import make_window

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import TrainConfig
from mamlviz.core.errors import MamlvizError
from mamlviz.core.model import init_params
from mamlviz.core.sessions import FORMAT, FORMAT_VERSION, parse_session
from tests.core.test_hostile_initializations import shapes_and_metadata, write_raw


def seconds_to_refuse(attempt, repeats: int) -> float:
    """Median seconds until `attempt()` raises a MamlvizError."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            attempt()
        except MamlvizError:
            times.append(time.perf_counter() - start)
        else:
            raise SystemExit(f"{attempt} was not refused")
    return statistics.median(times)


def hostile_files(folder: Path) -> dict[str, Path]:
    config = TrainConfig(iterations=10)
    real = folder / "real.safetensors"
    save_initialization(real, Initialization(init_params(config.model, torch.Generator()), config, "maml", 10))
    shapes, metadata = shapes_and_metadata(real)
    lslr = {**json.loads(metadata["config"]), "lslr": True, "inner_steps": 5}
    return {
        "header claims 40 GB": write_raw(
            folder / "40GB.safetensors", metadata, {**shapes, "junk": ("F32", [10**5] * 2)}
        ),
        "step size of 10⁹ rows": write_raw(
            folder / "rows.safetensors",
            {**metadata, "config": json.dumps(lslr)},
            {**shapes, "inner_lr.4.bias": ("F32", [10**9, 1])},
        ),
    }


def seconds_to_close_while_training() -> float:
    app, window = make_window()
    training = window.controls.training
    training.iterations.setValue(5_000)
    training.meta_batch.setValue(4)
    window.start_training()
    deadline = time.perf_counter() + 60
    while window.training.done < 3 and time.perf_counter() < deadline:
        app.processEvents()
    worker = window.training.worker
    start = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - start
    assert worker is not None and worker.isFinished(), "the worker was still running after close()"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per refusal (the median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, path in hostile_files(Path(folder)).items():
            seconds = seconds_to_refuse(lambda p=path: load_initialization(p), args.repeats)
            print(f"refuse a file whose {name}: {1000 * seconds:.2f} ms")
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.loads(json.dumps(TrainConfig().to_dict())),
        "points": [[0.0, 0.0]] * 1_000_000,
    }
    seconds = seconds_to_refuse(lambda: parse_session(document), args.repeats)
    print(f"refuse a session of a million points: {1000 * seconds:.2f} ms")
    print(f"close the window while training: {1000 * seconds_to_close_while_training():.0f} ms")


if __name__ == "__main__":
    main()
