"""Command line: `mamlviz [gui|train|eval|info]`. The only module that prints."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mamlviz.core.config import (
    ALGORITHMS,
    DOMAINS,
    EVAL_SEED,
    ORACLE_INPUTS,
    ClassificationConfig,
    ModelConfig,
    TaskConfig,
    TrainConfig,
    parse_hidden,
)
from mamlviz.core.errors import ConfigError, MamlvizError, TrainingDiverged

TABLE_STEPS = (0, 1, 2, 5, 10, 20, 50)
DOMAIN_DEFAULTS = {
    "sinusoid": {"iters": 70_000, "inner_lr": 0.01, "meta_batch": 25, "shots": 10, "eval_steps": 10},
    "omniglot": {"iters": 60_000, "inner_lr": 0.4, "meta_batch": 32, "shots": 1, "eval_steps": 5},
}
"""The paper's settings per domain (Omniglot 5-way: 1 inner step, α = 0.4, meta-batch 32, 60k iterations)."""
OMNIGLOT_20_WAY = {"inner_lr": 0.1, "meta_batch": 16, "inner_steps": 5}
"""The paper's 20-way Omniglot settings, used from 20 ways up where not given."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
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
    sin, omni = DOMAIN_DEFAULTS["sinusoid"], DOMAIN_DEFAULTS["omniglot"]

    def per_domain(key: str) -> str:
        return f"(default: sinusoid {sin[key]}, omniglot {omni[key]})"

    train = sub.add_parser("train", help="meta-train an initialization and export it to .safetensors")
    train.add_argument("--domain", choices=DOMAINS, default="sinusoid", help="task family (default: %(default)s)")
    train.add_argument("--algo", choices=ALGORITHMS, default=defaults.algo, help="algorithm (default: %(default)s)")
    train.add_argument("--iters", type=_positive_int, help=f"meta-iterations {per_domain('iters')}")
    train.add_argument("--inner-steps", type=_positive_int, help="inner SGD steps S (default 1; 20-way omniglot 5)")
    train.add_argument("--inner-lr", type=_positive_float, help=f"inner learning rate α {per_domain('inner_lr')}")
    train.add_argument("--meta-lr", type=_positive_float, default=defaults.meta_lr, help="Adam meta learning rate β")
    train.add_argument("--meta-batch", type=_positive_int, help=f"tasks per meta-batch {per_domain('meta_batch')}")
    train.add_argument("--shots", type=_positive_int, help=f"support points (per class) K {per_domain('shots')}")
    train.add_argument("--ways", type=_positive_int, default=classification.ways, help="omniglot: classes per task N")
    train.add_argument(
        "--queries", type=_positive_int, default=classification.queries, help="omniglot: query drawings per class"
    )
    train.add_argument("--data", type=Path, help="omniglot: folder with the archives (default: download them)")
    train.add_argument("--hidden", type=_hidden, default=defaults.model.hidden, help="hidden sizes, e.g. 40,40")
    train.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
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
        action="store_true",
        help="torch.compile the (FO-)MAML meta-gradient: ~15 s to compile, then about 2x faster on CPU",
    )
    train.add_argument("--val-every", type=_positive_int, default=defaults.val_every, help="validation period")
    train.add_argument("--val-tasks", type=_positive_int, default=defaults.val_tasks, help="validation tasks")
    train.add_argument(
        "--init",
        type=Path,
        metavar="FILE",
        help="start from this exported initialization (same network; the optimizer starts afresh)",
    )
    train.add_argument("--out", type=Path, required=True, help="output FILE.safetensors")

    evaluate = sub.add_parser("eval", help="MSE vs adaptation steps of one or more initializations")
    evaluate.add_argument("files", nargs="+", type=Path, help=".safetensors (or .pt state dict) files")
    evaluate.add_argument("--shots", type=_positive_int, nargs="+", help="K values (default: 5 10 / as trained)")
    evaluate.add_argument("--steps", type=_positive_int, help=f"adaptation steps {per_domain('eval_steps')}")
    evaluate.add_argument("--tasks", type=_positive_int, default=600, help="number of test tasks (default 600)")
    evaluate.add_argument(
        "--inner-lr", type=_positive_float, help="adaptation step α (default: 0.01 / as trained; learned ones win)"
    )
    evaluate.add_argument("--ways", type=_positive_int, help="omniglot: classes per task (default: as trained)")
    evaluate.add_argument("--data", type=Path, help="omniglot: folder with the archives (default: as trained)")
    evaluate.add_argument("--seed", type=int, default=EVAL_SEED, help="seed of the test tasks (default %(default)s)")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    info = sub.add_parser("info", help="show the metadata of an initialization file")
    info.add_argument("file", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    from mamlviz.core.algorithms import inner_loop_for
    from mamlviz.core.checkpoint import Initialization, save_initialization
    from mamlviz.core.device import describe, resolve_device
    from mamlviz.core.evaluate import evaluate
    from mamlviz.core.train import Trainer
    from mamlviz.progress import ProgressBar

    domain = {"inner_steps": TrainConfig().inner_steps, **DOMAIN_DEFAULTS[args.domain]}
    if args.domain == "omniglot" and args.ways >= 20:
        domain.update(OMNIGLOT_20_WAY)
    shots = args.shots or domain["shots"]
    cfg = TrainConfig(
        algo=args.algo,
        iterations=args.iters or domain["iters"],
        inner_steps=args.inner_steps or domain["inner_steps"],
        inner_lr=args.inner_lr or domain["inner_lr"],
        meta_lr=args.meta_lr,
        meta_batch=args.meta_batch or domain["meta_batch"],
        seed=args.seed,
        epsilon=args.epsilon,
        msl=args.msl,
        first_order_until=args.first_order_until,
        lslr=args.lslr,
        step_size_lr=args.step_size_lr,
        cosine=args.cosine,
        val_every=args.val_every,
        val_tasks=args.val_tasks,
        task=TaskConfig(shots=shots, queries=shots) if args.domain == "sinusoid" else TaskConfig(),
        model=ModelConfig(hidden=args.hidden, in_features=ORACLE_INPUTS if args.algo == "oracle" else 1),
        domain=args.domain,
        classification=ClassificationConfig(
            ways=args.ways, shots=shots, queries=args.queries, data=str(args.data.resolve()) if args.data else ""
        ),
    )
    device = resolve_device(args.device)
    if not args.out.parent.is_dir():
        raise ConfigError(f"cannot write {args.out}: folder {args.out.parent} does not exist.")
    if args.domain == "omniglot":
        print("loading Omniglot (decoded once, then cached)", file=sys.stderr)
    trainer = Trainer(cfg, device=device, compile=args.compile)
    started_from = _start_from(trainer, args.init) if args.init is not None else None
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"training {cfg.algo} on {cfg.domain} for {cfg.iterations} iterations on {describe(device)}", file=sys.stderr)
    bar = ProgressBar(cfg.iterations, cfg.algo, sys.stderr)
    status = 0
    try:
        for progress in trainer.iterate():
            loss = progress.losses.get(f"{cfg.algo}/post", progress.losses.get(cfg.algo, float("nan")))
            bar.update(progress.iteration, f"loss {loss:.3f}")
    except TrainingDiverged as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print(f"\ninterrupted after {trainer.iteration} iterations; saving what was trained.", file=sys.stderr)
        status = 130
    elapsed = bar.close()
    if trainer.iteration == 0:
        print("nothing was trained, so nothing was saved.", file=sys.stderr)
        return status or 1
    learner = trainer.learners[0]
    params, inner_lrs = learner.snapshot(), learner.learned_lrs()
    metrics: dict[str, object] = {"train_seconds": round(elapsed, 1), "validation": trainer.last_validation}
    iterations = trainer.iteration
    if started_from is not None:
        metrics["started_from"] = started_from
        iterations += started_from["iterations"]
    if cfg.domain == "omniglot":
        save_initialization(args.out, Initialization(params, cfg, cfg.algo, iterations, metrics))
        print(
            f"saved {args.out} after {trainer.iteration} iterations in {elapsed:.1f} s; "
            f"run `mamlviz eval {args.out}` for the accuracy on 600 meta-test tasks",
            file=sys.stderr,
        )
        return status
    for shots in (5, 10):
        loop = inner_loop_for(cfg, inner_lrs)
        curve = evaluate(params, cfg.task, shots, steps=10, n_tasks=600, lr=loop, seed=1234)
        metrics[f"eval_K{shots}"] = {"mse": [round(v, 4) for v in curve.mean], "diverged": curve.diverged}
    init = Initialization(params, cfg, cfg.algo, iterations, metrics, inner_lrs)
    save_initialization(args.out, init)
    k5 = metrics["eval_K5"]
    print(
        f"saved {args.out} after {trainer.iteration} iterations in {elapsed:.1f} s; K=5 MSE after 0/1/10 steps: "
        + " / ".join(f"{k5['mse'][s]:.3f}" for s in (0, 1, 10))  # type: ignore[index]
        + (f" ({k5['diverged']} of 600 test tasks diverged)" if k5["diverged"] else ""),  # type: ignore[index]
        file=sys.stderr,
    )
    return status


def _start_from(trainer, path: Path) -> dict[str, object]:
    """Load an exported initialization into the trained learner; returns what the new file records of it."""
    import torch

    from mamlviz.core.checkpoint import load_initialization

    init = load_initialization(path)
    learner = trainer.learners[0]
    shapes = {k: tuple(v.shape) for k, v in learner.theta.items()}
    if {k: tuple(v.shape) for k, v in init.params.items()} != shapes or init.config.domain != trainer.cfg.domain:
        raise ConfigError(f"--init {path} holds another network than this run trains; give the same architecture.")
    with torch.no_grad():
        for name, value in init.params.items():
            learner.theta[name].copy_(value)
        for name, value in (init.inner_lrs or {}).items():
            if name in learner.inner_lrs and learner.inner_lrs[name].shape == value.shape:
                learner.inner_lrs[name].copy_(value)
    return {"file": path.name, "algorithm": init.algorithm, "iterations": init.iterations}


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops training like Ctrl-C: what was trained so far is saved."""
    raise KeyboardInterrupt


def cmd_eval(args: argparse.Namespace) -> int:
    from mamlviz.core.checkpoint import load_initialization
    from mamlviz.core.evaluate import evaluate_initialization

    inits = [load_initialization(path) for path in args.files]
    domains = {init.config.domain for init in inits}
    if len(domains) > 1:
        raise ConfigError("evaluate files of one domain at a time (sinusoid or omniglot), not both.")
    if domains == {"omniglot"}:
        return eval_classification(args, inits)
    steps = args.steps or DOMAIN_DEFAULTS["sinusoid"]["eval_steps"]
    lr = args.inner_lr or DOMAIN_DEFAULTS["sinusoid"]["inner_lr"]
    results = []
    for path, init in zip(args.files, inits, strict=True):
        for curve in evaluate_initialization(init, args.shots or [5, 10], steps, args.tasks, lr, args.seed):
            results.append({"file": str(path), "algorithm": init.algorithm, **curve.to_dict()})
    if args.json:
        print(json.dumps({"inner_lr": lr, "steps": steps, "results": results}, indent=2))
        return 0
    columns = [s for s in TABLE_STEPS if s < steps] + [steps]
    header = f"{'file':<28} {'algo':<10} {'K':>3} " + " ".join(f"{f'step {s}':>14}" for s in columns) + "  diverged"
    print(f"MSE on {args.tasks} tasks (100-point grid), α = {lr} (or the init's learned step sizes), mean ± 95% CI")
    print(header)
    for row in results:
        cells = " ".join(f"{row['mean'][s]:>7.3f} ± {row['ci95'][s]:<5.3f}" for s in columns)
        print(f"{Path(row['file']).name:<28.28} {row['algorithm']:<10} {row['shots']:>3} {cells}  {row['diverged']}")
    return 0


def eval_classification(args: argparse.Namespace, inits: list) -> int:
    """N-way K-shot accuracy on meta-test tasks from the evaluation alphabets, after 0..steps updates."""
    from mamlviz.core.classification import ImagePool, evaluate_classification
    from mamlviz.core.omniglot import load_split

    steps = args.steps or DOMAIN_DEFAULTS["omniglot"]["eval_steps"]
    results, pools = [], {}
    for path, init in zip(args.files, inits, strict=True):
        c = init.config.classification
        data = str(args.data) if args.data else (c.data if c.data and Path(c.data).is_dir() else "")
        key = (data, c.rotations)
        if key not in pools:
            pools[key] = ImagePool.from_split(load_split("evaluation", data or None), c.rotations)
        ways, lr = args.ways or c.ways, args.inner_lr or init.config.inner_lr
        for shots in args.shots or [c.shots]:
            curve = evaluate_classification(
                init.params, pools[key], ways, shots, steps, lr=lr, n_tasks=args.tasks, seed=args.seed
            )
            row = {"file": str(path), "algorithm": init.algorithm, "ways": ways, "inner_lr": lr, **curve.to_dict()}
            results.append(row)
    if args.json:
        print(json.dumps({"steps": steps, "metric": "accuracy", "results": results}, indent=2))
        return 0
    columns = range(steps + 1)
    print(f"query accuracy (%) on {args.tasks} meta-test tasks (Omniglot evaluation alphabets), mean ± 95% interval")
    print(f"{'file':<28} {'algo':<10} {'task':>6} {'α':>5} " + " ".join(f"{f'step {s}':>13}" for s in columns))
    for row in results:
        cells = " ".join(f"{100 * row['mean'][s]:>6.2f} ± {100 * row['ci95'][s]:<4.2f}" for s in columns)
        task = f"{row['ways']}w{row['shots']}s"
        print(f"{Path(row['file']).name:<28.28} {row['algorithm']:<10} {task:>6} {row['inner_lr']:>5.3g} {cells}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from mamlviz.core.checkpoint import load_initialization

    init = load_initialization(args.file)
    print(f"file:        {args.file}")
    print(f"algorithm:   {init.algorithm}")
    print(f"iterations:  {init.iterations}")
    print(f"seed:        {init.config.seed}")
    if init.config.domain == "omniglot":
        c = init.config.classification
        print(f"model:       conv 4×{c.filters} (3×3/2, batch norm, ReLU) + linear; {c.ways}-way {c.shots}-shot")
    else:
        print(f"model:       MLP {'-'.join(map(str, init.config.model.sizes))}, ReLU")
    print(f"config:      {json.dumps(init.config.to_dict())}")
    if init.inner_lrs:
        shapes = ", ".join(f"{k} {list(v.shape)} mean {float(v.mean()):.4g}" for k, v in init.inner_lrs.items())
        print(f"inner lrs:   learned, {shapes}")
    print(f"metrics:     {json.dumps(init.metrics)}")
    return 0
