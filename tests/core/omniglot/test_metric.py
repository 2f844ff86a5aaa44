"""ProtoNet and Matching Net (`mamlviz.core.omniglot.metric`): the rules against hand computations and
per-task loops, the embedding against its plain `nn.Sequential`, training, export and the app's core."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ClassificationConfig, TrainConfig
from mamlviz.core.errors import CheckpointError, ConfigError, DataError
from mamlviz.core.omniglot import metric
from mamlviz.core.omniglot.classification import ImagePool, sample_classification_tasks
from mamlviz.core.omniglot.data import load_split
from mamlviz.core.omniglot.metric_demo import ClassifierDemo, fit_pca, metric_predict, view_of
from mamlviz.core.train import Trainer
from tests.core.omniglot.fixtures import make_omniglot


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMLVIZ_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def data(tmp_path):
    return make_omniglot(tmp_path / "omniglot", characters=3)


def params64(seed=0):
    return metric.init_embedding_params(8, torch.Generator().manual_seed(seed), torch.float64)


def test_prototypes_and_distances_by_hand():
    support = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [1.0, 1.0]]])  # (1, 4, 2)
    labels = torch.tensor([[0, 0, 1, 2]])
    centres = metric.prototypes(support, labels, 3)
    assert torch.equal(centres, torch.tensor([[[1.0, 0.0], [0.0, 4.0], [1.0, 1.0]]]))
    queries = torch.tensor([[[1.0, 2.0], [3.0, 0.0]]])
    distances = metric.squared_distances(queries, centres)
    # (1,2)-(1,0): 0+4; (1,2)-(0,4): 1+4; (1,2)-(1,1): 0+1 / (3,0)-(1,0): 4; (3,0)-(0,4): 9+16; (3,0)-(1,1): 4+1
    assert torch.equal(distances, torch.tensor([[[4.0, 5.0, 1.0], [4.0, 25.0, 5.0]]]))
    probs = metric.protonet_log_probs(support, labels, queries, 3).exp()
    for row, d in zip(probs[0].tolist(), ([4, 5, 1], [4, 25, 5]), strict=True):
        z = sum(math.exp(-v) for v in d)
        assert row == pytest.approx([math.exp(-v) / z for v in d], rel=1e-6)
    assert probs.sum(-1)[0].tolist() == pytest.approx([1.0, 1.0])


def test_prototypes_are_per_task_means_in_a_batch():
    generator = torch.Generator().manual_seed(1)
    support = torch.randn(3, 6, 5, generator=generator, dtype=torch.float64)
    labels = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 1, 1, 0, 0], [0, 0, 0, 1, 2, 1]])
    centres = metric.prototypes(support, labels, 3)
    for t in range(3):
        for n in range(3):
            torch.testing.assert_close(centres[t, n], support[t, labels[t] == n].mean(0))


def test_matching_net_attention_against_a_per_task_loop_in_float64():
    generator = torch.Generator().manual_seed(2)
    tasks, shots, queries, dim, ways = 4, 10, 7, 16, 5
    support = torch.randn(tasks, shots, dim, generator=generator, dtype=torch.float64)
    query = torch.randn(tasks, queries, dim, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, ways, (tasks, shots), generator=generator)
    labels[:, :ways] = torch.arange(ways)
    attention = metric.cosine_attention(support, query)
    logp = metric.matchingnet_log_probs(support, labels, query, ways)
    for t in range(tasks):
        for q in range(queries):
            cos = [
                float(query[t, q] @ support[t, i] / (query[t, q].norm() * support[t, i].norm())) for i in range(shots)
            ]
            weights = [math.exp(10 * c) / sum(math.exp(10 * d) for d in cos) for c in cos]
            assert attention[t, q].tolist() == pytest.approx(weights, rel=1e-12)
            mixed = [sum(w for w, y in zip(weights, labels[t].tolist(), strict=True) if y == n) for n in range(ways)]
            assert logp[t, q].exp().tolist() == pytest.approx(mixed, rel=1e-12)


@pytest.mark.parametrize("rule", ["protonet", "matchingnet"])
def test_batched_rules_match_a_per_task_loop_of_the_plain_module(rule):
    params = params64()
    module = metric.make_embedding(8).double()
    module.load_state_dict(params)
    generator = torch.Generator().manual_seed(3)
    tasks, ways, shots, queries = 3, 4, 2, 3
    sx = torch.rand(tasks, ways * shots, 1, 28, 28, generator=generator, dtype=torch.float64)
    qx = torch.rand(tasks, ways * queries, 1, 28, 28, generator=generator, dtype=torch.float64)
    sy = torch.arange(ways).repeat_interleave(shots).expand(tasks, -1)
    batched = metric.log_probs(rule, params, sx, sy, qx, ways)
    for t in range(tasks):
        both = module(torch.cat([sx[t], qx[t]]))
        support, query = both[: ways * shots], both[ways * shots :]
        if rule == "protonet":
            centres = torch.stack([support[sy[t] == n].mean(0) for n in range(ways)])
            expected = torch.log_softmax(-(torch.cdist(query, centres) ** 2), -1)
        else:
            cos = F.cosine_similarity(query[:, None], support[None], dim=-1)
            expected = (torch.softmax(10 * cos, -1) @ F.one_hot(sy[t], ways).double()).log()
        torch.testing.assert_close(batched[t], expected, rtol=1e-9, atol=1e-9)


def test_the_embedding_is_64_d_and_the_plain_sequential_gives_identical_vectors():
    params = metric.init_embedding_params(64, torch.Generator().manual_seed(4))
    module = metric.make_embedding(64)
    module.load_state_dict(params)  # strict: the same names and shapes
    x = torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    ours = metric.embed(params, x[None])[0]
    assert ours.shape == (12, 64) == (12, metric.embedding_size(64))
    assert torch.equal(ours, module(x))
    two = metric.embed(params, torch.stack([x, x.flip(0)]))  # two tasks at once: each its own batch statistics
    torch.testing.assert_close(two[0], module(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(two[1], module(x.flip(0)), rtol=1e-5, atol=1e-5)


def metric_config(data, algo="protonet", **kwargs):
    c = ClassificationConfig(ways=3, shots=1, queries=2, data=str(data), train_ways=6)
    return TrainConfig(
        algo=algo, domain="omniglot", iterations=3, meta_batch=2, val_every=2, val_tasks=4, classification=c, **kwargs
    )


@pytest.mark.parametrize("algo", ["protonet", "matchingnet"])
def test_training_exports_a_plain_sequential_state_dict(data, tmp_path, algo):
    cfg = metric_config(data, algo)
    trainer = Trainer(cfg)
    batch = trainer.domain.sample(2, torch.Generator().manual_seed(0))
    assert batch.classes.shape == (2, 6) and batch.query_x.shape[1] == 12  # 6-way training episodes, 2 queries
    progress = list(trainer.iterate())
    assert progress[-1].validation.keys() == {f"{algo}/3w1s"}
    assert math.isfinite(progress[-1].losses[algo])
    out = tmp_path / f"{algo}.safetensors"
    save_initialization(out, Initialization(trainer.snapshot()[algo], cfg, algo, 3))
    module = metric.make_embedding(64)
    module.load_state_dict(load_file(out))
    with safe_open(out, framework="pt") as fh:
        arch = __import__("json").loads(fh.metadata()["architecture"])
    assert arch["classifier"] == algo and arch["rule"] == metric.RULES[algo] and arch["output"] == 64
    loaded = load_initialization(out)
    x = torch.rand(1, 9, 1, 28, 28)
    torch.testing.assert_close(metric.embed(loaded.params, x)[0], module(x[0]))


def test_a_maml_shaped_file_is_refused_as_a_protonet(data, tmp_path):
    cfg = metric_config(data)
    from mamlviz.core.omniglot.convnet import init_conv_params

    wrong = init_conv_params(64, 3, torch.Generator().manual_seed(0))
    with pytest.raises(CheckpointError, match="embedding 4×64"):
        save_initialization(tmp_path / "x.safetensors", Initialization(wrong, cfg, "protonet"))


def test_the_learning_rate_halves_every_2000_iterations(data):
    trainer = Trainer(dataclasses_replace(metric_config(data), meta_lr=1e-3))
    learner = trainer.learners[0]
    assert isinstance(learner, metric.MetricLearner)
    batch = trainer.domain.sample(1, torch.Generator().manual_seed(0))
    for iteration, expected in ((1, 1e-3), (2000, 1e-3), (2001, 5e-4), (4001, 2.5e-4)):
        learner.step(batch, iteration)
        assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(expected)


def dataclasses_replace(cfg, **kwargs):
    import dataclasses

    return dataclasses.replace(cfg, **kwargs)


def test_metric_learners_need_a_domain_that_has_them():
    with pytest.raises(ConfigError, match="classifies images"):
        TrainConfig(algo="protonet").validate()  # the sinusoid domain


def test_too_many_training_ways_is_one_sentence(data):
    with pytest.raises(ConfigError, match="60-way training episodes need that many classes"):
        Trainer(
            dataclasses_replace(metric_config(data), classification=ClassificationConfig(data=str(data), train_ways=60))
        )


def test_evaluation_gives_one_column_over_the_tasks(data):
    pool = ImagePool.from_split(load_split("evaluation", str(data)))
    curve = metric.evaluate_metric(params64(), "protonet", pool, 3, 1, n_tasks=7, queries=3, seed=9, chunk=3)
    assert curve.to_dict()["n_tasks"] == 7 and len(curve.to_dict()["mean"]) == 1
    assert 0 <= curve.to_dict()["mean"][0] <= 1


def test_paper_figures():
    assert metric.paper_figure("protonet", 20, 1) == 96.0
    assert metric.paper_figure("matchingnet", 5, 5) == 98.9
    assert metric.paper_figure("pretrained", 5, 1) is None
    lines = metric.paper_lines(["protonet"])
    assert any("ProtoNets" in line and "98.8 / 99.7 / 96.0 / 98.9" in line for line in lines)
    assert not any("Matching" in line for line in lines)


# --- the app's core -------------------------------------------------------------------------------


def drawn_task(data, ways=3, shots=2, queries=2, seed=0):
    pool = ImagePool.from_split(load_split("evaluation", str(data)))
    batch = sample_classification_tasks(pool, ways, shots, queries, 1, torch.Generator().manual_seed(seed))
    return pool, batch.support_x[0, :, 0].numpy(), batch.support_y[0].numpy(), batch.query_x[0, :, 0].numpy()


@pytest.mark.parametrize("rule", ["protonet", "matchingnet"])
def test_metric_predict_gives_the_rules_probabilities(data, rule):
    _, support, labels, queries = drawn_task(data)
    params = metric.init_embedding_params(64, torch.Generator().manual_seed(0))
    probs = metric_predict(rule, params, support, labels, queries, 3)
    assert probs.shape == (6, 3)
    assert probs.sum(1) == pytest.approx(np.ones(6))
    x, q = torch.from_numpy(support)[None, :, None], torch.from_numpy(queries)[None, :, None]
    expected = metric.log_probs(rule, params, x, torch.from_numpy(labels)[None], q, 3)[0].exp()
    np.testing.assert_allclose(probs, expected.double().numpy(), rtol=1e-6)
    lone = metric_predict(rule, params, support, labels, queries[:1], 3)  # one drawn query is fine
    assert lone.shape == (1, 3)
    with pytest.raises(DataError, match="class 3 has no drawing"):
        metric_predict(rule, params, support[:2], labels[:2] * 0 + np.array([0, 1]), queries, 3)
    empty = queries.copy()
    empty[0] = 0
    with pytest.raises(DataError, match="query drawings number 1 is empty"):
        metric_predict(rule, params, support, labels, empty, 3)


def test_pca_by_hand():
    points = np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [4.0, 1.0, 1.0], [6.0, 1.0, 1.0]])
    basis = fit_pca(points)
    assert basis.mean == pytest.approx([3.0, 0.5, 1.0])
    assert abs(basis.components[0] @ basis.components[1]) < 1e-12
    assert basis.components[0, 0] > 0.98  # the long axis is x
    assert basis.explained.sum() == pytest.approx(1.0)
    view = view_of(points[:2], np.array([0, 1]), points[2:], 2)
    assert view.prototypes == pytest.approx(view.support)  # one drawing per class: the prototype is it
    np.testing.assert_allclose(view.queries, basis.project(points[2:]), atol=1e-12)
    single = fit_pca(np.ones((3, 4)))
    assert not single.components.any() and not single.explained.any()


def test_classifier_demo_compares_maml_and_metric_learners(data, tmp_path):
    from mamlviz.core.omniglot.convnet import init_conv_params

    proto_cfg = metric_config(data)
    c = ClassificationConfig(ways=3, data=str(data))
    maml_cfg = TrainConfig(algo="maml", domain="omniglot", inner_lr=0.4, classification=c)
    generator = torch.Generator().manual_seed(0)
    paths = {"ProtoNet": tmp_path / "p.safetensors", "Matching Net": tmp_path / "m.safetensors"}
    paths["MAML"] = tmp_path / "maml.safetensors"
    embedding = metric.init_embedding_params(64, generator)
    save_initialization(paths["ProtoNet"], Initialization(embedding, proto_cfg, "protonet"))
    match_cfg = dataclasses_replace(proto_cfg, algo="matchingnet")
    save_initialization(paths["Matching Net"], Initialization(embedding, match_cfg, "matchingnet"))
    save_initialization(paths["MAML"], Initialization(init_conv_params(64, 3, generator), maml_cfg, "maml"))
    demo = ClassifierDemo.from_files(paths, data)
    assert demo.rules == {"ProtoNet": "protonet", "Matching Net": "matchingnet"}
    assert (demo.ways, demo.shots, demo.lr) == (3, 1, 0.4)
    task = demo.sample_task(seed=1, queries_per_class=2)
    probs = demo.predict_task(task, steps=2)
    assert set(probs) == set(paths)
    for name, p in probs.items():
        assert p.shape == (3, 6, 3), name
        assert p.sum(-1) == pytest.approx(np.ones((3, 6)))
    assert np.array_equal(probs["ProtoNet"][0], probs["ProtoNet"][2])  # no steps
    assert not np.allclose(probs["MAML"][0], probs["MAML"][2])  # MAML moves its weights
    support = task.support.reshape(3, 28, 28)
    view = demo.view("ProtoNet", support, np.arange(3), task.queries)
    assert (view.support.shape, view.queries.shape, view.prototypes.shape) == ((3, 2), (6, 2), (3, 2))
    before = demo.view("MAML", support, np.arange(3), task.queries, steps=0)
    after = demo.view("MAML", support, np.arange(3), task.queries, steps=2, basis=before.basis)
    assert after.basis is before.basis and not np.allclose(after.support, before.support)
    drawn = demo.view("ProtoNet", np.concatenate([support, task.queries[:1]]), [0, 1, 2, 0], task.queries[1:])
    assert drawn.support.shape == (4, 2) and drawn.prototypes.shape == (3, 2)


def test_the_readme_snippet_classifies_like_mamlviz(data, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
    section = readme.split("### A ProtoNet or Matching Net in plain PyTorch", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    statements = [line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(statements) <= 15  # about ten lines of plain PyTorch (ruff format spreads the block over six)
    _, support, labels, queries = drawn_task(data)
    scope = {
        "support": torch.from_numpy(support)[:, None],
        "labels": torch.from_numpy(labels),
        "queries": torch.from_numpy(queries)[:, None],
    }
    monkeypatch.chdir(Path(__file__).parents[3])  # the snippet reads resources/ from the repository root
    exec(compile(code, "README.md", "exec"), scope)
    params = load_initialization(Path(__file__).parents[3] / "resources/omniglot_5w1s_protonet.safetensors").params
    expected = metric_predict("protonet", params, support, labels, queries, 3)
    np.testing.assert_allclose(scope["probs"].detach().double().numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rule", ["protonet", "matchingnet"])
def test_the_shipped_metric_learners_are_plain_embeddings_with_their_rule(rule):
    from mamlviz.resources import SHIPPED_OMNIGLOT_MATCHINGNET, SHIPPED_OMNIGLOT_PROTONET, resource_path

    path = resource_path({"protonet": SHIPPED_OMNIGLOT_PROTONET, "matchingnet": SHIPPED_OMNIGLOT_MATCHINGNET}[rule])
    init = load_initialization(path)
    assert init.algorithm == rule and init.config.classification.ways == 5
    assert init.config.classification.train_ways == 60
    metric.make_embedding(64).load_state_dict(load_file(path))
    with safe_open(path, framework="pt") as fh:
        assert __import__("json").loads(fh.metadata()["architecture"])["classifier"] == rule


def test_a_pretrained_baseline_trains_beside_a_protonet(data):
    trainer = Trainer(metric_config(data), with_baseline=True)
    assert [type(learner).__name__ for learner in trainer.learners] == ["MetricLearner", "Learner"]
    progress = list(trainer.iterate())
    assert {"protonet", "pretrained"} <= progress[-1].losses.keys()
    assert "protonet/3w1s" in progress[-1].validation and "pretrained/3w1s/step0" in progress[-1].validation
