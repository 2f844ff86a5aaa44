"""The Gaussian MLP policy as a parameter dict.

The mean network's tensors are named exactly like the `state_dict` of
`nn.Sequential(nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 2))`
(`0.weight`, `0.bias`, `2.weight`, ..., `4.bias`); one more tensor `log_std` of shape (2,) holds the learned,
state-independent log standard deviation. Every function also takes per-task ("batched") parameters, each tensor
with a leading task dimension N, and then observations whose first dimension is N.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mamlviz.core.config import ModelConfig
from mamlviz.core.model import Params, init_params, layer_names

LOG_STD = "log_std"
INITIAL_LOG_STD = 0.0
"""log σ at initialization (σ = 1, as in rllab's GaussianMLPPolicy)."""


def policy_shapes(model: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of the policy (the MLP's state_dict names plus `log_std`)."""
    shapes: dict[str, tuple[int, ...]] = {}
    sizes = model.sizes
    for (w_name, b_name), fan_in, fan_out in zip(layer_names(model), sizes[:-1], sizes[1:], strict=True):
        shapes[w_name] = (fan_out, fan_in)
        shapes[b_name] = (fan_out,)
    shapes[LOG_STD] = (model.out_features,)
    return shapes


def init_policy(model: ModelConfig, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Params:
    """nn.Linear's default initialization for the mean network, log σ = 0."""
    params = init_params(model, generator, dtype)
    params[LOG_STD] = torch.full((model.out_features,), INITIAL_LOG_STD, dtype=dtype)
    return params


def is_batched(params: Params) -> bool:
    """Whether the parameters carry a leading task dimension."""
    return params[LOG_STD].dim() == 2


def n_layers(params: Params) -> int:
    return sum(1 for name in params if name.endswith(".weight"))


def policy_mean(params: Params, obs: Tensor) -> Tensor:
    """The mean action of observations (..., in); with batched parameters obs is (N, ..., in)."""
    layers = n_layers(params)
    batched = is_batched(params)
    shape = obs.shape
    x = obs.reshape(shape[0], -1, shape[-1]) if batched else obs.reshape(-1, shape[-1])
    for i in range(layers):
        weight, bias = params[f"{2 * i}.weight"], params[f"{2 * i}.bias"]
        x = torch.matmul(x, weight.transpose(-1, -2)) + bias.unsqueeze(-2)
        if i < layers - 1:
            x = torch.relu(x)
    return x.reshape(*shape[:-1], x.shape[-1])


def log_std_like(params: Params, mean: Tensor) -> Tensor:
    """`log_std` broadcastable to a mean of shape (N, ..., d) (batched) or (..., d)."""
    log_std = params[LOG_STD]
    if is_batched(params):
        return log_std.reshape(log_std.shape[0], *([1] * (mean.dim() - 2)), log_std.shape[-1])
    return log_std


def gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor) -> Tensor:
    """log N(actions; mean, diag σ²), summed over the action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def log_prob(params: Params, obs: Tensor, actions: Tensor) -> Tensor:
    """log π(a | s) of each (observation, action), shape obs.shape[:-1]."""
    mean = policy_mean(params, obs)
    return gaussian_log_prob(mean, log_std_like(params, mean), actions)


def gaussian_kl(mean_p: Tensor, log_std_p: Tensor, mean_q: Tensor, log_std_q: Tensor) -> Tensor:
    """KL(p ‖ q) of diagonal Gaussians, summed over the last dimension."""
    var_p, var_q = torch.exp(2 * log_std_p), torch.exp(2 * log_std_q)
    return (log_std_q - log_std_p + (var_p + (mean_p - mean_q).square()) / (2 * var_q) - 0.5).sum(-1)


def expand_to_tasks(params: Params, n_tasks: int) -> Params:
    """Shared parameters viewed as per-task copies (gradients flow back summed); batched ones unchanged."""
    if is_batched(params):
        return params
    return {k: v.expand(n_tasks, *v.shape) for k, v in params.items()}


def task_params(params: Params, index: int) -> Params:
    """Task `index`'s parameters out of batched ones."""
    return {k: v[index] for k, v in params.items()} if is_batched(params) else params
