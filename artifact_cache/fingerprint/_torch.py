"""torch tensors, by dtype, shape, device type, ``requires_grad`` and their bytes.

Imported by the registry only once a torch value is fingerprinted. Tensors are copied
to the CPU to be hashed; sparse tensors are hashed dense.
"""

from __future__ import annotations

from typing import Any

import torch

from .values import register_builtin


def _tensor(tensor: Any) -> object:
    data = tensor.detach()
    if data.layout != torch.strided:
        data = data.to_dense()
    if data.is_quantized:
        data = data.dequantize()
    data = data.cpu().contiguous()
    try:
        content: object = data.numpy()  # NaNs are made equal by the numpy handler
    except (TypeError, RuntimeError):  # bfloat16 and other dtypes numpy lacks
        content = data.reshape(-1).view(torch.uint8).numpy()
    return (
        str(tensor.dtype),
        tuple(tensor.shape),
        tensor.device.type,
        tensor.requires_grad,
        content,
    )


register_builtin("torch.Tensor", _tensor)
