"""The nav2d domain in the registry, the Trainer with the TRPO learner, evaluation, the app's adaptation call, and
checkpoints a plain nn.Sequential loads."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from mamlviz.core import registry
from mamlviz.core.checkpoint import Initialization, load_initialization, save_initialization
from mamlviz.core.config import ModelConfig
from mamlviz.core.errors import ConfigError
from mamlviz.core.nav2d.evaluation import adapt_and_rollout, evaluate_policy
from mamlviz.core.nav2d.policy import LOG_STD, init_policy
from mamlviz.core.presets import domain_config
from mamlviz.core.train import Trainer


def _small(algo="maml", **rl):
    cfg = domain_config("nav2d")
    model = dataclasses.replace(cfg.model, hidden=(8, 8), in_features=4 if algo == "oracle" else 2)
    rl = dataclasses.replace(cfg.rl, trajectories=3, horizon=12, **rl)
    return dataclasses.replace(cfg, algo=algo, iterations=2, meta_batch=3, val_tasks=4, val_every=2, model=model, rl=rl)


def test_the_domain_is_registered_with_the_papers_settings():
    spec = registry.get("nav2d")
    cfg = domain_config("nav2d")
    assert (cfg.iterations, cfg.inner_lr, cfg.meta_batch) == (500, 0.1, 20)
    assert cfg.model.sizes == (2, 100, 100, 2) and spec.shots(cfg) == 20
    assert (cfg.rl.max_kl, cfg.rl.cg_iters, cfg.rl.cg_damping, cfg.rl.gamma, cfg.rl.gae_lambda) == (
        0.01,
        10,
        1e-5,
        0.99,
        1.0,
    )
    assert spec.with_shots(cfg, 40).rl.trajectories == 40


@pytest.mark.parametrize(
    ("algo", "options"),
    [
        ("maml", {}),
        ("maml", {"estimator": "dice"}),
        ("maml", {"fisher": "exact"}),
        ("fomaml", {}),
        ("pretrained", {}),
        ("oracle", {}),
    ],
)
def test_the_trainer_takes_trpo_steps_within_the_trust_region(algo, options):
    cfg = _small(algo, **options)
    trainer = Trainer(cfg)
    before = trainer.snapshot()[algo]
    progress = list(trainer.iterate())
    assert [p.iteration for p in progress] == [1, 2]
    losses = progress[-1].losses
    assert losses[f"{algo}/kl"] <= cfg.rl.max_kl
    assert progress[-1].validation and f"{algo}/return/step0" in progress[-1].validation
    after = trainer.snapshot()[algo]
    assert any(not torch.equal(before[k], after[k]) for k in before) or losses[f"{algo}/line_search"] == -1
    if algo in ("maml", "fomaml"):
        assert {f"{algo}/pre", f"{algo}/post", f"{algo}/return_pre", f"{algo}/return_post"} <= set(losses)


def test_training_is_deterministic_for_a_seed():
    first = Trainer(_small("fomaml"))
    list(first.iterate())
    second = Trainer(_small("fomaml"))
    list(second.iterate())
    for k, v in first.snapshot()["fomaml"].items():
        assert torch.equal(v, second.snapshot()["fomaml"][k])


def test_unsupported_algorithms_are_refused():
    with pytest.raises(ConfigError, match="2D navigation trains"):
        Trainer(dataclasses.replace(_small(), algo="reptile"))
    with pytest.raises(ConfigError, match="oracle takes 4 inputs"):
        dataclasses.replace(_small("oracle"), model=ModelConfig(hidden=(8,), in_features=2, out_features=2)).validate()


def test_adapt_and_rollout_for_the_app_is_reproducible():
    params = init_policy(ModelConfig(hidden=(100, 100), in_features=2, out_features=2), torch.Generator())
    paths, returns = adapt_and_rollout(params, (0.3, -0.2), steps=3, n_traj=20, seed=5)
    assert paths.shape == (4, 20, 101, 2) and returns.shape == (4, 20)
    assert torch.equal(paths[:, :, 0], torch.zeros(4, 20, 2))
    again, _ = adapt_and_rollout(params, (0.3, -0.2), steps=3, n_traj=20, seed=5)
    assert torch.equal(paths, again)
    other, _ = adapt_and_rollout(params, (-0.3, 0.2), steps=3, n_traj=20, seed=5)
    assert not torch.equal(paths, other)  # its latency (a click in the RL tab) is benchmarks/bench_nav2d.py's


def test_evaluation_follows_the_papers_protocol():
    params = init_policy(ModelConfig(hidden=(8, 8), in_features=2, out_features=2), torch.Generator().manual_seed(0))
    curve = evaluate_policy(params, steps=2, n_tasks=5, n_traj=4)
    assert len(curve.mean) == 3 and len(curve.ci95) == 3 and curve.tasks == 5
    assert all(m < 0 for m in curve.mean) and all(c >= 0 for c in curve.ci95)
    assert curve == evaluate_policy(params, steps=2, n_tasks=5, n_traj=4)


def test_the_exported_file_is_the_plain_sequential_plus_log_std(tmp_path):
    cfg = domain_config("nav2d")
    params = init_policy(cfg.model, torch.Generator().manual_seed(0))
    params[LOG_STD] = torch.tensor([-0.7, -0.4])
    path = tmp_path / "policy.safetensors"
    save_initialization(path, Initialization(params, cfg, "maml", 3, {"note": 1}))
    tensors = load_file(path)
    net = nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 2))
    log_std = tensors.pop(LOG_STD)
    net.load_state_dict(tensors)  # strict: exactly the Sequential's names and shapes
    assert torch.equal(log_std, params[LOG_STD])
    with safe_open(path, framework="pt") as fh:
        metadata = fh.metadata()
    assert json.loads(metadata["architecture"])["sizes"] == [2, 100, 100, 2]
    assert json.loads(metadata["config"])["rl"]["max_kl"] == 0.01
    loaded = load_initialization(path)
    assert loaded.config == cfg and loaded.algorithm == "maml"
    obs = torch.randn(5, 2)
    from mamlviz.core.nav2d.policy import policy_mean

    assert torch.allclose(net(obs), policy_mean(loaded.params, obs), atol=1e-6)


def test_the_shipped_policies_load_and_adapt():
    from mamlviz.resources import SHIPPED_NAV2D, resource_path

    for algo, name in SHIPPED_NAV2D.items():
        init = load_initialization(resource_path(name))
        assert init.algorithm == algo and init.config.domain == "nav2d"
    maml = load_initialization(resource_path(SHIPPED_NAV2D["maml"]))
    _, returns = adapt_and_rollout(maml.params, (0.4, 0.1), steps=1, n_traj=10, seed=0)
    assert returns[1].mean() > returns[0].mean()
