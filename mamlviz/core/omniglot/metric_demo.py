"""The app's core for comparing every Omniglot learner on one task, numpy in and numpy out.

`ClassifierDemo` is a `FewShotDemo` that also holds metric learners (ProtoNet, Matching Net): `predict`
returns, for every named learner, class probabilities of shape (steps + 1, M, N); MAML-style learners adapt by
SGD (row s: after s steps), a metric learner takes no steps, so its rows are all the same. `view` gives a 2-D
PCA projection of a task's support and query embeddings with the class prototypes (a metric learner's
embedding; MAML's or the pretrained net's penultimate features after `steps` SGD steps).

Every call embeds the support and query drawings of a task in one batch, as training and `mamlviz eval` do
(batch norm uses the task's own statistics, so even a single drawn query is sound). Errors in the drawings
(empty drawing, class without a drawing, wrong labels) are one-sentence `DataError`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mamlviz.core.errors import DataError
from mamlviz.core.model import Params, expand_to_tasks
from mamlviz.core.omniglot import metric
from mamlviz.core.omniglot.classification import (
    adapt_and_predict,
    ce_sgd_steps,
    check_drawings,
    check_user_task,
    for_ways,
    has_meta_trained_head,
)
from mamlviz.core.omniglot.convnet import HEAD, conv_forward
from mamlviz.core.omniglot.fewshot_demo import FewShotDemo
from mamlviz.core.omniglot.training import validation_steps

Array = np.ndarray


@dataclass(frozen=True)
class Basis:
    """A 2-D PCA basis: `mean` (D,), `components` (2, D) orthonormal rows, `explained` (2,) variance fractions."""

    mean: Array
    components: Array
    explained: Array

    def project(self, points: Array) -> Array:
        """(n, D) → (n, 2)."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.components.T


@dataclass(frozen=True)
class EmbeddingView:
    """One task in 2-D: support (S, 2) with `support_labels` (S,), queries (Q, 2), prototypes (N, 2) = the
    projected class means of the support embeddings, and the `basis` (pass it back to keep the axes)."""

    support: Array
    support_labels: Array
    queries: Array
    prototypes: Array
    basis: Basis


def fit_pca(points: Array) -> Basis:
    """The 2-D PCA basis of (n, D) points; each axis's sign makes its largest loading positive (stable axes).
    Missing directions (fewer than 3 distinct points) get zero components and zero explained variance."""
    x = np.asarray(points, dtype=np.float64)
    mean = x.mean(0)
    centred = x - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    components = np.zeros((2, x.shape[1]))
    explained = np.zeros(2)
    total = float((singular**2).sum())
    for i in range(min(2, len(singular))):
        if singular[i] > 1e-12 * max(1.0, singular[0]):
            row = vt[i]
            components[i] = row if row[np.argmax(np.abs(row))] >= 0 else -row
            explained[i] = singular[i] ** 2 / total
    return Basis(mean, components, explained)


def view_of(support: Array, labels: Array, queries: Array, ways: int, basis: Basis | None = None) -> EmbeddingView:
    """The 2-D view of any features: support (S, D) with labels (S,), queries (Q, D); PCA of support ∪ queries
    unless a `basis` is given."""
    support, queries = np.asarray(support, np.float64), np.asarray(queries, np.float64)
    labels = np.asarray(labels, np.int64)
    means = np.stack([support[labels == n].mean(0) for n in range(ways)])
    basis = basis or fit_pca(np.concatenate([support, queries]))
    return EmbeddingView(basis.project(support), labels, basis.project(queries), basis.project(means), basis)


def _tensors(params: Params, support: Array, labels: Array, queries: Array) -> tuple[Params, Tensor, Tensor, Tensor]:
    params = {k: v.detach() for k, v in params.items()}
    dtype = next(iter(params.values())).dtype
    x = torch.from_numpy(support)[None, :, None].to(dtype)
    q = torch.from_numpy(queries)[None, :, None].to(dtype)
    return params, x, torch.from_numpy(labels)[None], q


def metric_predict(rule: str, params: Params, support: Array, labels: Array, queries: Array, ways: int) -> Array:
    """Class probabilities (Q, ways) of each query under a metric learner's `rule` ('protonet', 'matchingnet').

    `support` (S, 28, 28) and `queries` (Q, 28, 28) hold ink in [0, 1]; `labels` (S,) are 0..ways−1 and every
    class needs at least one drawing.
    """
    support, labels, queries = check_user_task(support, labels, queries, ways)
    params, x, y, q = _tensors(params, support, labels, queries)
    with torch.no_grad():
        return metric.log_probs(rule, params, x, y, q, ways)[0].exp().double().numpy()


def metric_embeddings(params: Params, support: Array, queries: Array) -> tuple[Array, Array]:
    """A metric learner's embeddings of one task's drawings: support (S, D) and queries (Q, D), one batch."""
    support = check_drawings(support, "support drawings")
    queries = check_drawings(queries, "query drawings")
    params, x, _, q = _tensors(params, support, np.zeros(len(support), np.int64), queries)
    with torch.no_grad():
        s, e = metric.embed_task(params, x, q)
    return s[0].double().numpy(), e[0].double().numpy()


def conv_features(
    theta: Params, support: Array, labels: Array, queries: Array, ways: int, lr: float, steps: int
) -> tuple[Array, Array]:
    """MAML's (or the pretrained net's) penultimate features of one task's drawings after `steps` SGD steps at
    rate `lr` on the support: support (S, F) and queries (Q, F), support and queries in one batch."""
    support, labels, queries = check_user_task(support, labels, queries, ways)
    theta, x, y, q = _tensors(theta, support, labels, queries)
    with torch.no_grad():
        start = expand_to_tasks(for_ways(theta, ways), 1)
        adapted = ce_sgd_steps(start, x, y, lr, steps, track=False)[-1]
        width = adapted[f"{HEAD}.weight"].shape[-1]  # an identity head: the "logits" are the features
        eye = torch.eye(width, dtype=x.dtype)[None]
        body = {**adapted, f"{HEAD}.weight": eye, f"{HEAD}.bias": eye.new_zeros(1, width)}
        features = conv_forward(body, torch.cat([x, q], 1))[0]
    return features[: len(support)].double().numpy(), features[len(support) :].double().numpy()


@dataclass(eq=False)
class ClassifierDemo(FewShotDemo):
    """`FewShotDemo` over every Omniglot learner: `rules` names each metric learner's rule ('protonet',
    'matchingnet'); the others (MAML, first-order MAML, pretrained) adapt by SGD at rate `lr`."""

    rules: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_files(
        cls,
        paths: dict[str, str | Path],
        data: str | Path | None,
        lr: float | None = None,
        ways: int | None = None,
        shots: int | None = None,
        also: Sequence[str] = (),
    ) -> ClassifierDemo:
        """Load Omniglot learners by name and the characters none of them meta-trained on, nor any learner trained on
        a split `also` names (from `data`; None: no pool).

        Tasks are `ways`-way `shots`-shot (None: the first file's test task); a meta-trained head of another number
        of ways is refused (the pretrained net's is replaced by a zero one, as in training). `lr` (else the first
        SGD learner's training α) adapts the SGD learners. Takes seconds the first time the data is decoded: call it
        off the GUI thread.
        """
        inits, pool = cls.load(paths, data, ways, also)
        first = next(iter(inits.values())).config
        ways, shots = ways or first.classification.ways, shots or first.classification.shots
        for name, init in inits.items():
            classes = init.params[f"{HEAD}.weight"].shape[-2] if has_meta_trained_head(init.algorithm) else ways
            if classes != ways:
                raise DataError(f"{paths[name]} was meta-trained for {classes}-way tasks, not {ways}-way ones.")
        sgd = [init.config for init in inits.values() if not metric.is_metric(init.config.algo)]
        rate = lr or (sgd[0].inner_lr if sgd else first.inner_lr)
        steps = max(validation_steps(sgd[0] if sgd else first))
        rules = {name: init.config.algo for name, init in inits.items() if metric.is_metric(init.config.algo)}
        params = {name: init.params for name, init in inits.items()}
        return cls(params, pool, ways, shots, rate, steps, rules)

    def predict(self, support: Array, labels: Array, queries: Array, steps: int) -> dict[str, Array]:
        """Probabilities (steps + 1, M, N) per learner; a metric learner's rows are all the same (no steps)."""
        result = {}
        for name, theta in self.inits.items():
            rule = self.rules.get(name)
            if rule is None:
                result[name] = adapt_and_predict(theta, support, labels, queries, self.ways, self.lr, steps)
            else:
                probs = metric_predict(rule, theta, support, labels, queries, self.ways)
                result[name] = np.repeat(probs[None], steps + 1, 0)
        return result

    def view(
        self, name: str, support: Array, labels: Array, queries: Array, steps: int = 0, basis: Basis | None = None
    ) -> EmbeddingView:
        """2-D PCA view of learner `name` on one task: a metric learner's embeddings, or an SGD learner's
        penultimate features after `steps` steps (pass the `basis` of its step-0 view to compare in one frame)."""
        theta = self.inits[name]
        if name in self.rules:
            support_c, labels_c, queries_c = check_user_task(support, labels, queries, self.ways)
            s, q = metric_embeddings(theta, support_c, queries_c)
        else:
            labels_c = np.asarray(labels, dtype=np.int64)
            s, q = conv_features(theta, support, labels, queries, self.ways, self.lr, steps)
        return view_of(s, labels_c, q, self.ways, basis)
