"""N-way K-shot image classification: task sampling, MAML / first-order MAML / pretrained baseline
with a cross-entropy loss, batched over tasks, and the accuracy evaluation protocol.

Classes are Omniglot characters, each also rotated by 90°, 180° and 270° as extra classes (as the
paper). Labels inside a task are 0..N−1 in a random order of the drawn classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mamlviz.core.config import METRIC_ALGORITHMS
from mamlviz.core.data import default_generator
from mamlviz.core.errors import ConfigError, DataError
from mamlviz.core.evaluate import EvalCurve, check_evaluation, summarize
from mamlviz.core.model import Params, expand_to_tasks
from mamlviz.core.omniglot.convnet import HEAD, IMAGE_SIZE, conv_forward, with_new_head
from mamlviz.core.omniglot.data import OmniglotSplit


@dataclass(frozen=True)
class ImagePool:
    """Every drawing of a split: `images` (rotations, characters, drawers, 28, 28) uint8, ink = 255."""

    images: Tensor

    @classmethod
    def from_split(cls, split: OmniglotSplit, rotations: bool = True) -> ImagePool:
        images = torch.from_numpy(np.ascontiguousarray(split.images))
        turns = range(4) if rotations else range(1)
        return cls(torch.stack([torch.rot90(images, k, dims=(-2, -1)) for k in turns]))

    @property
    def n_classes(self) -> int:
        return self.images.shape[0] * self.images.shape[1]

    @property
    def drawers(self) -> int:
        return self.images.shape[2]


@dataclass(frozen=True)
class ClassificationBatch:
    """T tasks: images (T, N·K, 1, 28, 28) in [0, 1], labels (T, N·K) in 0..N−1; `classes` (T, N) pool ids."""

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    classes: Tensor

    def to(self, device: torch.device | str) -> ClassificationBatch:
        return ClassificationBatch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def sample_classification_tasks(
    pool: ImagePool, ways: int, shots: int, queries: int, n_tasks: int, generator: torch.Generator
) -> ClassificationBatch:
    """n_tasks N-way tasks with K support and Q query drawings per class, drawn without replacement."""
    if ways > pool.n_classes:
        raise ConfigError(f"{ways}-way tasks need {ways} classes, but the data has only {pool.n_classes}.")
    if shots >= pool.drawers:
        raise ConfigError(
            f"{shots} shots per class leave no drawing to test on: each character has {pool.drawers} drawings, "
            f"so use at most {pool.drawers - 1} shots."
        )
    if shots + queries > pool.drawers or queries < 1:
        raise ConfigError(
            f"shots + queries per class ({shots} + {queries}) exceed the {pool.drawers} drawings of each character."
        )
    classes = torch.rand(n_tasks, pool.n_classes, generator=generator).argsort(1)[:, :ways]
    drawers = torch.rand(n_tasks, ways, pool.drawers, generator=generator).argsort(2)[..., : shots + queries]
    characters = pool.images.shape[1]
    rotation, character = (classes // characters)[..., None], (classes % characters)[..., None]
    images = pool.images[rotation, character, drawers].unsqueeze(3).float() / 255  # (T, N, K+Q, 1, 28, 28)
    labels = torch.arange(ways).view(1, ways, 1)

    def split(part: slice, count: int) -> tuple[Tensor, Tensor]:
        x = images[:, :, part].reshape(n_tasks, ways * count, 1, IMAGE_SIZE, IMAGE_SIZE)
        return x, labels.expand(n_tasks, ways, count).reshape(n_tasks, ways * count)

    support_x, support_y = split(slice(0, shots), shots)
    query_x, query_y = split(slice(shots, shots + queries), queries)
    return ClassificationBatch(support_x, support_y, query_x, query_y, classes)


def ce_per_task(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of each task, shape (T,)."""
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(labels.shape).mean(1)


def accuracy_per_task(logits: Tensor, labels: Tensor) -> Tensor:
    return (logits.argmax(-1) == labels).double().mean(1)


def ce_sgd_steps(
    params: Params, x: Tensor, y: Tensor, lr: float, steps: int, *, first_order: bool = False, track: bool = True
) -> list[Params]:
    """SGD on each task's support cross-entropy: parameters after 0..steps updates.

    `track` keeps the graph to the initial parameters (second order unless `first_order`, which
    treats each inner gradient as a constant); without it every step is detached (evaluation).
    """
    trajectory = [params]
    for _ in range(steps):
        with torch.enable_grad():
            live = params if track else {k: v.detach().requires_grad_(True) for k, v in params.items()}
            loss = ce_per_task(conv_forward(live, x), y).sum()
            grads = torch.autograd.grad(loss, list(live.values()), create_graph=track and not first_order)
        params = {k: live[k] - lr * g for (k, g) in zip(live, grads, strict=True)}
        if not track:
            params = {k: v.detach() for k, v in params.items()}
        trajectory.append(params)
    return trajectory


def maml_ce_loss(
    theta: Params, batch: ClassificationBatch, inner_lr: float, inner_steps: int, *, first_order: bool = False
) -> tuple[Tensor, Tensor]:
    """Mean query cross-entropy after adaptation (differentiable w.r.t. θ) and before it (detached)."""
    shared = expand_to_tasks(theta, batch.support_x.shape[0])
    adapted = ce_sgd_steps(shared, batch.support_x, batch.support_y, inner_lr, inner_steps, first_order=first_order)
    post = ce_per_task(conv_forward(adapted[-1], batch.query_x), batch.query_y).mean()
    with torch.no_grad():
        pre = ce_per_task(conv_forward(shared, batch.query_x), batch.query_y).mean()
    return post, pre


def pretrained_ce_loss(theta: Params, batch: ClassificationBatch) -> Tensor:
    """Ordinary classification of every drawing of the meta-batch among all training classes."""
    images = torch.cat([batch.support_x, batch.query_x], 1)
    labels = torch.gather(batch.classes, 1, torch.cat([batch.support_y, batch.query_y], 1))
    logits = conv_forward(expand_to_tasks(theta, 1), images.flatten(0, 1)[None])
    return ce_per_task(logits, labels.flatten()[None]).mean()


def for_ways(theta: Params, ways: int) -> Params:
    """θ ready for N-way tasks: a head of another size (the pretrained baseline's) is replaced by a zero one."""
    return theta if theta[f"{HEAD}.weight"].shape[-2] == ways else with_new_head(theta, ways)


def has_meta_trained_head(algorithm: str) -> bool:
    """Whether a learner's last layer is a meta-trained N-way head (not a metric learner's embedding, not the
    pretrained net's head, which is fine-tuned from zero)."""
    return algorithm not in METRIC_ALGORITHMS and algorithm != "pretrained"


def check_head(theta: Params, ways: int, algorithm: str, source: str) -> None:
    """Refuse to test a meta-trained head on another number of ways (it would be replaced by zeros, silently);
    the pretrained baseline's head is replaced on purpose (it is fine-tuned from zero)."""
    if not has_meta_trained_head(algorithm):
        return
    classes = theta[f"{HEAD}.weight"].shape[-2]
    if classes != ways:
        raise ConfigError(
            f"{source} was meta-trained for {classes}-way tasks (its head has {classes} outputs), so it cannot be "
            f"tested on {ways}-way tasks; evaluate it with --ways {classes}, or leave --ways out."
        )


def accuracy_after_steps(theta: Params, batch: ClassificationBatch, lr: float, steps: int) -> Tensor:
    """(steps + 1, T) query accuracy of every task after 0..steps SGD updates from θ."""
    with torch.no_grad():
        theta = for_ways({k: v.detach() for k, v in theta.items()}, batch.classes.shape[1])
        shared = expand_to_tasks(theta, batch.support_x.shape[0])
        trajectory = ce_sgd_steps(shared, batch.support_x, batch.support_y, lr, steps, track=False)
        return torch.stack([accuracy_per_task(conv_forward(p, batch.query_x), batch.query_y) for p in trajectory])


def evaluate_classification(
    theta: Params,
    pool: ImagePool,
    ways: int,
    shots: int,
    steps: int,
    *,
    lr: float,
    n_tasks: int = 600,
    queries: int = 15,
    seed: int = 0,
    chunk: int = 50,
) -> EvalCurve:
    """Query accuracy (fraction) after 0..steps updates over n_tasks fresh seeded tasks, mean ± 95% interval."""
    theta = for_ways(theta, ways)  # a pretrained baseline's head of thousands of classes is not what is adapted
    check_evaluation(n_tasks, steps, [shots], sum(v.numel() for v in theta.values()), chunk)
    generator = default_generator(seed)
    queries = min(queries, pool.drawers - shots)
    accuracies = []
    for start in range(0, n_tasks, chunk):
        batch = sample_classification_tasks(pool, ways, shots, queries, min(chunk, n_tasks - start), generator)
        accuracies.append(accuracy_after_steps(theta, batch, lr, steps))
    return summarize(shots, torch.cat(accuracies, 1))


def check_drawings(images: np.ndarray, what: str) -> np.ndarray:
    """(n, 28, 28) float images in [0, 1] (ink = 1); a wrong size or an empty drawing is a DataError."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{what} must be {IMAGE_SIZE}×{IMAGE_SIZE} images, got an array of shape {images.shape}.")
    if images.shape[0] == 0:
        raise DataError(f"there are no {what}.")
    empty = np.flatnonzero(images.reshape(len(images), -1).max(1) <= 0)
    if empty.size:
        raise DataError(f"{what} number {empty[0] + 1} is empty: draw something first.")
    return images


def check_user_task(
    support: np.ndarray, labels: np.ndarray, queries: np.ndarray, ways: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A user's task as (support, labels, queries) checked: drawings in bounds, labels 0..ways−1, every class drawn."""
    support = check_drawings(support, "support drawings")
    queries = check_drawings(queries, "query drawings")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(support),) or labels.min() < 0 or labels.max() >= ways:
        raise DataError(f"support labels must be {len(support)} class numbers between 0 and {ways - 1}.")
    missing = sorted(set(range(ways)) - set(labels.tolist()))
    if missing:
        raise DataError(f"class {missing[0] + 1} has no drawing yet: draw at least one example for every class.")
    return support, labels, queries


def adapt_and_predict(
    theta: Params, support: np.ndarray, labels: np.ndarray, queries: np.ndarray, ways: int, lr: float, steps: int
) -> np.ndarray:
    """One user task: class probabilities of each query after 0..steps updates, (steps + 1, Q, ways).

    `support` (S, 28, 28) and `queries` (Q, 28, 28) hold ink in [0, 1]; `labels` (S,) are 0..ways−1
    and every class needs at least one drawing. Queries are classified in one batch with the support
    drawings, so batch norm never normalises a lone drawn query by its own statistics.
    """
    support, labels, queries = check_user_task(support, labels, queries, ways)
    dtype = next(iter(theta.values())).dtype
    x = torch.from_numpy(support)[None, :, None].to(dtype)
    q = torch.from_numpy(queries)[None, :, None].to(dtype)
    with torch.no_grad():
        start = expand_to_tasks(for_ways({k: v.detach() for k, v in theta.items()}, ways), 1)
        trajectory = ce_sgd_steps(start, x, torch.from_numpy(labels)[None], lr, steps, track=False)
        both = torch.cat([x, q], 1)  # batch statistics of support ∪ queries: sound even for a single query
        probs = torch.stack([torch.softmax(conv_forward(p, both)[0, len(support) :], -1) for p in trajectory])
    return probs.double().numpy()
