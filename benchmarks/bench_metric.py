"""ProtoNet / Matching Net episodes per second on CPU, one torch thread, one process: the batched
implementation (all tasks of a meta-batch through one embedding call, per-task batch statistics) vs a
per-task Python loop through the plain `nn.Sequential` (functional_call), in the same run.

Training: sample-free loss + backward + Adam step on a meta-batch of episodes; evaluation: the no-grad
accuracy of `mamlviz eval`'s chunks (50 tasks, 15 queries per class).

The table is printed twice: with glibc's default allocator settings, then (`mallopt`, Linux/glibc only) with
blocks up to 1 GiB kept on the heap. By default glibc serves each block above its mmap threshold (at most
32 MiB) with fresh pages, so a batched embedding's large activations page-fault on every call (system time)
while a per-task loop's small ones are reused; `MALLOC_MMAP_THRESHOLD_=1073741824
MALLOC_TRIM_THRESHOLD_=1073741824` in the environment has the second table's effect on `mamlviz` itself.

    taskset -c 0 python benchmarks/bench_metric.py [--ways 5 --shots 1 --queries 5 --meta-batch 16 --iters 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from bench_omniglot import synthetic_pool, time_iterations
from torch.func import functional_call

from mamlviz.core.allocator import keep_large_blocks_on_heap
from mamlviz.core.data import default_generator
from mamlviz.core.omniglot import metric
from mamlviz.core.omniglot.classification import ClassificationBatch, sample_classification_tasks


def per_task_log_probs(module, theta, rule: str, batch: ClassificationBatch) -> list[torch.Tensor]:
    """One task at a time: embed its support ∪ queries with the nn.Sequential, then apply the rule."""
    ways, out = batch.classes.shape[1], []
    for t in range(batch.support_x.shape[0]):
        both = functional_call(module, theta, (torch.cat([batch.support_x[t], batch.query_x[t]]),))
        support, queries = both[: batch.support_x.shape[1]], both[batch.support_x.shape[1] :]
        out.append(metric.LOG_PROBS[rule](support[None], batch.support_y[t : t + 1], queries[None], ways)[0])
    return out


def per_task_loss(module, theta, rule: str, batch: ClassificationBatch) -> torch.Tensor:
    logps = per_task_log_probs(module, theta, rule, batch)
    return sum(F.nll_loss(lp, y) for lp, y in zip(logps, batch.query_y, strict=True)) / len(logps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--meta-batch", type=int, default=16)
    parser.add_argument("--eval-tasks", type=int, default=50)
    parser.add_argument("--iters", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pool = synthetic_pool()
    generator = default_generator(0)
    theta = {k: v.requires_grad_(True) for k, v in metric.init_embedding_params(64, generator).items()}
    optimizer = torch.optim.Adam(theta.values(), lr=1e-3)
    module = metric.make_embedding(64)

    train_batch = sample_classification_tasks(pool, args.ways, args.shots, args.queries, args.meta_batch, generator)
    eval_batch = sample_classification_tasks(pool, args.ways, args.shots, 15, args.eval_tasks, generator)

    def train_step(loss_fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def step() -> None:
            optimizer.zero_grad()
            loss_fn().backward()
            optimizer.step()

        return step

    def eval_step(batched: bool, rule: str) -> Callable[[], None]:
        def step() -> None:
            with torch.no_grad():
                if batched:
                    metric.accuracy_per_task(rule, theta, eval_batch)
                else:
                    per_task_log_probs(module, {k: v.detach() for k, v in theta.items()}, rule, eval_batch)

        return step

    print(
        f"{args.ways}-way {args.shots}-shot; training: meta-batch {args.meta_batch} episodes of {args.queries} "
        f"queries/class; evaluation: {args.eval_tasks} tasks of 15 queries/class; embedding 4×64, 1 thread; "
        f"median of {args.iters}"
    )
    for setting in ("glibc default allocator", "large blocks kept on the heap (mallopt)"):
        if setting.startswith("large") and not keep_large_blocks_on_heap():
            print("  (mallopt is not available here: glibc only)")
            break
        print(f" {setting}:")
        table(args, theta, module, train_batch, eval_batch, train_step, eval_step)


def table(args, theta, module, train_batch, eval_batch, train_step, eval_step) -> None:
    for rule in metric.RULES:
        rates = {
            "train batched": time_iterations(
                train_step(lambda rule=rule: metric.metric_loss(rule, theta, train_batch)[0]), args.iters
            ),
            "train per-task loop": time_iterations(
                train_step(lambda rule=rule: per_task_loss(module, theta, rule, train_batch)), args.iters
            ),
            "eval batched": time_iterations(eval_step(True, rule), args.iters),
            "eval per-task loop": time_iterations(eval_step(False, rule), args.iters),
        }
        for kind, count in (("train", args.meta_batch), ("eval", args.eval_tasks)):
            batched, loop = rates[f"{kind} batched"], rates[f"{kind} per-task loop"]
            print(
                f"  {rule:<12} {kind:<5} batched {batched * count:8.1f} tasks/s   per-task loop {loop * count:8.1f} "
                f"tasks/s   {batched / loop:5.2f}× the loop"
            )


if __name__ == "__main__":
    main()
