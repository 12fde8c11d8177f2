"""Small building blocks shared by the encoder and the decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.workspace import Workspace


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a B x C x H x W tensor."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise each pixel's channel vector; stays in NCHW so convolutions around it need no permutes.
        mean = x.mean(dim=1, keepdim=True)
        centered = x - mean
        var = centered.pow(2).mean(dim=1, keepdim=True)
        x = centered * torch.rsqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class MLPBlock(nn.Module):
    """Linear -> activation -> Linear (transformer feed-forward)."""

    def __init__(self, embedding_dim: int, mlp_dim: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.lin2(self.act(self.lin1(x)))
        return result

    def forward_into(self, x: torch.Tensor, workspace: Workspace) -> torch.Tensor:
        """Inference forward with the (large) hidden layer written into ``workspace`` and activated in place."""
        rows = x.reshape(-1, x.shape[-1])
        hidden = workspace.get("mlp_hidden", (rows.shape[0], self.lin1.out_features), rows)
        if self.lin1.bias is None:
            torch.mm(rows, self.lin1.weight.t(), out=hidden)
        else:
            torch.addmm(self.lin1.bias, rows, self.lin1.weight.t(), out=hidden)
        if isinstance(self.act, nn.GELU):
            hidden = torch.ops.aten.gelu_(hidden, approximate=self.act.approximate)
        else:
            hidden = self.act(hidden)
        result: torch.Tensor = self.lin2(hidden).view(*x.shape[:-1], self.lin2.out_features)
        return result


class MLP(nn.Module):
    """`num_layers` linear layers with ReLU between them (hypernetworks and IoU head)."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        num_layers: int,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < last:
                x = F.relu(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch, rescaling the survivors."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    keep = x.new_empty(mask_shape).bernoulli_(keep_prob)
    return x * keep / keep_prob
