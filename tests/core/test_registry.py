"""The domain registry and the one table of defaults and presets the CLI and the app read."""

import dataclasses

import pytest

from mamlviz.core import registry
from mamlviz.core.checkpoint import config_architecture
from mamlviz.core.config import TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import ConfigError
from mamlviz.core.model import init_params
from mamlviz.core.presets import DOMAIN_DEFAULTS, PRESETS, domain_config
from mamlviz.core.train import Trainer


def test_the_built_in_domains_register_themselves():
    assert registry.names() == ["sinusoid", "omniglot", "nav2d"]
    for name in registry.names():
        spec = registry.get(name)
        assert spec.name == name and spec.label
        assert spec.eval_steps >= 1


def test_an_unknown_domain_is_one_sentence_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"^unknown domain 'rl'; choose one of sinusoid, omniglot, nav2d\.$"):
        registry.get("rl")
    with pytest.raises(ConfigError, match="unknown domain"):
        TrainConfig(domain="rl").validate()
    with pytest.raises(ConfigError, match="unknown domain"):
        registry.get(["not", "a", "name"])


def test_registering_another_spec_under_a_known_name_is_refused():
    spec = registry.get("sinusoid")
    registry.register(spec)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(dataclasses.replace(spec, label="another"))
    assert registry.get("sinusoid") is spec


def test_the_defaults_are_one_table_of_valid_configs_the_cli_and_the_app_share():
    assert set(DOMAIN_DEFAULTS) == set(registry.names())
    for name, config in DOMAIN_DEFAULTS.items():
        assert isinstance(config, TrainConfig) and config.domain == name
        assert config == domain_config(name)
        config.validate()
        spec = registry.get(name)
        assert spec.shots(spec.with_shots(config, 3)) == 3
    assert DOMAIN_DEFAULTS["sinusoid"] == TrainConfig()
    omniglot = DOMAIN_DEFAULTS["omniglot"]
    assert (omniglot.iterations, omniglot.inner_lr, omniglot.meta_batch) == (60_000, 0.4, 32)
    assert registry.get("omniglot").large_task_defaults(20) == {"inner_lr": 0.1, "meta_batch": 16, "inner_steps": 5}
    assert registry.get("omniglot").large_task_defaults(5) == {}
    for preset in PRESETS.values():
        assert isinstance(preset, TrainConfig)
        preset.validate()
    assert PRESETS["Omniglot 5-way 1-shot (Finn et al. 2017)"].val_every == 500


def test_the_trainer_and_the_checkpoints_go_through_the_domain():
    cfg = TrainConfig(iterations=1, meta_batch=2, val_tasks=2, task=dataclasses.replace(TrainConfig().task, shots=2))
    trainer = Trainer(cfg)
    assert type(trainer.domain).__module__ == "mamlviz.core.sinusoid.domain"
    params = init_params(cfg.model, default_generator(0))
    assert config_architecture(cfg, params) == {"type": "mlp", "activation": "relu", "sizes": [1, 40, 40, 1]}
    assert registry.get("sinusoid").make_probe(cfg).points.shape == (5, 2)
    assert registry.get("omniglot").make_probe is None
