"""Command line: `mamlviz [gui|train|eval|info]`. The only module that prints."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mamlviz.core import distributed, registry
from mamlviz.core.allocator import keep_large_blocks_on_heap
from mamlviz.core.config import (
    ALGORITHMS,
    EVAL_SEED,
    OMNIGLOT_SPLITS,
    ClassificationConfig,
    ModelConfig,
    TaskConfig,
    TrainConfig,
    parse_hidden,
)
from mamlviz.core.errors import ConfigError, MamlvizError, TrainingDiverged
from mamlviz.core.fused import COMPILE_COST

if TYPE_CHECKING:
    from mamlviz.core.checkpoint import Initialization
    from mamlviz.core.train import Trainer

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals that end `mamlviz train` early, saving what was trained."""


def _int_at_least(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "a whole number from 0")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


MAX_SEED = 2**63 - 1


def _seed(text: str) -> int:
    """A whole number in 0..2**63-1 (what torch.manual_seed takes, leaving room for seed + 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_SEED}, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_SEED}, got {value}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return parse_hidden(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mamlviz",
        description="Visual explorer for Model-Agnostic Meta-Learning. Without a command, opens the desktop app.",
    )
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the desktop app (the default)", add_help=False)
    gui.add_argument("gui_args", nargs=argparse.REMAINDER, help="options of the desktop app (see mamlviz gui --help)")

    defaults = TrainConfig()
    classification = ClassificationConfig()
    from mamlviz.core.presets import DOMAIN_DEFAULTS

    settings = {
        name: {
            "iters": config.iterations,
            "inner_lr": config.inner_lr,
            "meta_batch": config.meta_batch,
            "shots": registry.get(name).shots(config),
            "eval_steps": registry.get(name).eval_steps,
        }
        for name, config in DOMAIN_DEFAULTS.items()
    }

    def per_domain(key: str) -> str:
        return "(default: " + ", ".join(f"{name} {values[key]}" for name, values in settings.items()) + ")"

    train = sub.add_parser("train", help="meta-train an initialization and export it to .safetensors")
    train.add_argument(
        "--domain", choices=list(DOMAIN_DEFAULTS), default="sinusoid", help="task family (default: %(default)s)"
    )
    train.add_argument("--algo", choices=ALGORITHMS, default=defaults.algo, help="algorithm (default: %(default)s)")
    train.add_argument("--iters", type=_positive_int, help=f"meta-iterations {per_domain('iters')}")
    train.add_argument("--inner-steps", type=_positive_int, help="inner SGD steps S (default 1; 20-way omniglot 5)")
    train.add_argument("--inner-lr", type=_positive_float, help=f"inner learning rate α {per_domain('inner_lr')}")
    train.add_argument("--meta-lr", type=_positive_float, default=defaults.meta_lr, help="Adam meta learning rate β")
    train.add_argument("--meta-batch", type=_positive_int, help=f"tasks per meta-batch {per_domain('meta_batch')}")
    train.add_argument("--shots", type=_positive_int, help=f"support points (per class) K {per_domain('shots')}")
    train.add_argument("--ways", type=_positive_int, default=classification.ways, help="omniglot: classes per task N")
    train.add_argument(
        "--queries", type=_positive_int, help="omniglot: query drawings per class (default 1; protonet, matchingnet 5)"
    )
    train.add_argument(
        "--train-ways", type=_positive_int, help="omniglot protonet, matchingnet: classes per training episode (60)"
    )
    train.add_argument(
        "--fisher",
        choices=("adapted", "exact"),
        help="nav2d TRPO metric: the post-update policies' Fisher (default) or the KL's exact Hessian through the "
        "inner step (about 4x slower)",
    )
    train.add_argument("--data", type=Path, help="omniglot: folder with the archives (default: download them)")
    train.add_argument(
        "--split",
        choices=OMNIGLOT_SPLITS,
        default=classification.split,
        help="omniglot: meta-train/test on the background/evaluation alphabets, or the paper's fixed random "
        "1200/423 characters (default: %(default)s)",
    )
    train.add_argument(
        "--val-characters",
        type=_non_negative_int,
        default=classification.val_characters,
        metavar="N",
        help="omniglot: draw the validation tasks (and --keep-best's choice) from N meta-training characters held "
        "out of training, a fixed random choice (paper split: 100 leaves 1,100); 0 (default): from the "
        "meta-test characters",
    )
    train.add_argument(
        "--hidden", type=_hidden, help="hidden sizes, e.g. 40,40 (default: the domain's; sinusoid 40,40, nav2d 100,100)"
    )
    train.add_argument("--seed", type=_seed, default=defaults.seed, help="random seed (default: %(default)s)")
    train.add_argument("--epsilon", type=_positive_float, default=defaults.epsilon, help="Reptile interpolation rate ε")
    train.add_argument("--msl", action="store_true", help="MAML++ multi-step loss with annealed step weights")
    train.add_argument(
        "--first-order-until", type=int, default=0, metavar="N", help="MAML++: first-order for iterations 1..N"
    )
    train.add_argument("--lslr", action="store_true", help="MAML++: learned per-layer, per-step inner learning rates")
    train.add_argument(
        "--step-size-lr", type=float, default=0.0, help="Adam lr of learned inner lrs (default: the meta lr)"
    )
    train.add_argument("--cosine", action="store_true", help="cosine annealing of the meta learning rate (Reptile: ε)")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="default: %(default)s")
    train.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="compile each sinusoid (FO-)MAML meta-iteration into one call (~30 s the first time on a machine, loaded "
        "from its cache after; then ~4x faster on CPU); auto: from 20,000 iterations (default: %(default)s)",
    )
    train.add_argument("--val-every", type=_positive_int, default=defaults.val_every, help="validation period")
    train.add_argument("--val-tasks", type=_positive_int, default=defaults.val_tasks, help="validation tasks")
    train.add_argument(
        "--init",
        type=Path,
        metavar="FILE",
        help="start from this exported initialization (same network; the optimizer starts afresh)",
    )
    train.add_argument(
        "--keep-best",
        action="store_true",
        help="save the iterate with the best validation figure (MSE, accuracy, return: the domain's) instead of the "
        "last; validated every --val-every iterations and at the end (omniglot: see --val-characters)",
    )
    train.add_argument("--out", type=Path, required=True, help="output FILE.safetensors")

    evaluate = sub.add_parser("eval", help="MSE vs adaptation steps of one or more initializations")
    evaluate.add_argument("files", nargs="+", type=Path, help=".safetensors (or .pt state dict) files")
    evaluate.add_argument("--shots", type=_positive_int, nargs="+", help="K values (default: 5 10 / as trained)")
    evaluate.add_argument("--steps", type=_positive_int, help=f"adaptation steps {per_domain('eval_steps')}")
    evaluate.add_argument("--tasks", type=_positive_int, help="number of test tasks (default 600; nav2d 40)")
    evaluate.add_argument(
        "--inner-lr", type=_positive_float, help="adaptation step α (default: 0.01 / as trained; learned ones win)"
    )
    evaluate.add_argument("--ways", type=_positive_int, help="omniglot: classes per task (default: as trained)")
    evaluate.add_argument("--data", type=Path, help="omniglot: folder with the archives (default: as trained)")
    evaluate.add_argument("--seed", type=_seed, default=EVAL_SEED, help="seed of the test tasks (default %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    info = sub.add_parser("info", help="show the metadata of an initialization file")
    info.add_argument("file", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_large_blocks_on_heap()  # see core/allocator.py: large batched activations stop page-faulting
    if argv[:1] == ["gui"]:  # argparse's REMAINDER cannot take options like --screenshot first
        from mamlviz.gui.app import main as gui_main

        return gui_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command in (None, "gui"):
        from mamlviz.gui.app import main as gui_main

        return gui_main(list(getattr(args, "gui_args", [])))
    import torch

    torch.set_num_threads(1)
    try:
        return {"train": cmd_train, "eval": cmd_eval, "info": cmd_info}[args.command](args)
    except MamlvizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_train(args: argparse.Namespace) -> int:
    from mamlviz.core.checkpoint import check_writable
    from mamlviz.core.device import describe, resolve_device
    from mamlviz.core.presets import domain_config
    from mamlviz.core.train import Trainer

    spec = registry.get(args.domain)
    domain = dataclasses.replace(domain_config(args.domain), **spec.large_task_defaults(args.ways))
    domain = dataclasses.replace(domain, **spec.algo_defaults(args.algo))  # e.g. ProtoNet's 60-way episodes
    shots = args.shots or spec.shots(domain)
    cfg = TrainConfig(
        algo=args.algo,
        iterations=args.iters or domain.iterations,
        inner_steps=args.inner_steps or domain.inner_steps,
        inner_lr=args.inner_lr or domain.inner_lr,
        meta_lr=args.meta_lr,
        meta_batch=args.meta_batch or domain.meta_batch,
        seed=args.seed,
        epsilon=args.epsilon,
        msl=args.msl,
        first_order_until=args.first_order_until,
        lslr=args.lslr,
        step_size_lr=args.step_size_lr,
        cosine=args.cosine,
        val_every=args.val_every,
        val_tasks=args.val_tasks,
        task=TaskConfig(),
        model=ModelConfig(
            hidden=args.hidden or domain.model.hidden,
            in_features=spec.oracle_inputs[0] if args.algo == "oracle" else domain.model.in_features,
            out_features=domain.model.out_features,
        ),
        rl=dataclasses.replace(domain.rl, fisher=args.fisher) if args.fisher else domain.rl,
        domain=args.domain,
        classification=ClassificationConfig(
            ways=args.ways,
            shots=shots,
            queries=args.queries or domain.classification.queries,
            train_ways=args.train_ways or domain.classification.train_ways,
            data=str(args.data.resolve()) if args.data else "",
            split=args.split,
            val_characters=args.val_characters,
        ),
    )
    cfg = spec.with_shots(cfg, shots)
    device = resolve_device(args.device)
    ranks = distributed.from_environment(device)
    if ranks.main:
        check_writable(args.out)
    if spec.loading_note and ranks.main:
        print(spec.loading_note, file=sys.stderr)
    compile = {"auto": None, "on": True, "off": False}[args.compile]
    trainer = Trainer(cfg, device=device, compile=compile, ranks=ranks, keep_best=args.keep_best)
    if ranks.world == 1 and any(getattr(learner, "fused", None) for learner in trainer.learners):
        print(
            f"compiling each meta-iteration into one call (--compile off skips it): {COMPILE_COST}",
            file=sys.stderr,
        )
    started_from = _start_from(trainer, args.init) if args.init is not None else None
    inputs = json.dumps(cfg.to_dict()) + (distributed.file_digest(args.init) if args.init else "")
    distributed.check_same_inputs(ranks, inputs)
    trainer.broadcast()
    handler = _interrupt if ranks.world == 1 else _defer_interrupt  # ranks must stop at the same iteration
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        where = describe(device) + (f" × {ranks.world} ranks" if ranks.world > 1 else "")
        return _train_and_save(args, cfg, trainer, started_from, where)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        distributed.leave(ranks)


def _train_and_save(
    args: argparse.Namespace, cfg: TrainConfig, trainer: Trainer, started_from: dict | None, where: str
) -> int:
    """Train (a stop signal ends training early), evaluate unless stopped, then save with signals ignored."""
    from mamlviz.core.checkpoint import Initialization
    from mamlviz.progress import ProgressBar

    spec, ranks = registry.get(cfg.domain), trainer.ranks
    out = sys.stderr if ranks.main else open(os.devnull, "w")  # noqa: SIM115 - only rank 0 reports
    print(f"training {cfg.algo} on {cfg.domain} for {cfg.iterations} iterations on {where}", file=out)
    bar = ProgressBar(cfg.iterations, cfg.algo, out)
    selection = spec.selection(cfg, trainer.learners[0].algo) if spec.selection is not None else None
    status, elapsed, evaluated = 0, None, {}
    try:
        try:
            for progress in trainer.iterate():
                loss = progress.losses.get(f"{cfg.algo}/post", progress.losses.get(cfg.algo, float("nan")))
                bar.update(progress.iteration, f"loss {loss:.3f}")
                if progress.validation and selection is not None and selection.key in progress.validation:
                    bar.note(_validation_line(progress.iteration, progress.validation, selection, trainer))
                if distributed.any_rank(ranks, _deferred is not None, trainer.device):
                    _ignore_signals()
                    raise Stopped(_deferred or signal.SIGTERM)
        except TrainingDiverged as exc:
            print(f"\nerror: {exc}", file=sys.stderr)
            status = 1
        elapsed = bar.close()
        if not ranks.main:
            return status
        if trainer.best is not None:  # the final evaluation judges what is saved: the kept iterate
            trainer.best.restore(trainer.learners[0])
        if trainer.iteration and spec.final_metrics is not None:
            evaluated = spec.final_metrics(cfg, trainer.learners[0])
        _ignore_signals()  # inside the try: a signal before this line is still handled below
    except KeyboardInterrupt as exc:
        if not ranks.main:
            return 128 + (exc.signum if isinstance(exc, Stopped) else signal.SIGINT)
        if elapsed is None:
            status = _stopped(exc, f"after {trainer.iteration} iterations; saving what was trained")
            elapsed = bar.close()
        else:
            status = _stopped(exc, "during the final evaluation; saving without it")
    if trainer.iteration == 0:
        print("nothing was trained, so nothing was saved.", file=sys.stderr)
        return status or 1
    learner = trainer.learners[0]
    metrics: dict[str, object] = {"train_seconds": round(elapsed, 1), "validation": trainer.last_validation}
    iterations = trainer.iteration
    best = trainer.best
    if best is not None:
        best.restore(learner)  # again: a stop may have come before the restore above
        metrics["keep_best"] = best.record(trainer.iteration)
        if best.kept is not None:
            metrics["validation"], metrics["last_validation"] = best.kept.validation, trainer.last_validation
            iterations = best.kept.iteration
    params, inner_lrs = learner.snapshot(), learner.learned_lrs()
    if started_from is not None:
        metrics["started_from"] = started_from
        iterations += started_from["iterations"]
    metrics.update(evaluated)
    init = Initialization(params, cfg, cfg.algo, iterations, metrics, inner_lrs)
    saved = _save(args.out, init)
    if best is not None:
        print(best.summary(trainer.iteration), file=sys.stderr)
    if saved != args.out:
        return status or 1
    summary = f"saved {args.out} after {trainer.iteration} iterations in {elapsed:.1f} s"
    print(summary + spec.trained_summary(metrics, args.out), file=sys.stderr)
    return status


def _validation_line(iteration: int, validation: dict, selection: registry.SelectionMetric, trainer: Trainer) -> str:
    """e.g. 'iteration 2,000: val accuracy 93.1% (the best so far: kept)', the figure `--keep-best` selects by."""
    line = f"iteration {iteration:,}: {selection.describe(float(validation[selection.key]))}"
    best = trainer.best
    if best is not None and best.kept is not None:
        line += " (the best so far: kept)" if best.kept.iteration == iteration else f" (kept: {best.kept.iteration:,})"
    return line


def _save(target: Path, init: Initialization) -> Path:
    """Save to target; if that fails (disk full, ...), to a fallback file that can be written. Returns where."""
    import tempfile

    from mamlviz.core.checkpoint import save_initialization

    try:
        save_initialization(target, init)
        return target
    except (MamlvizError, OSError) as exc:
        reason = exc
    name = f"{target.stem}-{os.getpid()}{target.suffix or '.safetensors'}"
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        fallback = folder / name
        if fallback.resolve() == target.resolve():
            continue
        try:
            save_initialization(fallback, init)
        except (MamlvizError, OSError):
            continue
        print(f"error: {str(reason).rstrip('.')}; the result was saved to {fallback} instead.", file=sys.stderr)
        return fallback
    raise MamlvizError(f"could not save the result to {target} nor to a fallback file: {str(reason).rstrip('.')}.")


def _start_from(trainer, path: Path) -> dict[str, object]:
    """Load an exported initialization into the trained learner; returns what the new file records of it."""
    import torch

    from mamlviz.core.checkpoint import load_initialization

    init = load_initialization(path)
    same_domain = init.config.domain == trainer.cfg.domain
    params, note = registry.get(trainer.cfg.domain).start_params(init.params, trainer.cfg) if same_domain else ({}, "")
    learner = trainer.learners[0]
    shapes = {k: tuple(v.shape) for k, v in learner.theta.items()}
    if not same_domain or {k: tuple(v.shape) for k, v in params.items()} != shapes:
        raise ConfigError(f"--init {path} holds another network than this run trains; give the same architecture.")
    if note and trainer.ranks.main:
        print(f"--init {path.name}: {note}.", file=sys.stderr)
    with torch.no_grad():
        for name, value in params.items():
            learner.theta[name].copy_(value)
        for name, value in (init.inner_lrs or {}).items():
            if name in learner.inner_lrs and learner.inner_lrs[name].shape == value.shape:
                learner.inner_lrs[name].copy_(value)
    started = {"file": path.name, "algorithm": init.algorithm, "iterations": init.iterations}
    return {**started, "changed": note} if note else started


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived; the run saves what it has and exits 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: object) -> None:
    """Stop like Ctrl-C; further stop signals are ignored from now on so that saving cannot be cut short."""
    _ignore_signals()
    raise Stopped(signum)


_deferred: int | None = None
"""A stop signal that arrived while several ranks train: every rank stops at the next iteration's end."""


def _defer_interrupt(signum: int, frame: object) -> None:
    global _deferred
    _deferred = signum


def _ignore_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _stopped(exc: KeyboardInterrupt, what: str) -> int:
    """Report a stop; return its exit status (128 + the signal number; plain Ctrl-C: SIGINT)."""
    _ignore_signals()
    signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
    print(f"\n{signal.Signals(signum).name}: stopped {what}.", file=sys.stderr)
    return 128 + signum


def cmd_eval(args: argparse.Namespace) -> int:
    from mamlviz.core.checkpoint import load_initialization
    from mamlviz.core.evaluate import check_evaluation

    inits = [load_initialization(path) for path in args.files]
    domains = {init.config.domain for init in inits}
    if len(domains) > 1:
        raise ConfigError(f"evaluate files of one domain at a time ({' or '.join(registry.names())}), not both.")
    spec = registry.get(domains.pop())
    tasks = args.tasks or spec.eval_tasks
    check_evaluation(tasks, args.steps or spec.eval_steps, args.shots or ())
    options = registry.EvalOptions(args.shots, args.steps, tasks, args.inner_lr, args.seed, args.ways, args.data)
    report = spec.evaluate(options, list(zip(args.files, inits, strict=True)))
    if args.json:
        print(json.dumps(report.document, indent=2))
        return 0
    for line in report.lines:
        print(line)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from mamlviz.core.checkpoint import load_initialization

    init = load_initialization(args.file)
    print(f"file:        {args.file}")
    print(f"algorithm:   {init.algorithm}")
    print(f"iterations:  {init.iterations}")
    print(f"seed:        {init.config.seed}")
    print(f"model:       {registry.get(init.config.domain).describe_model(init.config)}")
    print(f"config:      {json.dumps(init.config.to_dict())}")
    if init.inner_lrs:
        shapes = ", ".join(f"{k} {list(v.shape)} mean {float(v.mean()):.4g}" for k, v in init.inner_lrs.items())
        print(f"inner lrs:   learned, {shapes}")
    print(f"metrics:     {json.dumps(init.metrics)}")
    return 0
