"""The once-per-machine record of Inductor's vector-instruction probe (no compile, no probe: both are stood in)."""

import pytest
from torch._inductor import config, cpu_vec_isa

from mamlviz.core import vector_isa


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A memo in a temporary folder and a CPU advertising AVX2 and AVX-512; `accepted` is what the probe passes."""
    monkeypatch.setattr(vector_isa, "_memo_path", lambda: tmp_path / vector_isa.MEMO)
    monkeypatch.setattr(vector_isa, "_machine_key", lambda: "torch|python|g++|x86_64|avx2|avx512")
    accepted = ["avx512", "avx2"]

    def advertised():
        return ["avx512", "avx2"]

    def probed():
        assert config.cpp.vec_isa_ok is None, "the probe runs only where nothing is trusted"
        return list(accepted)

    probed.__wrapped__ = advertised
    monkeypatch.setattr(cpu_vec_isa, "valid_vec_isa_list", probed)
    return accepted


def test_nothing_is_trusted_before_a_probe_was_recorded(machine):
    assert vector_isa.inductor_settings() == {}


def test_a_probe_that_accepted_every_advertised_set_is_trusted_next_time(machine):
    vector_isa.remember()
    assert vector_isa.inductor_settings() == {"cpp.vec_isa_ok": True}


def test_a_probe_that_rejected_a_set_is_never_trusted(machine):
    machine.remove("avx512")
    vector_isa.remember()
    assert vector_isa.inductor_settings() == {}


def test_another_torch_python_compiler_or_cpu_probes_again(machine, monkeypatch):
    vector_isa.remember()
    monkeypatch.setattr(vector_isa, "_machine_key", lambda: "torch 2.14|python|g++|x86_64|avx2|avx512")
    assert vector_isa.inductor_settings() == {}


def test_a_damaged_record_leaves_inductor_as_it_is(machine, tmp_path):
    (tmp_path / vector_isa.MEMO).write_text("{not json")
    assert vector_isa.inductor_settings() == {}


def test_nothing_is_recorded_when_inductor_was_told_what_to_trust(machine, tmp_path, monkeypatch):
    monkeypatch.setattr(config.cpp, "vec_isa_ok", False)
    vector_isa.remember()
    assert not (tmp_path / vector_isa.MEMO).exists()
