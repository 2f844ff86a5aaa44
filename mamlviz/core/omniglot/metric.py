"""Metric-based few-shot learners beside MAML: Prototypical Networks (Snell et al. 2017) and Matching
Networks without full-context embeddings (Vinyals et al. 2016), batched over tasks.

Both share one embedding, the plain `nn.Sequential` of `make_embedding`:
4 × [3×3 conv, `filters` channels, padding 1 → batch norm → ReLU → 2×2 max-pool] → flatten, a 64-d
vector at 28×28 (28 → 14 → 7 → 3 → 1). Its batch norms keep no running statistics
(`track_running_stats=False`), so each task is embedded with the statistics of its own support ∪ query
drawings (transductive, like the MAML conv net here): plain PyTorch that embeds one task's drawings in
one batch gets the same vectors. Parameter names are that module's `state_dict`.

Classifier rules (named in the exported metadata, `RULES`):
- protonet: class prototype = mean support embedding; logits = −‖q − c_n‖²; softmax over them.
- matchingnet: attention a(q, s_i) = softmax_i 10·cos(q, s_i) over the support; p(y = n | q) = Σ_i a_i [y_i = n].

Every function takes a leading task dim T and runs the T tasks as one batch (no loop over tasks).
Training (`MetricLearner`): Adam at the meta learning rate (the paper's 1e-3), halved every
`LR_HALVING` iterations; an iteration is one meta-batch of episodes (`meta_batch` 1: one episode,
as in the paper), with `train_ways`-way episodes (the paper: 60) of `queries` queries per class (5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mamlviz.core.config import METRIC_ALGORITHMS, ClassificationConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import ConfigError
from mamlviz.core.evaluate import EvalCurve, summarize
from mamlviz.core.model import Params
from mamlviz.core.omniglot.classification import ClassificationBatch, ImagePool, sample_classification_tasks
from mamlviz.core.omniglot.convnet import BLOCKS, BN_EPS, IMAGE_SIZE
from mamlviz.core.omniglot.training import ClassificationDomain
from mamlviz.core.train import Gradient, Learner, autograd_gradient

RULES = {
    "protonet": "softmax over negative squared Euclidean distances to the class means of the support embeddings "
    "(Prototypical Networks, Snell et al. 2017)",
    "matchingnet": "softmax over 10 × the cosine similarities of the query and each support embedding, support "
    "labels mixed by that attention (Matching Networks without full-context embeddings, Vinyals et al. 2016)",
}
"""Classifier rule of each metric learner, as the exported metadata names it."""
LR_HALVING = 2000
"""The meta learning rate halves every this many iterations (the ProtoNet paper: every 2,000 episodes)."""
TRAIN_DEFAULTS = {"iterations": 10_000, "meta_batch": 1, "train_ways": 60, "queries": 5}
"""The ProtoNet paper's training episodes: 60 classes, 5 queries each, one episode per update."""
PAPER = {
    "protonet": {(5, 1): 98.8, (5, 5): 99.7, (20, 1): 96.0, (20, 5): 98.9},
    "matchingnet": {(5, 1): 98.1, (5, 5): 98.9, (20, 1): 93.8, (20, 5): 98.5},
    "maml": {(5, 1): 98.7, (5, 5): 99.9, (20, 1): 95.8, (20, 5): 98.9},
}
"""Omniglot accuracy (%) in the papers by (ways, shots): ProtoNets (arXiv 1703.05175 Table 1), Matching Nets
(arXiv 1606.04080), MAML (arXiv 1703.03400 Table 1)."""
ATTENTION_SCALE = 10.0
"""Matching Nets: the cosine similarities are multiplied by this before the softmax. Unscaled, they lie in [0, 1]
(the embeddings are ReLU outputs), so a 60-way episode's attention can give the right class at most e/(e + 59) =
4%: 2,000 such episodes reached 82.0% (5-way 1-shot, 600 tasks), 300 steps of 32 5-way episodes 84.9% (200 tasks)."""
PROBABILITY_FLOOR = 1e-12
"""Matching Nets: attention-mixed probabilities are clamped here before the log."""


def is_metric(algo: str) -> bool:
    return algo in METRIC_ALGORITHMS


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ConfigError(f"unknown classifier rule {rule!r}; choose one of {', '.join(RULES)}.")


# --- the embedding --------------------------------------------------------------------------------


def make_embedding(filters: int = 64) -> nn.Sequential:
    """The plain PyTorch embedding whose `state_dict` is an exported metric learner's tensors."""
    layers: list[nn.Module] = []
    for i in range(BLOCKS):
        layers += [
            nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1),
            nn.BatchNorm2d(filters, track_running_stats=False),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
    return nn.Sequential(*layers, nn.Flatten())


def embedding_size(filters: int = 64, image_size: int = IMAGE_SIZE) -> int:
    size = image_size
    for _ in range(BLOCKS):
        size //= 2
    return filters * size * size


def embedding_shapes(filters: int = 64) -> dict[str, tuple[int, ...]]:
    """Name → shape of every parameter of `make_embedding`, in state_dict order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(BLOCKS):
        shapes[f"{4 * i}.weight"] = (filters, 1 if i == 0 else filters, 3, 3)
        shapes[f"{4 * i}.bias"] = (filters,)
        shapes[f"{4 * i + 1}.weight"] = (filters,)
        shapes[f"{4 * i + 1}.bias"] = (filters,)
    return shapes


def init_embedding_params(filters: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Params:
    """PyTorch's default initialization (conv U(±1/√fan_in), BN scale 1 and shift 0), from `generator`."""
    params: Params = {}
    for i in range(BLOCKS):
        fan_in = (1 if i == 0 else filters) * 9
        bound = 1.0 / math.sqrt(fan_in)
        for name in ("weight", "bias"):
            shape = embedding_shapes(filters)[f"{4 * i}.{name}"]
            params[f"{4 * i}.{name}"] = (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * bound
        params[f"{4 * i + 1}.weight"] = torch.ones(filters, dtype=dtype)
        params[f"{4 * i + 1}.bias"] = torch.zeros(filters, dtype=dtype)
    return params


def embed(params: Params, x: Tensor) -> Tensor:
    """Shared embedding of images x (T, B, 1, 28, 28) → (T, B, D); batch norm uses each task's B drawings.

    The T tasks run as one grouped convolution over (B, T·C) channels (as `convnet.conv_forward`), so one
    `batch_norm` call gives every task its own statistics; ReLU follows the max-pool, the same values as
    ReLU then max-pool (ReLU is monotone) at a quarter of the work.
    """
    tasks, batch = x.shape[:2]
    h = x.transpose(0, 1).reshape(batch, tasks * x.shape[2], *x.shape[3:])
    for i in range(BLOCKS):
        weight, bias = params[f"{4 * i}.weight"], params[f"{4 * i}.bias"]
        gamma, beta = params[f"{4 * i + 1}.weight"], params[f"{4 * i + 1}.bias"]
        if tasks > 1:
            weight, bias, gamma, beta = (
                weight.repeat(tasks, 1, 1, 1),
                bias.repeat(tasks),
                gamma.repeat(tasks),
                beta.repeat(tasks),
            )
        h = F.conv2d(h, weight, bias, padding=1, groups=tasks)
        h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=BN_EPS)
        h = torch.relu(F.max_pool2d(h, 2))
    return h.reshape(batch, tasks, -1).transpose(0, 1)


def embed_task(params: Params, support_x: Tensor, query_x: Tensor) -> tuple[Tensor, Tensor]:
    """Support (T, S, D) and query (T, Q, D) embeddings, each task embedded as one batch of S + Q drawings."""
    both = embed(params, torch.cat([support_x, query_x], 1))
    return both[:, : support_x.shape[1]], both[:, support_x.shape[1] :]


# --- the classifier rules -------------------------------------------------------------------------


def one_hot(labels: Tensor, ways: int, dtype: torch.dtype) -> Tensor:
    """(T, S) labels → (T, S, N) one-hot."""
    return F.one_hot(labels, ways).to(dtype)


def prototypes(support: Tensor, labels: Tensor, ways: int) -> Tensor:
    """Class means (T, N, D) of the support embeddings (T, S, D) with labels (T, S) in 0..N−1."""
    onehot = one_hot(labels, ways, support.dtype)
    counts = onehot.sum(1).clamp(min=1).unsqueeze(-1)  # (T, N, 1)
    return onehot.transpose(1, 2) @ support / counts


def squared_distances(queries: Tensor, centres: Tensor) -> Tensor:
    """(T, Q, N) squared Euclidean distances between queries (T, Q, D) and centres (T, N, D)."""
    return (queries.unsqueeze(2) - centres.unsqueeze(1)).square().sum(-1)


def protonet_log_probs(support: Tensor, labels: Tensor, queries: Tensor, ways: int) -> Tensor:
    """(T, Q, N) log-softmax over the negative squared distances to the prototypes."""
    return torch.log_softmax(-squared_distances(queries, prototypes(support, labels, ways)), -1)


def cosine_attention(support: Tensor, queries: Tensor) -> Tensor:
    """(T, Q, S) attention of each query over the support: softmax over ATTENTION_SCALE × cosine similarities."""
    similarity = F.normalize(queries, dim=-1) @ F.normalize(support, dim=-1).transpose(1, 2)
    return torch.softmax(ATTENTION_SCALE * similarity, -1)


def matchingnet_log_probs(support: Tensor, labels: Tensor, queries: Tensor, ways: int) -> Tensor:
    """(T, Q, N) log of the support labels mixed by the cosine attention."""
    probs = cosine_attention(support, queries) @ one_hot(labels, ways, support.dtype)
    return probs.clamp(min=PROBABILITY_FLOOR).log()


LOG_PROBS = {"protonet": protonet_log_probs, "matchingnet": matchingnet_log_probs}


def log_probs(rule: str, params: Params, support_x: Tensor, support_y: Tensor, query_x: Tensor, ways: int) -> Tensor:
    """(T, Q, N) class log-probabilities of the queries of T tasks under the classifier `rule`."""
    _check_rule(rule)
    dtype = params["0.weight"].dtype
    support, queries = embed_task(params, support_x.to(dtype), query_x.to(dtype))
    return LOG_PROBS[rule](support, support_y, queries, ways)


def batch_log_probs(rule: str, params: Params, batch: ClassificationBatch) -> Tensor:
    return log_probs(rule, params, batch.support_x, batch.support_y, batch.query_x, batch.classes.shape[1])


def metric_loss(rule: str, params: Params, batch: ClassificationBatch) -> tuple[Tensor, Tensor]:
    """Mean query negative log-likelihood (differentiable) and mean query accuracy (detached)."""
    logp = batch_log_probs(rule, params, batch)
    loss = F.nll_loss(logp.flatten(0, 1), batch.query_y.flatten())
    accuracy = (logp.detach().argmax(-1) == batch.query_y).double().mean()
    return loss, accuracy


def accuracy_per_task(rule: str, params: Params, batch: ClassificationBatch) -> Tensor:
    """(T,) query accuracy of each task."""
    with torch.no_grad():
        params = {k: v.detach() for k, v in params.items()}
        return (batch_log_probs(rule, params, batch).argmax(-1) == batch.query_y).double().mean(1)


def evaluate_metric(
    params: Params,
    rule: str,
    pool: ImagePool,
    ways: int,
    shots: int,
    *,
    n_tasks: int = 600,
    queries: int = 15,
    seed: int = 0,
    chunk: int = 50,
) -> EvalCurve:
    """Query accuracy (fraction) over n_tasks fresh seeded tasks, mean ± 95% interval: a curve of one column
    (the same tasks as `evaluate_classification` draws for this seed, so rows compare task for task)."""
    generator = default_generator(seed)
    queries = min(queries, pool.drawers - shots)
    accuracies = []
    for start in range(0, n_tasks, chunk):
        batch = sample_classification_tasks(pool, ways, shots, queries, min(chunk, n_tasks - start), generator)
        accuracies.append(accuracy_per_task(rule, params, batch))
    return summarize(shots, torch.cat(accuracies)[None])


# --- the trainer's side ---------------------------------------------------------------------------


def train_ways(c: ClassificationConfig) -> int:
    """Classes per training episode (`train_ways`, 0: the test ways)."""
    return c.train_ways or c.ways


class MetricLearner(Learner):
    """A metric learner's `Learner`: Adam at the meta learning rate, halved every `LR_HALVING` iterations
    (unless `cosine` anneals it instead)."""

    def step(self, batch: ClassificationBatch, iteration: int) -> dict[str, Tensor]:
        if not self.cfg.cosine:
            factor = 0.5 ** ((iteration - 1) // LR_HALVING)
            for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
                group["lr"] = base * factor
        return super().step(batch, iteration)


def make_learner(
    algo: str, cfg: TrainConfig, theta: Params, device: torch.device, gradient: Gradient | None = None
) -> Learner:
    """The Omniglot trainer's learner of `algo`: `MetricLearner` for the metric learners, else `Learner`."""
    return (MetricLearner if is_metric(algo) else Learner)(algo, cfg, theta, device, gradient)


class MetricDomain(ClassificationDomain):
    """Omniglot for a metric learner: `train_ways`-way training episodes, validation on the test ways.
    A pretrained baseline trained alongside sees the same episodes (it classifies among all classes)."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        if train_ways(cfg.classification) > self.train_pool.n_classes:
            raise ConfigError(
                f"{train_ways(cfg.classification)}-way training episodes need that many classes, "
                f"but the background alphabets have only {self.train_pool.n_classes}."
            )

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]:
        others = [name for name in names if not is_metric(name)]
        result = super().initial_params(others, generator) if others else {}
        start = init_embedding_params(self.cfg.classification.filters, generator)
        return {name: start if is_metric(name) else result[name] for name in names}

    def gradient(self, algo: str) -> Gradient:
        if not is_metric(algo):
            return super().gradient(algo)

        def objective(
            theta: Params, lrs: Params, batch: ClassificationBatch, iteration: int
        ) -> tuple[Tensor, dict[str, Tensor]]:
            loss, accuracy = metric_loss(algo, theta, batch)
            return loss, {algo: loss.detach(), f"{algo}/accuracy": accuracy}

        return autograd_gradient(objective)

    def sample(self, n_tasks: int, generator: torch.Generator) -> ClassificationBatch:
        c = self.cfg.classification
        return sample_classification_tasks(self.train_pool, train_ways(c), c.shots, c.queries, n_tasks, generator)

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]:
        """Mean query accuracy on the fixed validation tasks: '{learner}/{N}w{K}s' for a metric learner."""
        c = self.cfg.classification
        result = super().validate([learner for learner in learners if not is_metric(learner.algo)])
        for learner in learners:
            if is_metric(learner.algo):
                accuracy = accuracy_per_task(learner.algo, learner.theta, self.validation_set)
                result[f"{learner.algo}/{c.ways}w{c.shots}s"] = float(accuracy.mean())
        return result


def trainer_domain(cfg: TrainConfig, device: torch.device) -> ClassificationDomain:
    """The Omniglot trainer's domain for `cfg.algo`."""
    return MetricDomain(cfg, device) if is_metric(cfg.algo) else ClassificationDomain(cfg, device)


# --- what checkpoints and `mamlviz eval` say -------------------------------------------------------


def architecture(config: TrainConfig) -> dict:
    """The exported metadata 'architecture' of a metric learner: the embedding and its classifier rule."""
    c = config.classification
    return {
        "type": "conv-embedding",
        "module": "nn.Sequential(4 × [Conv2d(3×3, padding 1), BatchNorm2d(track_running_stats=False), ReLU, "
        "MaxPool2d(2)], Flatten())",
        "blocks": BLOCKS,
        "filters": c.filters,
        "kernel": 3,
        "pool": 2,
        "norm": "batchnorm (batch statistics of each task's support and query drawings, transductive)",
        "activation": "relu",
        "input": [1, IMAGE_SIZE, IMAGE_SIZE],
        "output": embedding_size(c.filters),
        "classifier": config.algo,
        "rule": RULES[config.algo],
    }


def paper_figure(algo: str, ways: int, shots: int) -> float | None:
    """The paper's Omniglot accuracy (%) of `algo` at N-way K-shot, if `PAPER` has one."""
    return PAPER.get(algo, {}).get((ways, shots))


PAPER_NAMES = {"protonet": "ProtoNets", "matchingnet": "Matching Nets", "maml": "MAML"}
PAPER_TASKS = ((5, 1), (5, 5), (20, 1), (20, 5))


def paper_lines(algorithms: Sequence[str]) -> list[str]:
    """The papers' Omniglot rows (5w1s / 5w5s / 20w1s / 20w5s) of MAML, ProtoNets and Matching Nets, for the
    eval table; MAML's always, the metric learners' where one of `algorithms` is one."""
    shown = ["maml", *(algo for algo in METRIC_ALGORITHMS if algo in algorithms)]
    lines = ["papers' accuracy (%), " + " / ".join(f"{n}w{k}s" for n, k in PAPER_TASKS) + ":"]
    for algo in shown:
        figures = " / ".join(f"{PAPER[algo][task]:.1f}" for task in PAPER_TASKS)
        lines.append(f"  {PAPER_NAMES[algo]:<13} {figures}")
    return lines


def algo_defaults(algo: str) -> dict:
    """`TrainConfig` overrides choosing a metric learner fills in (the ProtoNet paper's episodes); none for others."""
    if not is_metric(algo):
        return {}
    c = ClassificationConfig(train_ways=TRAIN_DEFAULTS["train_ways"], queries=TRAIN_DEFAULTS["queries"])
    return {"iterations": TRAIN_DEFAULTS["iterations"], "meta_batch": TRAIN_DEFAULTS["meta_batch"], "classification": c}
