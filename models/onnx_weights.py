"""Load a walkout-pose ONNX file's weights back into a ``PoseNet`` (training only).

The ONNX export folds each BatchNorm into the convolution before it, so an ONNX file keeps no
state dict: only convolutions, in the order the graph runs them. This maps them back onto the
network's convolutions in the order *it* runs them (the graph was traced from that order, so
the two agree; a shape mismatch stops with an error). A loaded convolution's BatchNorm becomes
the identity plus the folded bias (weight 1, bias b, running mean 0, running variance 1 - eps),
which is exact in eval mode; those BatchNorms must stay in eval mode while training, since
batch statistics would undo the folding (``frozen_batchnorms`` names them).

An older graph without some of the network's layers (the keypoint refinement, which the
network runs last) loads as a prefix: the rest keeps its initialisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def _onnx_convolutions(path: Path) -> list[tuple[str, list[torch.Tensor]]]:
    """(weight name, [weight, bias]) of each distinct Conv in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    tensors = {t.name: t for t in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    seen, convs = set(), []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        names = [resolve(n) for n in node.input[1:]]
        if names[0] in seen:
            continue  # a shared module (the head runs on three levels) appears once per call
        seen.add(names[0])
        convs.append((names[0], [torch.from_numpy(numpy_helper.to_array(tensors[n]).copy()) for n in names]))
    return convs


def _convolutions_in_call_order(net: nn.Module, input_hw: tuple[int, int]) -> list[str]:
    from detector_net import ExportWrapper

    order: list[str] = []
    hooks = []
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            hooks.append(module.register_forward_hook(
                lambda _m, _i, _o, name=name: order.append(name) if name not in order else None))
    was_training = net.training
    net.eval()
    with torch.no_grad():
        ExportWrapper(net)(torch.zeros(1, 3, *input_hw))
    net.train(was_training)
    for h in hooks:
        h.remove()
    return order


def load_onnx_weights(net: nn.Module, path: Path, input_hw: tuple[int, int]) -> list[str]:
    """Copy ``path``'s weights into ``net``; returns the names of the BatchNorms to keep frozen."""
    modules = dict(net.named_modules())
    convs = _onnx_convolutions(path)
    order = _convolutions_in_call_order(net, input_hw)
    if len(convs) > len(order):
        raise ValueError(f"init_onnx: {path} has {len(convs)} convolutions, the network {len(order)}")
    frozen = []
    with torch.no_grad():
        for (onnx_name, (weight, *bias)), name in zip(convs, order, strict=False):
            conv = modules[name]
            if tuple(conv.weight.shape) != tuple(weight.shape):
                raise ValueError(f"init_onnx: {path}'s {onnx_name} has shape {tuple(weight.shape)}, "
                                 f"expected {tuple(conv.weight.shape)} for {name}")
            conv.weight.copy_(weight)
            parent, _, index = name.rpartition(".")
            bn_name = f"{parent}.{int(index) + 1}" if index.isdigit() else ""
            bn = modules.get(bn_name)
            if isinstance(bn, nn.BatchNorm2d) and conv.bias is None:
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias[0] if bias else torch.zeros_like(bn.bias))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)  # so that sqrt(var + eps) is exactly 1
                frozen.append(bn_name)
            elif conv.bias is not None and bias:
                conv.bias.copy_(bias[0])
            else:
                raise ValueError(f"init_onnx: cannot place {onnx_name} onto {name}")
    return frozen


def freeze_batchnorms(net: nn.Module, names: list[str]) -> None:
    """Put the named BatchNorms in eval mode (call after every ``net.train()``)."""
    modules = dict(net.named_modules())
    for name in names:
        modules[name].eval()
