"""A ReLU MLP as pure functions over a parameter dict, batched over tasks.

Parameter names are exactly the `state_dict` keys of the equivalent `torch.nn.Sequential`
(`0.weight`, `0.bias`, `2.weight`, ...). Every tensor may carry a leading task dimension:
weights (T, out, in) and biases (T, out) with inputs (T, N, in).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mamlviz.core.config import ModelConfig

Params = dict[str, Tensor]


def layer_names(cfg: ModelConfig) -> list[tuple[str, str]]:
    """(weight name, bias name) of each linear layer, in order."""
    return [(f"{2 * i}.weight", f"{2 * i}.bias") for i in range(len(cfg.sizes) - 1)]


def make_mlp(cfg: ModelConfig) -> nn.Sequential:
    """The plain PyTorch module whose state_dict matches our parameter dict."""
    layers: list[nn.Module] = []
    sizes = cfg.sizes
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def init_params(cfg: ModelConfig, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Params:
    """nn.Linear's default initialization, U(−1/√in, 1/√in), drawn from an explicit generator."""
    params: Params = {}
    sizes = cfg.sizes
    for (w_name, b_name), fan_in, fan_out in zip(layer_names(cfg), sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        params[w_name] = (torch.rand(fan_out, fan_in, generator=generator, dtype=dtype) * 2 - 1) * bound
        params[b_name] = (torch.rand(fan_out, generator=generator, dtype=dtype) * 2 - 1) * bound
    return params


def expand_to_tasks(params: Params, n_tasks: int) -> Params:
    """View shared parameters as per-task copies (gradients flow back summed over tasks)."""
    return {k: v.expand(n_tasks, *v.shape) for k, v in params.items()}


def forward_with_activations(params: Params, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Batched forward. Returns the output, each layer's input and each hidden pre-activation."""
    names = [name for name in params if name.endswith(".weight")]
    inputs, pre_activations = [], []
    h = x
    for i, w_name in enumerate(names):
        inputs.append(h)
        z = torch.baddbmm(params[w_name.replace("weight", "bias")].unsqueeze(1), h, params[w_name].transpose(1, 2))
        if i < len(names) - 1:
            pre_activations.append(z)
            h = torch.relu(z)
        else:
            h = z
    return h, inputs, pre_activations


def forward(params: Params, x: Tensor) -> Tensor:
    """Batched forward: params with task dim T, x of shape (T, N, in) -> (T, N, out)."""
    return forward_with_activations(params, x)[0]


def mse_per_task(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each task, shape (T,)."""
    return (prediction - target).pow(2).flatten(1).mean(1)


def mse_loss_and_grad(params: Params, x: Tensor, y: Tensor) -> tuple[Tensor, Params]:
    """Per-task MSE and its gradient, by hand-written backprop (exact: ReLU'' = 0).

    Built from differentiable ops, so autograd can differentiate *through* it for the
    second-order meta-gradient without a double backward.
    """
    out, inputs, pre_activations = forward_with_activations(params, x)
    residual = out - y
    loss = residual.pow(2).flatten(1).mean(1)
    d_out = residual * (2.0 / (residual.shape[1] * residual.shape[2]))
    names = [name for name in params if name.endswith(".weight")]
    grads: Params = {}
    for i in range(len(names) - 1, -1, -1):
        w_name = names[i]
        grads[w_name] = torch.bmm(d_out.transpose(1, 2), inputs[i])
        grads[w_name.replace("weight", "bias")] = d_out.sum(1)
        if i > 0:
            d_out = torch.bmm(d_out, params[w_name]) * (pre_activations[i - 1] > 0)
    return loss, {name: grads[name] for name in params}
