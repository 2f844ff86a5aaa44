"""The app's task pool: the characters none of the loaded files meta-trained on (issue #15)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from mamlviz.core.errors import DataError
from mamlviz.core.omniglot.classification import ImagePool
from mamlviz.core.omniglot.data import OmniglotSplit, load_split, meta_split, unseen_characters
from mamlviz.core.omniglot.fewshot_demo import META_TEST, FewShotDemo
from tests.core.omniglot.fixtures import make_omniglot, save_classifier

WAYS = 3
"""The ways of `save_classifier`'s files."""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data(tmp_path):
    """12 + 12 characters: the paper split's 6 meta-test ones include 4 of the evaluation archive."""
    return make_omniglot(tmp_path / "omniglot", alphabets=2, characters=6, drawers=4, distinct=True)


def named(archive: str, part: OmniglotSplit) -> set[str]:
    return {f"{archive}/{c}" for c in part.characters}


def archives(data) -> tuple[OmniglotSplit, OmniglotSplit]:
    return load_split("background", data), load_split("evaluation", data)


def test_one_paper_file_gets_exactly_its_meta_test_characters(data, tmp_path):
    test = meta_split("paper", *archives(data))[1]
    unseen = unseen_characters(["paper"], data)
    assert unseen.characters == test.characters
    np.testing.assert_array_equal(unseen.images, test.images)
    _, pool = FewShotDemo.load({"MAML": save_classifier(tmp_path / "p.safetensors", "paper")}, data)
    assert torch.equal(pool.images, ImagePool.from_split(test).images)
    assert pool.source == "the paper split's meta-test characters"


def test_alphabets_files_get_the_evaluation_archive_as_before(data, tmp_path):
    evaluation = load_split("evaluation", data)
    unseen = unseen_characters(["alphabets", "alphabets"], data)
    assert unseen.characters == tuple(f"evaluation/{c}" for c in evaluation.characters)
    np.testing.assert_array_equal(unseen.images, evaluation.images)
    paths = {"MAML": save_classifier(tmp_path / "a.safetensors", "alphabets", rotations=False)}
    paths["pretrained"] = save_classifier(tmp_path / "b.safetensors", "alphabets")
    _, pool = FewShotDemo.load(paths, data)
    assert torch.equal(pool.images, ImagePool.from_split(evaluation, rotations=False).images)  # the first's rotations
    assert pool.source == META_TEST


def test_mixed_splits_get_the_characters_none_of_them_trained_on(data, tmp_path):
    background, evaluation = archives(data)
    paper_train, paper_test = meta_split("paper", background, evaluation)
    unseen = unseen_characters(["paper", "alphabets"], data)
    expected = set(paper_test.characters) & named("evaluation", evaluation)
    assert set(unseen.characters) == expected
    assert len(expected) == 4  # neither empty nor a whole meta-test set
    assert not set(unseen.characters) & set(paper_train.characters)
    assert not set(unseen.characters) & named("background", background)  # the alphabets file's meta-train part
    assert set(unseen_characters(["alphabets", "paper"], data).characters) == expected
    pooled = dict(zip(paper_test.characters, paper_test.images, strict=True))
    np.testing.assert_array_equal(unseen.images, np.stack([pooled[c] for c in unseen.characters]))

    paths = {
        "MAML": save_classifier(tmp_path / "p.safetensors", "paper"),
        "ProtoNet": save_classifier(tmp_path / "a.safetensors", "alphabets"),
    }
    demo = FewShotDemo.from_files(paths, data)
    assert demo.pool.images.shape[:2] == (4, 4)  # 4 rotations of the 4 characters
    assert demo.pool.source == "the 4 characters none of these learners trained on"
    assert demo.sample_task(seed=1).support.shape == (WAYS, 1, 28, 28)


def test_too_few_unseen_characters_is_one_sentence(tmp_path):
    # 8 + 8 characters: the paper split's 4 meta-test ones include 1 of the evaluation archive
    small = make_omniglot(tmp_path / "small", alphabets=2, characters=4, drawers=4, distinct=True)
    assert len(unseen_characters(["paper", "alphabets"], small).characters) == 1
    paths = {
        "MAML": save_classifier(tmp_path / "p.safetensors", "paper"),
        "old": save_classifier(tmp_path / "a.safetensors", "alphabets"),
    }
    message = (
        "these learners were meta-trained on different Omniglot splits (alphabets and paper) and only 1 character "
        "is new to all of them, too few for 3-way tasks."
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        FewShotDemo.load(paths, small)
    five = {"MAML": save_classifier(tmp_path / "five.safetensors", "paper", ways=5)}
    message = "the paper split's meta-test part holds only 4 characters, too few for 5-way tasks."
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        FewShotDemo.load(five, small)
