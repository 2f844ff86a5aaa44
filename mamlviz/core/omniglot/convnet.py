"""The MAML paper's Omniglot network as a pure function over a parameter dict, batched over tasks.

4 × [3×3 conv, `filters` channels, stride 2, padding 1 → batch norm → ReLU], flatten, linear head.
Parameter names are the `state_dict` of `make_convnet` (a plain `nn.Sequential` whose batch norms
use `track_running_stats=False`), so plain PyTorch loads exported weights. Batch norm always uses
the statistics of the current batch of each task (transductive, as in the paper). Every tensor
carries a leading task dim T; the T tasks run as one grouped convolution (groups = T).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mamlviz.core.model import Params

BLOCKS = 4
IMAGE_SIZE = 28
BN_EPS = 1e-5
HEAD = f"{3 * BLOCKS + 1}"
"""Module index of the linear head in the Sequential (after 4 × conv/bn/relu and a Flatten)."""


def feature_size(filters: int, image_size: int = IMAGE_SIZE) -> int:
    size = image_size
    for _ in range(BLOCKS):
        size = (size + 1) // 2
    return filters * size * size


def make_convnet(filters: int, classes: int) -> nn.Sequential:
    """The plain PyTorch module whose state_dict matches our parameter dict."""
    layers: list[nn.Module] = []
    for i in range(BLOCKS):
        layers += [
            nn.Conv2d(1 if i == 0 else filters, filters, 3, stride=2, padding=1),
            nn.BatchNorm2d(filters, track_running_stats=False),
            nn.ReLU(),
        ]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(feature_size(filters), classes))


def param_shapes(filters: int, classes: int) -> dict[str, tuple[int, ...]]:
    """Name → shape of every parameter, in state_dict order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(BLOCKS):
        shapes[f"{3 * i}.weight"] = (filters, 1 if i == 0 else filters, 3, 3)
        shapes[f"{3 * i}.bias"] = (filters,)
        shapes[f"{3 * i + 1}.weight"] = (filters,)
        shapes[f"{3 * i + 1}.bias"] = (filters,)
    shapes[f"{HEAD}.weight"] = (classes, feature_size(filters))
    shapes[f"{HEAD}.bias"] = (classes,)
    return shapes


def init_conv_params(
    filters: int, classes: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
) -> Params:
    """PyTorch's default initialization (U(±1/√fan_in) for conv and linear; BN scale 1, shift 0)."""
    params: Params = {}
    for name, shape in param_shapes(filters, classes).items():
        module = int(name.split(".")[0])
        if module % 3 == 1 and module != int(HEAD):
            fill = torch.ones if name.endswith("weight") else torch.zeros
            params[name] = fill(shape, dtype=dtype)
        else:
            weight_shape = param_shapes(filters, classes)[name.replace("bias", "weight")]
            bound = 1.0 / math.sqrt(math.prod(weight_shape[1:]))
            params[name] = (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * bound
    return params


def with_new_head(params: Params, classes: int) -> Params:
    """The same body with a zero linear head for `classes` outputs (the baseline's fine-tuning start)."""
    new = dict(params)
    weight = params[f"{HEAD}.weight"]
    new[f"{HEAD}.weight"] = weight.new_zeros(*weight.shape[:-2], classes, weight.shape[-1])
    new[f"{HEAD}.bias"] = weight.new_zeros(*weight.shape[:-2], classes)
    return new


def conv_forward(params: Params, x: Tensor) -> Tensor:
    """Batched forward: params with task dim T, images x (T, B, 1, H, W) → logits (T, B, classes).

    A layer whose weights all tasks share (an `expand_to_tasks` view, stride 0 over tasks: θ before
    the first inner step) runs as one ordinary convolution over all T·B images, still with per-task
    gradients (`_SharedConv`); a layer with each task's own weights runs as one grouped convolution.
    """
    tasks, batch = x.shape[:2]
    h = x.transpose(0, 1).reshape(batch, tasks * x.shape[2], *x.shape[3:])
    for i in range(BLOCKS):
        weight, bias = params[f"{3 * i}.weight"], params[f"{3 * i}.bias"]
        if tasks > 1 and shared(weight) and shared(bias):
            h = _SharedConv.apply(h, weight, bias)
        else:
            h = F.conv2d(h, weight.flatten(0, 1), bias.flatten(), stride=2, padding=1, groups=tasks)
        # channels are (task, filter) pairs, so per-channel batch statistics are per-task statistics
        gamma, beta = params[f"{3 * i + 1}.weight"].flatten(), params[f"{3 * i + 1}.bias"].flatten()
        h = torch.relu(F.batch_norm(h, None, None, gamma, beta, training=True, eps=BN_EPS))
    features = h.view(batch, tasks, -1).transpose(0, 1)
    head_w, head_b = params[f"{HEAD}.weight"], params[f"{HEAD}.bias"]
    return torch.baddbmm(head_b.unsqueeze(1), features, head_w.transpose(1, 2))


def shared(tensor: Tensor) -> bool:
    """Whether every task of a (T, ...) parameter is the same tensor: a view with stride 0 over tasks."""
    return tensor.stride(0) == 0


_STRIDE, _PADDING, _DILATION = [2, 2], [1, 1], [1, 1]


def _convolution_backward(
    grad: Tensor, h: Tensor, weight: Tensor, groups: int, mask: list[bool]
) -> tuple[Tensor | None, Tensor | None]:
    """(∂/∂input, ∂/∂weight) of our 3×3 stride-2 convolution, as the differentiable ATen op (so it double-backwards)."""
    grads = torch.ops.aten.convolution_backward(
        grad, h, weight, None, _STRIDE, _PADDING, _DILATION, False, [0, 0], groups, [*mask, False]
    )
    return grads[0], grads[1]


class _SharedConv(torch.autograd.Function):
    """A conv layer whose weight (T, out, in, 3, 3) and bias (T, out) are the same for every task.

    Forward: one ordinary convolution over the T·B images of h (B, T·in, H, W), seen as (B·T, in, H, W)
    without a copy. Backward: ∂/∂h also one ordinary (transposed) convolution; ∂/∂weight per task, as the
    grouped convolution's weight gradient, so each task still gets its own inner-loop gradient. Backward is
    built from differentiable ops, so second-order MAML differentiates through it.
    """

    @staticmethod
    def forward(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        batch, tasks = h.shape[0], weight.shape[0]
        images = h.reshape(batch * tasks, -1, *h.shape[2:])
        out = F.conv2d(images, weight[0], bias[0], stride=2, padding=1)
        return out.view(batch, -1, *out.shape[2:])

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        h, weight, _ = inputs
        ctx.save_for_backward(h, weight)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        h, weight = ctx.saved_tensors
        batch, tasks = h.shape[0], weight.shape[0]
        grad_h = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            images = h.reshape(batch * tasks, -1, *h.shape[2:])
            grads = grad.reshape(batch * tasks, -1, *grad.shape[2:])
            grad_h = _convolution_backward(grads, images, weight[0], 1, [True, False])[0].view_as(h)
        if ctx.needs_input_grad[1]:
            grad_w = _convolution_backward(grad, h, weight.flatten(0, 1), tasks, [False, True])[1].view(weight.shape)
        if ctx.needs_input_grad[2]:
            grad_b = grad.view(batch, tasks, -1, grad.shape[2] * grad.shape[3]).sum((0, 3))
        return grad_h, grad_w, grad_b
