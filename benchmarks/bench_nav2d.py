"""2D navigation: environment steps per second and MAML-TRPO meta-iterations per second, the vectorized
mamlviz implementation against a per-task, per-trajectory Python loop, in the same run, 1 torch thread.

Paper settings: policy 2-100-100-2 ReLU, horizon 100, meta-batch 20 tasks × 20 trajectories, one REINFORCE
inner step (α = 0.1), TRPO (max KL 0.01, CG 10, damping 1e-5, backtracking ×0.5 up to 15).

    taskset -c 0 python benchmarks/bench_nav2d.py [--loop-iters 1] [--iters 3] [--device cpu|cuda]

It also times the RL tab's click: one goal adapted for 3 steps on 20 trajectories (target under 0.3 s).

The loop samples one trajectory at a time (a policy call per step, one point), fits the baseline and takes the
inner step task by task with autograd, and evaluates TRPO's loss and KL as a sum over tasks. Second order in both.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from mamlviz.core.nav2d.env import Trajectories, rollout, sample_goals, step
from mamlviz.core.nav2d.evaluation import adapt_and_rollout
from mamlviz.core.nav2d.policy import init_policy, policy_mean
from mamlviz.core.nav2d.rl import advantages, mean_kl, post_batch, surrogate, trpo_update
from mamlviz.core.nav2d.training import GoalBatch, TRPOLearner
from mamlviz.core.presets import domain_config


def loop_rollout(params, goals, n_traj, generator, horizon):
    """Per task, per trajectory, per step: the way a gym-style sampler runs."""
    detached = {k: v.detach() for k, v in params.items()}
    per_task = []
    for i in range(goals.shape[0]):
        task = {k: v[i] for k, v in detached.items()} if detached["log_std"].dim() == 2 else detached
        std = torch.exp(task["log_std"])
        runs = []
        for _ in range(n_traj):
            position = torch.zeros(2)
            obs, acts, rews, mask, path, alive = [], [], [], [], [position], True
            for _ in range(horizon):
                action = policy_mean(task, position.reshape(1, 2))[0] + std * torch.randn(2, generator=generator)
                moved, reward, done = step(position, action, goals[i])
                obs.append(position)
                acts.append(action)
                rews.append(reward if alive else torch.tensor(0.0))
                mask.append(float(alive))
                if alive:
                    position = moved
                path.append(position)
                alive = alive and not bool(done)
            runs.append((torch.stack(obs), torch.stack(acts), torch.stack(rews), torch.tensor(mask), torch.stack(path)))
        per_task.append([torch.stack(parts) for parts in zip(*runs, strict=True)])
    stacked = [torch.stack(parts) for parts in zip(*per_task, strict=True)]
    return Trajectories(*stacked, goals)


def task_slice(traj: Trajectories, i: int) -> Trajectories:
    return Trajectories(*(getattr(traj, f)[i : i + 1] for f in traj.__dataclass_fields__))


def loop_meta_iteration(theta, goals, cfg, generator):
    """One MAML-TRPO iteration with Python loops over tasks and trajectories."""
    rl = cfg.rl
    pre = loop_rollout(theta, goals, rl.trajectories, generator, rl.horizon)
    tasks = [task_slice(pre, i) for i in range(goals.shape[0])]
    pre_adv = [advantages(t, rl.gamma, rl.gae_lambda) for t in tasks]

    def adapt_one(i, create_graph):
        from mamlviz.core.nav2d.rl import inner_losses

        loss = inner_losses(theta, tasks[i], pre_adv[i]).sum()
        grads = torch.autograd.grad(loss, list(theta.values()), create_graph=create_graph)
        return {k: v - cfg.inner_lr * g for (k, v), g in zip(theta.items(), grads, strict=True)}

    adapted = [adapt_one(i, False) for i in range(len(tasks))]
    post_tasks, posts = [], []
    for i, params in enumerate(adapted):
        traj = loop_rollout(params, goals[i : i + 1], rl.trajectories, generator, rl.horizon)
        post_tasks.append(traj)
        single = {k: v.detach().unsqueeze(0) for k, v in params.items()}
        posts.append(post_batch(single, traj, advantages(traj, rl.gamma, rl.gae_lambda)))

    def loss_and_kl(differentiable):
        losses, kls = [], []
        for i in range(len(tasks)):
            params = {k: v.unsqueeze(0) for k, v in adapt_one(i, differentiable).items()}
            if not differentiable:
                params = {k: v.detach() for k, v in params.items()}
            losses.append(surrogate(params, posts[i]))
            kls.append(mean_kl(params, posts[i]))
        return torch.stack(losses).mean(), torch.stack(kls).mean()

    return trpo_update(theta, loss_and_kl, rl.max_kl, rl.cg_iters, rl.cg_damping, rl.ls_backtrack, rl.ls_steps)


def timed(fn, repeats):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=3, help="vectorized meta-iterations timed")
    parser.add_argument("--loop-iters", type=int, default=1, help="loop meta-iterations timed")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    cfg = domain_config("nav2d")
    rl = cfg.rl
    generator = torch.Generator().manual_seed(0)
    learner = TRPOLearner("maml", cfg, init_policy(cfg.model, generator), device)
    goals = sample_goals(cfg.meta_batch, generator)
    steps = cfg.meta_batch * rl.trajectories * rl.horizon
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen_device = torch.Generator(device=device).manual_seed(1)

    def vector_sample():
        rollout(learner.theta, goals.to(device), rl.trajectories, gen_device, rl.horizon)
        sync()

    vec = timed(vector_sample, 5)
    cpu_theta = {k: v.detach().cpu() for k, v in learner.theta.items()}
    small = 2  # the loop samples 2 of the 20 tasks (steps/s does not depend on the count)
    loop = timed(lambda: loop_rollout(cpu_theta, goals[:small], rl.trajectories, generator, rl.horizon), 1)
    loop_steps = small * rl.trajectories * rl.horizon
    print(
        f"device {device}, 1 torch thread; meta-batch {cfg.meta_batch} × {rl.trajectories} trajectories × {rl.horizon}"
    )
    print(
        f"env steps/s (policy included): vectorized {steps / vec:,.0f}  loop {loop_steps / loop:,.0f}  "
        f"speed-up {steps / vec / (loop_steps / loop):.0f}x"
    )

    click = timed(lambda: adapt_and_rollout(cpu_theta, (0.3, -0.2), steps=3, n_traj=20, seed=5), 3)
    print(f"a click in the RL tab (adapt_and_rollout, 3 steps × 20 trajectories): {click * 1000:.0f} ms (target < 300)")

    seeds = iter(range(10_000))

    def vector_iteration():
        learner.step(GoalBatch(goals, next(seeds)), 1)
        sync()

    vec_it = timed(vector_iteration, args.iters)
    print(
        f"meta-iterations/s (sampling + inner step + TRPO, second order, fisher={rl.fisher}): "
        f"vectorized {1 / vec_it:.3f} ({vec_it:.2f} s/it)",
        flush=True,
    )
    exact = dataclasses.replace(cfg, rl=dataclasses.replace(rl, fisher="exact"))
    exact_learner = TRPOLearner("maml", exact, learner.snapshot(), device)
    exact_it = timed(lambda: (exact_learner.step(GoalBatch(goals, next(seeds)), 1), sync()), args.iters)
    print(f"  vectorized, fisher=exact: {1 / exact_it:.3f} ({exact_it:.2f} s/it)", flush=True)
    fo_learner = TRPOLearner("fomaml", cfg, learner.snapshot(), device)
    fo_it = timed(lambda: (fo_learner.step(GoalBatch(goals, next(seeds)), 1), sync()), args.iters)
    print(f"  vectorized, first order: {1 / fo_it:.3f} ({fo_it:.2f} s/it)", flush=True)
    theta = {k: v.detach().cpu().clone().requires_grad_(True) for k, v in learner.theta.items()}
    loop_it = (
        timed(lambda: loop_meta_iteration(theta, goals, cfg, generator), args.loop_iters - 1)
        if args.loop_iters > 1
        else None
    )
    if loop_it is None:
        start = time.perf_counter()
        loop_meta_iteration(theta, goals, cfg, generator)
        loop_it = time.perf_counter() - start
    print(
        f"  loop over tasks and trajectories (fisher=exact): {1 / loop_it:.4f} ({loop_it:.1f} s/it); "
        f"vectorized exact is {loop_it / exact_it:.0f}x faster"
    )
    print(f"500 iterations (the paper's count) at the vectorized rate: {500 * vec_it / 60:.1f} min")


if __name__ == "__main__":
    main()
