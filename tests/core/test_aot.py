"""Programs compiled ahead of time: compiled once, loaded from the cache after, in place like the eager module."""

import pytest
import torch

from mamlviz.core import aot


class AddInPlace(torch.nn.Module):
    """x += y in place; returns 2x and whether x is finite (an update's shape: a mutated input, a flag)."""

    def forward(self, x, y):
        x.add_(y)
        return x * 2, torch.isfinite(x).all()


@pytest.fixture
def compiles(tmp_path, monkeypatch):
    """The packages go to a test folder; returns the list of compiles made (each a package path)."""
    monkeypatch.setattr(aot, "cache_folder", lambda: tmp_path)
    made = []
    compile = aot._compile

    def counted(module, example, path):
        made.append(path)
        compile(module, example, path)

    monkeypatch.setattr(aot, "_compile", counted)
    return made


@pytest.mark.slow
def test_a_program_compiles_once_then_loads_and_mutates_its_inputs_as_eager_does(compiles):
    x, y = torch.zeros(3), torch.arange(3.0)
    run = aot.load_or_compile(AddInPlace(), [x, y], "add")
    doubled, ok = run([x, y])
    assert torch.equal(x, torch.arange(3.0)) and torch.equal(doubled, 2 * torch.arange(3.0)) and bool(ok)
    again = aot.load_or_compile(AddInPlace(), [x, y], "add")
    again([x, y])
    assert torch.equal(x, 2 * torch.arange(3.0)) and len(compiles) == 1  # loaded, not compiled again
    aot.load_or_compile(AddInPlace(), [torch.zeros(4), torch.zeros(4)], "add")
    assert len(compiles) == 2  # another shape is another program


@pytest.mark.slow
def test_a_damaged_package_is_compiled_again(compiles):
    example = [torch.zeros(2), torch.ones(2)]
    path = aot.cache_folder() / f"{aot.package_key('add', example)}.pt2"
    path.write_bytes(b"cut short")
    run = aot.load_or_compile(AddInPlace(), example, "add")
    assert compiles == [path]
    doubled, _ = run(example)
    assert torch.equal(doubled, torch.full((2,), 2.0))


@pytest.mark.slow
def test_an_unwritable_cache_compiles_for_this_process_only(tmp_path, monkeypatch):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setattr(aot, "cache_folder", lambda: blocked / aot.FOLDER)
    x = torch.zeros(2)
    doubled, _ = aot.load_or_compile(AddInPlace(), [x, torch.ones(2)], "add")([x, torch.ones(2)])
    assert torch.equal(doubled, torch.full((2,), 2.0)) and blocked.read_text() == ""


def test_the_key_names_the_program_its_inputs_and_their_layout():
    x = torch.zeros(2, 3)
    keys = {
        aot.package_key("add", [x]),
        aot.package_key("add(0.01,)", [x]),
        aot.package_key("add", [x.t()]),
        aot.package_key("add", [x.double()]),
        aot.package_key("add", [torch.zeros(3, 2)]),
    }
    assert len(keys) == 5 and aot.package_key("add", [x]) == aot.package_key("add", [torch.ones(2, 3)])


def test_the_cache_is_inductors_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    assert aot.cache_folder() == tmp_path / aot.FOLDER
