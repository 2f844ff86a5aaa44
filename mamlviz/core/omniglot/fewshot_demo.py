"""Few-shot classification for the app, numpy in and numpy out: sample a meta-test task, or take the
user's drawings, adapt each named initialization and return class probabilities after 0..k steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mamlviz.core.checkpoint import Initialization, load_initialization
from mamlviz.core.data import default_generator
from mamlviz.core.errors import DataError
from mamlviz.core.model import Params
from mamlviz.core.omniglot.classification import ImagePool, adapt_and_predict, sample_classification_tasks
from mamlviz.core.omniglot.data import unseen_characters
from mamlviz.core.omniglot.training import VALIDATION_STEPS, validation_steps

Array = np.ndarray
META_TEST = "the meta-test alphabets"
"""Where an 'alphabets'-split demo's tasks come from (and a pool that does not say)."""


@dataclass(frozen=True)
class DemoPool(ImagePool):
    """The demo's task pool: the characters none of its files meta-trained on; `source` says so in a phrase
    (e.g. 'the meta-test alphabets', 'the 172 characters none of these learners trained on')."""

    source: str = META_TEST
    splits: tuple[str, ...] = ()
    """The `ClassificationConfig.split`s whose meta-training characters it leaves out."""


@dataclass(frozen=True)
class DemoTask:
    """support (N, K, 28, 28) and queries (M, 28, 28) ink in [0, 1]; query_labels (M,) in 0..N−1."""

    support: np.ndarray
    queries: np.ndarray
    query_labels: np.ndarray


@dataclass(eq=False)
class FewShotDemo:
    """Named initializations (e.g. 'MAML', 'pretrained') adapted side by side with SGD at rate `lr`; `steps` is how
    many steps a view shows first: those that training validates with (`training.validation_steps`: 3, as the paper
    tests its 1-step-trained files, or the 5 that the 20-way files train with)."""

    inits: dict[str, Params]
    pool: ImagePool | None
    ways: int = 5
    shots: int = 1
    lr: float = 0.4
    steps: int = max(VALIDATION_STEPS)

    @classmethod
    def from_files(cls, paths: dict[str, str | Path], data: str | Path | None, lr: float | None = None) -> FewShotDemo:
        """Load Omniglot initializations by name and the characters none of them meta-trained on (from `data`;
        None: no pool; see `load`).

        The adaptation rate is `lr`, else the first file's training α. Takes seconds the first time
        the data is decoded (then cached): call it off the GUI thread.
        """
        inits, pool = cls.load(paths, data)
        first = next(iter(inits.values())).config
        c = first.classification
        params = {name: init.params for name, init in inits.items()}
        return cls(params, pool, c.ways, c.shots, lr or first.inner_lr, max(validation_steps(first)))

    @staticmethod
    def load(
        paths: dict[str, str | Path], data: str | Path | None, ways: int | None = None, also: Sequence[str] = ()
    ) -> tuple[dict[str, Initialization], ImagePool | None]:
        """The Omniglot initializations by name (another domain's file is refused) and, unless `data` is None,
        a `DemoPool` of the characters none of them meta-trained on (`data.unseen_characters` of their splits and
        of the splits `also` names: those of learners that join later, e.g. one trained in the app), with the first
        file's rotations; a DataError if those are fewer than `ways` (None: the first file's)."""
        inits = {name: load_initialization(path) for name, path in paths.items()}
        for name, init in inits.items():
            if init.config.domain != "omniglot":
                raise DataError(f"{paths[name]} is a {init.config.domain} initialization, not an Omniglot classifier.")
        if data is None:
            return inits, None
        first = next(iter(inits.values())).config.classification
        ways = ways or first.ways
        splits = [init.config.classification.split for init in inits.values()] + list(also)
        unseen = unseen_characters(splits, data)
        count = len(unseen.characters)
        if len(set(splits)) > 1:
            source = f"the {count} characters none of these learners trained on"
            shortage = (
                f"these learners were meta-trained on different Omniglot splits ({' and '.join(sorted(set(splits)))}) "
                f"and only {_count(count)} {'is' if count == 1 else 'are'} new to all of them"
            )
        else:
            source = META_TEST if splits[0] == "alphabets" else f"the {splits[0]} split's meta-test characters"
            shortage = f"the {splits[0]} split's meta-test part holds only {_count(count)}"
        if count < ways:
            raise DataError(f"{shortage}, too few for {ways}-way tasks.")
        pool = DemoPool.from_split(unseen, first.rotations)
        return inits, replace(pool, source=source, splits=tuple(sorted(set(splits))))

    def sample_task(self, seed: int, queries_per_class: int = 1) -> DemoTask:
        """A fresh N-way K-shot task from the pool (characters none of the files meta-trained on), queries
        shuffled."""
        if self.pool is None:
            raise DataError("no Omniglot data is loaded, so only tasks you draw yourself are available.")
        generator = default_generator(seed)
        batch = sample_classification_tasks(self.pool, self.ways, self.shots, queries_per_class, 1, generator)
        order = np.random.default_rng(seed).permutation(self.ways * queries_per_class)
        support = batch.support_x[0, :, 0].numpy().reshape(self.ways, self.shots, *batch.support_x.shape[-2:])
        return DemoTask(support, batch.query_x[0, order, 0].numpy(), batch.query_y[0, order].numpy())

    def predict(self, support: np.ndarray, labels: np.ndarray, queries: np.ndarray, steps: int) -> dict[str, Array]:
        """Probabilities (steps + 1, M, N) per initialization; a DataError explains unusable drawings."""
        return {
            name: adapt_and_predict(theta, support, labels, queries, self.ways, self.lr, steps)
            for name, theta in self.inits.items()
        }

    def predict_task(self, task: DemoTask, steps: int) -> dict[str, Array]:
        ways, shots = task.support.shape[:2]
        labels = np.repeat(np.arange(ways), shots)
        return self.predict(task.support.reshape(ways * shots, *task.support.shape[2:]), labels, task.queries, steps)


def _count(n: int) -> str:
    return f"{n} character{'s' * (n != 1)}"
