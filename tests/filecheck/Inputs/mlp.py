"""A one-block Transformer built from plain torch.nn, for the importer's lit tests.

`factory()` returns the block and an input [2, 8, 32]; `factory(training=True)` adds a
classifier head and returns a module whose forward gives the cross-entropy loss.
"""

import torch
import torch.nn.functional as F
from torch import nn

DIM, HEADS, SEQ, BATCH, CLASSES = 32, 4, 8, 2, 10


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM)
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.ln2 = nn.LayerNorm(DIM)
        self.fc1 = nn.Linear(DIM, 4 * DIM)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * DIM, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.reshape(b, s, HEADS, d // HEADS).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(o.transpose(1, 2).reshape(b, s, d))
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class WithLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = Model()
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.body(x)).reshape(-1, CLASSES)
        return F.cross_entropy(logits, labels)


def factory(training: bool = False):
    x = torch.randn(BATCH, SEQ, DIM)
    if not training:
        return Model().eval(), x
    labels = torch.randint(0, CLASSES, (BATCH * SEQ,))
    return WithLoss(), (x, labels)


def mlp():
    """Two Linear layers with a GELU: the smallest model with weights."""
    model = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 16))
    return model.eval(), torch.randn(4, 16)
