"""The Omniglot classification domain of the trainer: meta-train on the background alphabets, validate on fixed
tasks from the evaluation alphabets (split 'paper': on the paper's 1,200 / 423 characters), or, with
`val_characters`, from that many meta-training characters held out of training."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import Params
from mamlviz.core.omniglot.classification import (
    ClassificationBatch,
    ImagePool,
    accuracy_after_steps,
    maml_ce_loss,
    pretrained_ce_loss,
    sample_classification_tasks,
)
from mamlviz.core.omniglot.convnet import HEAD, init_conv_params
from mamlviz.core.omniglot.data import hold_out, load_split, meta_split
from mamlviz.core.train import Gradient, Learner, autograd_gradient

VALIDATION_STEPS = (0, 1, 3)


def validation_steps(cfg: TrainConfig) -> tuple[int, ...]:
    """The adaptation steps each validation reports: VALIDATION_STEPS and the number the run trains with, where that
    is more (the paper's 20-way runs train and test with 5)."""
    return tuple(sorted({*VALIDATION_STEPS, cfg.inner_steps}))


def load_pools(cfg: TrainConfig) -> tuple[ImagePool, ImagePool]:
    """Meta-training and validation drawings of the config's split (`data.meta_split`), rotations as configured:
    validation draws on `val_characters` characters held out of meta-training (`data.hold_out`), or on the
    meta-test characters where that is 0."""
    c = cfg.classification
    archives = (load_split(archive, c.data or None) for archive in ("background", "evaluation"))
    train, validation = meta_split(c.split, *archives)
    if c.val_characters:
        train, validation = hold_out(train, c.val_characters)
    return ImagePool.from_split(train, c.rotations), ImagePool.from_split(validation, c.rotations)


class ClassificationDomain:
    """N-way K-shot Omniglot; the pretrained baseline classifies among all background classes."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg = cfg
        c = cfg.classification
        self.train_pool, validation_pool = load_pools(cfg)
        if c.val_characters and validation_pool.n_classes < c.ways:
            raise ConfigError(
                f"{c.ways}-way validation tasks need {c.ways} classes; the validation characters give "
                f"{validation_pool.n_classes}: hold out more characters (`--val-characters`)."
            )
        self.validation_set = sample_classification_tasks(
            validation_pool,
            c.ways,
            c.shots,
            min(5, validation_pool.drawers - c.shots),
            cfg.val_tasks,
            default_generator(cfg.seed + 1),
        ).to(device)

    def initial_params(self, names: Sequence[str], generator: torch.Generator) -> dict[str, Params]:
        c = self.cfg.classification
        start = init_conv_params(c.filters, c.ways, generator)
        result = dict.fromkeys(names, start)
        if "pretrained" in names:
            head = init_conv_params(c.filters, self.train_pool.n_classes, generator)
            result["pretrained"] = {**start, **{k: v for k, v in head.items() if k.startswith(f"{HEAD}.")}}
        return result

    def gradient(self, algo: str) -> Gradient:
        if algo == "pretrained":

            def pretrained(
                theta: Params, lrs: Params, batch: ClassificationBatch, iteration: int
            ) -> tuple[Tensor, dict[str, Tensor]]:
                loss = pretrained_ce_loss(theta, batch)
                return loss, {"pretrained": loss.detach()}

            return autograd_gradient(pretrained)
        if algo not in ("maml", "fomaml"):
            raise ConfigError(f"{algo} is not available for Omniglot classification; use maml, fomaml or pretrained.")
        if self.cfg.msl or self.cfg.lslr or self.cfg.first_order_until:
            raise ConfigError("the MAML++ options are not available for Omniglot classification yet.")
        cfg, first_order = self.cfg, algo == "fomaml"

        def objective(
            theta: Params, lrs: Params, batch: ClassificationBatch, iteration: int
        ) -> tuple[Tensor, dict[str, Tensor]]:
            post, pre = maml_ce_loss(theta, batch, cfg.inner_lr, cfg.inner_steps, first_order=first_order)
            return post, {f"{algo}/pre": pre, f"{algo}/post": post.detach()}

        return autograd_gradient(objective)

    def sample(self, n_tasks: int, generator: torch.Generator) -> ClassificationBatch:
        c = self.cfg.classification
        return sample_classification_tasks(self.train_pool, c.ways, c.shots, c.queries, n_tasks, generator)

    def validate(self, learners: Sequence[Learner]) -> dict[str, float]:
        """Mean query accuracy on the fixed validation tasks: '{learner}/{N}w{K}s/step{n}'."""
        c, result = self.cfg.classification, {}
        for learner in learners:
            reported = validation_steps(self.cfg)
            accuracy = accuracy_after_steps(learner.theta, self.validation_set, self.cfg.inner_lr, max(reported))
            for step in reported:
                result[f"{learner.algo}/{c.ways}w{c.shots}s/step{step}"] = float(accuracy[step].mean())
        return result
