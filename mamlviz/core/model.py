"""A ReLU MLP as pure functions over a parameter dict, batched over tasks.

Parameter names are exactly the `state_dict` keys of the equivalent `torch.nn.Sequential`
(`0.weight`, `0.bias`, `2.weight`, ...). Every tensor may carry a leading task dimension:
weights (T, out, in) and biases (T, out) with inputs (T, N, in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def layers(params: Params) -> list[tuple[Tensor, Tensor]]:
    """(weight, bias) of each linear layer, ordered by their index in the Sequential."""
    names = sorted((n[: -len(".weight")] for n in params if n.endswith(".weight")), key=int)
    return [(params[f"{n}.weight"], params[f"{n}.bias"]) for n in names]


def forward_with_activations(params: Params, x: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Batched forward. Returns the output, each layer's input and each hidden layer's ReLU mask."""
    return _forward(params, x, record=True)


def forward(params: Params, x: Tensor) -> Tensor:
    """Batched forward: params with task dim T, x of shape (T, N, in) -> (T, N, out)."""
    return _forward(params, x, record=False)[0]


def _forward(params: Params, x: Tensor, record: bool) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """The forward pass; layer inputs and ReLU masks are kept only when `record` (they cost two ops a layer)."""
    inputs, masks = [], []
    h = x
    stack = layers(params)
    for i, (weight, bias) in enumerate(stack):
        if record:
            inputs.append(h)
        h = _linear(h, weight, bias)
        if i < len(stack) - 1:
            h = torch.relu(h)
            if record:
                masks.append(torch.sign(h.detach()))  # ReLU' as 0/1 in one op (relu(z) > 0 exactly where z > 0)
    return h, inputs, masks


def _linear(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """h·Wᵀ + b for inputs (T, N, in): one matrix product over all T·N rows when the layer is shared (W 2-D),
    one per task when each task has its own (W (T, out, in))."""
    if _broadcast(h.shape[-1], weight.shape[-2]):
        return (h.unsqueeze(-2) * weight.unsqueeze(-3)).sum(-1) + bias.unsqueeze(-2)
    if weight.dim() == 2:
        return torch.addmm(bias, h.flatten(0, 1), weight.t()).unflatten(0, h.shape[:2])
    return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))


def _broadcast(rows: int, columns: int) -> bool:
    """Whether a product with an (rows, columns) matrix is better written as a broadcast: inside a compiled graph,
    where a dimension of one makes it elementwise work that Inductor fuses with its neighbours."""
    return min(rows, columns) == 1 and torch.compiler.is_compiling()


def _times(h: Tensor, weight: Tensor) -> Tensor:
    """h·W for h (T, N, out) and a shared (out, in) or per-task (T, out, in) W."""
    if _broadcast(weight.shape[-2], weight.shape[-1]):
        return (h.unsqueeze(-1) * weight.unsqueeze(-3)).sum(-2)
    if weight.dim() == 2:
        return torch.mm(h.flatten(0, 1), weight).unflatten(0, h.shape[:2])
    return torch.bmm(h, weight)


def _outer(a: Tensor, b: Tensor, summed: bool) -> Tensor:
    """Each task's aᵀ·b for a (T, N, out) and b (T, N, in): (T, out, in), or their sum over tasks (out, in)."""
    if _broadcast(a.shape[-1], b.shape[-1]):
        product = (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(-3)
        return product.sum(0) if summed else product
    if summed:
        return torch.mm(a.flatten(0, 1).t(), b.flatten(0, 1))
    return torch.bmm(a.transpose(1, 2), b)


def mse_per_task(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each task, shape (T,)."""
    return (prediction - target).pow(2).flatten(1).mean(1)


@dataclass(frozen=True)
class Backprop:
    """What a hand-written backward pass keeps for a later Hessian-vector product."""

    inputs: list[Tensor]
    masks: list[Tensor]
    deltas: list[Tensor]
    scale: float


def mse_backprop(params: Params, x: Tensor, y: Tensor) -> tuple[Tensor, Params, Backprop]:
    """Per-task MSE, its gradient by hand-written backprop (exact: ReLU'' = 0), and the cache.

    `params` are per task (leading dimension T) or shared by all tasks (no task dimension: the
    gradients are still per task). Built from differentiable ops, so autograd can differentiate
    *through* it for the second-order meta-gradient without a double backward.
    """
    out, inputs, masks = forward_with_activations(params, x)
    residual = out - y
    loss = residual.pow(2).flatten(1).mean(1)
    scale = 2.0 / (residual.shape[1] * residual.shape[2])
    delta = residual * scale
    stack = layers(params)
    grads: list[Tensor] = []
    deltas: list[Tensor] = []
    for i in range(len(stack) - 1, -1, -1):
        deltas.append(delta)
        grads += [delta.sum(1), _outer(delta, inputs[i], summed=False)]
        if i > 0:
            delta = _times(delta, stack[i][0]) * masks[i - 1]
    return loss, _named(params, grads[::-1]), Backprop(inputs, masks, deltas[::-1], scale)


def mse_loss_and_grad(params: Params, x: Tensor, y: Tensor) -> tuple[Tensor, Params]:
    """Per-task MSE and its exact gradient (see `mse_backprop`)."""
    loss, grads, _ = mse_backprop(params, x, y)
    return loss, grads


def mse_hessian_vector_product(params: Params, cache: Backprop, vector: Params, summed: bool = False) -> Params:
    """H·v of each task's MSE at `params` (per task or shared, as in `mse_backprop`), by Pearlmutter's
    R-operator (no autograd); with `summed`, the sum of the tasks' products.

    Forward pass of the directional derivatives of the pre-activations, then the backward
    pass of the directional derivatives of the deltas; masks are constant (ReLU'' = 0).
    """
    stack, directions = layers(params), layers(vector)
    r_inputs: list[Tensor | None] = [None]
    for i, ((weight, _), (v_weight, v_bias)) in enumerate(zip(stack, directions, strict=True)):
        r_z = _linear(cache.inputs[i], v_weight, v_bias)
        if r_inputs[i] is not None:
            r_z = r_z + _times(r_inputs[i], weight.transpose(-1, -2))
        if i < len(stack) - 1:
            r_inputs.append(r_z * cache.masks[i])
    r_delta = r_z * cache.scale
    products: list[Tensor] = []
    for i in range(len(stack) - 1, -1, -1):
        r_weight = _outer(r_delta, cache.inputs[i], summed)
        if r_inputs[i] is not None:
            r_weight = r_weight + _outer(cache.deltas[i], r_inputs[i], summed)
        products += [r_delta.sum((0, 1) if summed else 1), r_weight]
        if i > 0:
            r_delta = (_times(cache.deltas[i], directions[i][0]) + _times(r_delta, stack[i][0])) * cache.masks[i - 1]
    return _named(params, products[::-1])


def _named(params: Params, tensors: list[Tensor]) -> Params:
    """Name per-layer [weight, bias, weight, bias, ...] tensors like `params`."""
    names = sorted((n[: -len(".weight")] for n in params if n.endswith(".weight")), key=int)
    named = {}
    for i, n in enumerate(names):
        named[f"{n}.weight"], named[f"{n}.bias"] = tensors[2 * i], tensors[2 * i + 1]
    return {k: named[k] for k in params}
