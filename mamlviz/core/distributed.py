"""Training one model on several processes (torchrun): each rank takes its share of every meta-batch's tasks.

DDP does not synchronise gradients of gradients, so the meta-gradient is all-reduced here: each rank's gradient
(a mean over its tasks) is weighted by its share of the tasks and summed, which is the mean over the global
meta-batch. Every rank samples the same meta-batch from the same seeded generator and keeps only its slice, so
N ranks compute what one process computes, up to the order of summation. θ is broadcast from rank 0 at the start.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from mamlviz.core.errors import ConfigError
from mamlviz.core.model import Params


@dataclass(frozen=True)
class Ranks:
    """This process's place among the processes training one model."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0 writes files and progress."""
        return self.rank == 0

    def share(self, n_tasks: int) -> slice:
        """The contiguous slice of a meta-batch's tasks this rank trains on (shares differ by at most one)."""
        base, extra = divmod(n_tasks, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


SINGLE = Ranks()


def from_environment(device: torch.device) -> Ranks:
    """The ranks torchrun started (WORLD_SIZE, RANK, MASTER_ADDR… in the environment), else one process.

    Joins the process group: gloo on CPU, NCCL on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size())


def leave(ranks: Ranks) -> None:
    """Wait for every rank (rank 0 evaluates and saves after training), then leave the process group together.

    A rank that exited while rank 0 was still saving aborted in CI ("terminate called without an active
    exception", twice in 2-rank runs that had finished training)."""
    if ranks.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def take_tasks(batch: Any, part: slice) -> Any:
    """The tasks `part` of a batch whose every field has the tasks first (TaskBatch, ClassificationBatch)."""
    return type(batch)(*(getattr(batch, field.name)[part] for field in fields(batch)))


def mean_over_ranks(
    ranks: Ranks, weight: float, grads: Params, loss: Tensor, device: torch.device
) -> tuple[Params, Tensor]:
    """The global-mean meta-gradient and loss from this rank's means over its tasks (`weight`: its share)."""
    names = list(grads)
    flat = torch.cat([grads[name].reshape(-1) for name in names] + [loss.detach().reshape(1)]) * weight
    flat = flat.to(device)
    dist.all_reduce(flat)
    out, offset = {}, 0
    for name in names:
        size = grads[name].numel()
        out[name] = flat[offset : offset + size].view_as(grads[name])
        offset += size
    return out, flat[-1]


def reducer(ranks: Ranks, n_tasks: int, device: torch.device) -> Callable[[Params, Tensor], tuple[Params, Tensor]]:
    """What a learner applies to its meta-gradient and loss before stepping, on this rank."""
    part = ranks.share(n_tasks)
    return partial(mean_over_ranks, ranks, (part.stop - part.start) / n_tasks, device=device)


def broadcast(params: Params) -> None:
    """Every rank starts from rank 0's parameters (in place)."""
    with torch.no_grad():
        for value in params.values():
            dist.broadcast(value.data, src=0)


def any_rank(ranks: Ranks, flag: bool, device: torch.device) -> bool:
    """Whether `flag` is set on some rank (all ranks get the same answer: they stop at the same iteration)."""
    if ranks.world == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def check_same_inputs(ranks: Ranks, description: str) -> None:
    """Refuse, on every rank, a run whose ranks were given different settings or files."""
    if ranks.world == 1:
        return
    digest = hashlib.sha256(description.encode()).hexdigest()
    digests: list[str | None] = [None] * ranks.world
    dist.all_gather_object(digests, digest)
    differ = [rank for rank, other in enumerate(digests) if other != digests[0]]
    if differ:
        raise ConfigError(f"rank(s) {', '.join(map(str, differ))} were given other settings or files than rank 0.")


def file_digest(path: os.PathLike | str) -> str:
    """A file's content hash, for `check_same_inputs`."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
