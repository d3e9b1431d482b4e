"""PyTorch's own FLOP count of a model, to check Tandem's count against.

torch_flop_count(spec.module, spec.example_inputs, training=True)  # == flops.mm_flops total
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from frontends.trace import swap_to_fake_cpu, user_code


def torch_flop_count(module: torch.nn.Module, example_inputs: tuple, training: bool) -> int:
    """`torch.utils.flop_counter.FlopCounterMode`'s total for the same model and inputs.

    The model runs on fake CPU tensors (shapes only, so meta-device models of any size work),
    forward or forward + `loss.backward()`; its parameters and buffers are swapped for them in
    place (`swap_to_fake_cpu`), so the module holds no data afterwards. FlopCounterMode has no formula for PyTorch's CPU
    attention kernels, so its own SDPA formulas are registered for them.
    """
    aten = torch.ops.aten
    mapping = {
        aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, out_shape=None, **kw: (
            sdpa_flop_count(q, k, v)
        ),
        aten._scaled_dot_product_flash_attention_for_cpu_backward: lambda g, q, k, v, *a, out_shape=None, **kw: (
            sdpa_backward_flop_count(g, q, k, v)
        ),
    }
    args = swap_to_fake_cpu(module, tuple(example_inputs))
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with counter, user_code():
        if training:
            module(*args).backward()
        else:
            with torch.no_grad():
                module(*args)
    return int(counter.get_total_flops())
