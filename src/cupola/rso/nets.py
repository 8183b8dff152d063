"""The two networks, in plain PyTorch (no torchvision, no timm).

* :class:`UNet`: the encoder-decoder of Ronneberger et al. (2015) with skip connections, made
  small for CPU training: ``depth`` levels of two 3x3 convolutions (batch norm, ReLU) doubling from
  ``base`` channels, max-pool down, transposed convolution up; it predicts a residual added to the
  input image.
* :class:`ResNet50`: He et al. (2016) with bottleneck blocks in the standard [3, 4, 6, 3] stages
  (50 weighted layers), widths multiplied by ``width`` (1.0 is the standard 64-128-256-512
  bottleneck widths; the stored weights use 0.25 for CPU), one input channel, a 3x3/2 stem
  convolution and a max pool for small images, and a linear head (6-D rotation + log range).

Example
-------
>>> import torch
>>> net = ResNet50(width=0.25, outputs=7)
>>> sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) - 4  # minus the 4 projection shortcuts
49
>>> net(torch.zeros(2, 1, 64, 64)).shape
torch.Size([2, 7])
>>> UNet(base=8, depth=3)(torch.zeros(1, 1, 64, 64)).shape
torch.Size([1, 1, 64, 64])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet", "ResNet50", "count_parameters"]


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A U-Net for one-channel images whose sides are multiples of 2**(depth-1)."""

    def __init__(self, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.config = {"base": base, "depth": depth}
        widths = [base * 2**k for k in range(depth)]
        self.down = nn.ModuleList()
        cin = 1
        for w in widths:
            self.down.append(_double_conv(cin, w))
            cin = w
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.merge.append(_double_conv(2 * w, w))
            cin = w
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for k, block in enumerate(self.down):
            h = block(h)
            if k < len(self.down) - 1:
                skips.append(h)
                h = nn.functional.max_pool2d(h, 2)
        for up, merge in zip(self.up, self.merge):
            h = up(h)
            h = merge(torch.cat([h, skips.pop()], dim=1))
        return x + self.head(h)


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, stride: int) -> None:
        super().__init__()
        cout = 4 * mid
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class ResNet50(nn.Module):
    """ResNet-50 (bottleneck stages [3, 4, 6, 3]) with a width multiplier and ``outputs`` linear outputs."""

    def __init__(self, width: float = 0.25, outputs: int = 7) -> None:
        super().__init__()
        self.config = {"width": width, "outputs": outputs}
        mids = [max(4, int(round(c * width))) for c in (64, 128, 256, 512)]
        stem = mids[0]
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        layers: list[nn.Module] = []
        cin = stem
        for k, (mid, blocks) in enumerate(zip(mids, (3, 4, 6, 3))):
            for b in range(blocks):
                layers.append(_Bottleneck(cin, mid, 2 if (b == 0 and k > 0) else 1))
                cin = 4 * mid
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(cin, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stages(self.stem(x))
        return self.head(h.mean(dim=(2, 3)))


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
