"""A trained result is never lost: checked targets, fallback saves, cleaned temporaries, file modes, signals."""

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from safetensors import SafetensorError

import mamlviz.core.checkpoint as checkpoint
from mamlviz.cli import main
from mamlviz.core.checkpoint import Initialization, check_writable, load_initialization, save_initialization
from mamlviz.core.config import ModelConfig, TrainConfig
from mamlviz.core.data import default_generator
from mamlviz.core.errors import CheckpointError, MamlvizError
from mamlviz.core.model import init_params

ROOT = Path(__file__).resolve().parent.parent
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals, FIFOs and file modes")
TINY = ["--meta-batch", "2", "--hidden", "8"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def init() -> Initialization:
    cfg = TrainConfig(iterations=2, model=ModelConfig(hidden=(6,)))
    return Initialization(init_params(cfg.model, default_generator(0)), cfg, "maml", 2)


def _targets(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    link = tmp_path / "link.safetensors"
    link.symlink_to(tmp_path / "elsewhere.safetensors")
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    return {"folder": folder, "symlink": link, "fifo": fifo}


@POSIX
@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo"])
def test_train_refuses_an_out_that_is_not_a_regular_file_before_training(kind, tmp_path, capsys):
    target = _targets(tmp_path)[kind]
    assert main(["train", "--iters", "2", *TINY, "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err and "training" not in err
    assert not (tmp_path / "elsewhere.safetensors").exists()


@POSIX
def test_a_device_node_is_refused_without_touching_it():
    with pytest.raises(CheckpointError, match="not a regular file"):
        check_writable(Path(os.devnull))


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint.os, "access", lambda *args: False)
    assert main(["train", "--iters", "2", *TINY, "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "is not writable" in err and "training" not in err


@POSIX
def test_gui_exports_get_the_same_check_and_a_mamlviz_error(init, tmp_path, monkeypatch):
    with pytest.raises(MamlvizError, match="not a regular file"):
        save_initialization(_targets(tmp_path)["fifo"], init)

    def broken(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", broken)
    with pytest.raises(CheckpointError, match="No space left"):
        save_initialization(tmp_path / "x.safetensors", init)
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_failed_write_leaves_no_temporary_file(init, tmp_path, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        save_initialization(tmp_path / "x.safetensors", init)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@POSIX
def test_stale_temporaries_of_the_target_are_removed_on_the_next_write(init, tmp_path):
    killed = tmp_path / ".x.safetensors.999999999-0123abcd.tmp"  # above any pid Linux hands out
    old_style = tmp_path / ".x.safetensors.0123456789abcdef0123456789abcdef.tmp"
    running = tmp_path / f".x.safetensors.{os.getppid()}-0123abcd.tmp"
    other = tmp_path / ".y.safetensors.999999999-0123abcd.tmp"
    for path in (killed, old_style, running, other):
        path.write_bytes(b"half written")
    save_initialization(tmp_path / "x.safetensors", init)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["x.safetensors", running.name, other.name])


@POSIX
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_exports_get_the_usual_file_mode_honoring_the_umask(init, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        save_initialization(tmp_path / "x.safetensors", init)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.safetensors").stat().st_mode) == mode


def test_when_the_final_write_fails_the_result_goes_to_a_fallback_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "target.safetensors"
    real = checkpoint.save_initialization

    def disk_full_for_target(path, init):
        if Path(path) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, init)

    monkeypatch.setattr(checkpoint, "save_initialization", disk_full_for_target)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["train", "--iters", "3", *TINY, "--out", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    (fallback,) = cwd.glob("target-*.safetensors")
    assert str(fallback) in err and "No space left on device" in err
    assert load_initialization(fallback).iterations == 3 and not target.exists()


@pytest.mark.parametrize("seed", [str(10**23), "1e23", "-1", str(2**63)])
def test_seeds_out_of_range_are_refused_in_one_sentence(seed, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--iters", "2", "--seed", seed, "--out", str(tmp_path / "x.safetensors")])
    assert exit_info.value.code == 2
    assert "--seed: expected a whole number from 0 to 9223372036854775807" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_eval_shows_long_file_names_in_full(tmp_path, capsys):
    out = tmp_path / "a_rather_long_initialization_name_from_a_sweep.safetensors"
    assert main(["train", "--iters", "2", *TINY, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--tasks", "3", "--steps", "1", "--shots", "5"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].startswith(out.name + " maml")
    assert table[1].index("algo") == table[-1].index("maml")


def _popen(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Read stderr until the progress bar shows training has started (the process is killed past the timeout)."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stderr:
            if line.startswith("maml ["):
                return
        pytest.fail(f"training never showed progress: {proc.communicate()}")
    finally:
        timer.cancel()


@POSIX
@pytest.mark.parametrize(
    ("signals", "code"),
    [((signal.SIGINT,), 130), ((signal.SIGTERM,), 143), ((signal.SIGHUP,), 129), ((signal.SIGINT,) * 3, 130)],
    ids=["SIGINT", "SIGTERM", "SIGHUP", "repeated-ctrl-c"],
)
def test_a_stop_signal_mid_training_saves_and_exits_with_its_code(signals, code, tmp_path):
    out = tmp_path / "x.safetensors"
    args = ["train", "--iters", "1000000", "--compile", "off", *TINY, "--out", str(out)]
    proc = _popen(sys.executable, "-m", "mamlviz", *args, cwd=tmp_path)
    try:
        _wait_for_progress(proc)
        for signum in signals:
            os.kill(proc.pid, signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and f"{signal.Signals(signals[0]).name}: stopped after" in err
    assert 0 < load_initialization(out).iterations < 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]


@POSIX
def test_a_signal_during_the_final_evaluation_still_saves_and_one_during_saving_is_ignored(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys
        import mamlviz.core.checkpoint as checkpoint
        import mamlviz.core.sinusoid.domain as sinusoid
        from mamlviz.cli import main

        def stop_evaluation(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("the signal should have stopped the evaluation")

        real_save = checkpoint.save_initialization

        def ctrl_c_while_saving(path, init):
            os.kill(os.getpid(), signal.SIGINT)
            real_save(path, init)

        sinusoid.evaluate, checkpoint.save_initialization = stop_evaluation, ctrl_c_while_saving
        sys.exit(main(sys.argv[1:]))
        """
    )
    out = tmp_path / "x.safetensors"
    args = ["train", "--iters", "3", *TINY, "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr and "SIGTERM: stopped during the final evaluation" in result.stderr
    saved = load_initialization(out)
    assert saved.iterations == 3 and "eval_K5" not in saved.metrics


def test_handlers_are_restored_after_training(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert main(["train", "--iters", "2", *TINY, "--out", str(tmp_path / "x.safetensors")]) == 0
    assert {s: signal.getsignal(s) for s in before} == before
