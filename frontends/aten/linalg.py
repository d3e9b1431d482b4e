"""Matrix products: mm / bmm / matmul / addmm / baddbmm / linear -> `tfm.matmul` (plus the
scaling and bias adds). `aten.linear` keeps its weight untransposed:

    aten.linear(%x, %w, %b)  ->  %y = tfm.matmul %x, %w {transpose_rhs} : (tensor<2x16x64xf32>, tensor<256x64xf32>) -> tensor<2x16x256xf32>
                                 %z = tfm.add %y, %b : ...
"""

from __future__ import annotations

from xdsl.dialects.builtin import UnitAttr
from xdsl.ir import SSAValue

from frontends.aten.elementwise import binary_value
from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import binary_ops as bi
from ir import linalg_ops as la
from ir import shape_ops as sh
from ir.types import dtype, shape, tensor


def matmul_value(imp: Importer, a: SSAValue, b: SSAValue, out_dtype: str) -> SSAValue:
    """`a @ b` with torch.matmul's rules for rank-1 operands, converted to `out_dtype`."""
    sa, sb = shape(a), shape(b)
    squeeze_a, squeeze_b = len(sa) == 1, len(sb) == 1
    if squeeze_a:
        a = imp.op1(sh.ReshapeOp, [a], tensor((1, sa[0]), dtype(a)))
    if squeeze_b:
        b = imp.op1(sh.ReshapeOp, [b], tensor((sb[0], 1), dtype(b)))
    batch, m, n, _, _ = la.matmul_dims(shape(a), shape(b), False, False)
    y = imp.op1(la.MatmulOp, [a, b], tensor((*batch, m, n), dtype(a)))
    if squeeze_a or squeeze_b:
        final = (*batch, *(() if squeeze_a else (m,)), *(() if squeeze_b else (n,)))
        y = imp.op1(sh.ReshapeOp, [y], tensor(final, dtype(y)))
    return imp.convert(y, out_dtype)


@handles("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def mm(imp: Importer, node):
    return matmul_value(imp, imp.value(node.args[0]), imp.value(node.args[1]), imp.out_dtype())


@handles("aten.addmm.default", "aten.baddbmm.default")
def addmm(imp: Importer, node):
    bias, a, b = (imp.value(x) for x in node.args[:3])
    beta, alpha = node.kwargs.get("beta", 1), node.kwargs.get("alpha", 1)
    y = matmul_value(imp, a, b, dtype(a))
    if alpha != 1:
        y = binary_value(imp, bi.MulOp, y, imp.const(alpha, dtype(y)))
    if beta != 0:
        if beta != 1:
            bias = binary_value(imp, bi.MulOp, bias, imp.const(beta, dtype(bias)))
        y = binary_value(imp, bi.AddOp, y, bias)
    return imp.convert(y, imp.out_dtype())


@handles("aten.linear.default")
def linear(imp: Importer, node):
    x, w = imp.value(node.args[0]), imp.value(node.args[1])
    b = arg(node, 2, "bias")
    sx, sw = shape(x), shape(w)
    y = imp.op1(
        la.MatmulOp, [x, w], tensor((*sx[:-1], sw[0]), dtype(x)), {"transpose_rhs": UnitAttr()}
    )
    if b is not None:
        y = binary_value(imp, bi.AddOp, y, imp.value(b))
    return imp.convert(y, imp.out_dtype())
