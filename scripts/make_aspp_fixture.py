#!/usr/bin/env python3
"""Writes Tests/DinoSegTests/Fixtures/aspp.safetensors: torchvision's DeepLabV3 ASPP module on a small input, for the
parity test of the Swift ASPP context module (Tests/DinoSegTests/ASPPParityTests.swift).

The module is `torchvision.models.segmentation.deeplabv3.ASPP` when torchvision imports; otherwise (torchvision's
compiled ops must match the installed torch, which the peers venv's torch 2.13 and the available torchvision wheels
do not) the class below, copied verbatim from torchvision 0.28's deeplabv3.py (ASPPConv, ASPPPooling, ASPP).
The fixture records which one it used in its metadata ("source").

Training mode (BatchNorm on batch statistics, running statistics updated), the projection's Dropout set to p=0 so
the result is deterministic. Rates 1, 2, 5 on a 7x9 map: the largest dilation reaches past the border.

Contents (NHWC activations, PyTorch-layout parameters, state_dict names under "aspp."):
  input [N,H,W,C]   dout [N,H,W,O] (the gradient fed to backward: loss = sum(output * dout))
  init.aspp.<name>         parameters and BN buffers before the step
  output [N,H,W,O]         grad.input [N,H,W,C]   grad.aspp.<param>
  after.aspp.<buffer>      BN running statistics after the forward pass
Metadata: in_channels, out_channels, rates, source.

    /work/main/.venv-peers/bin/python scripts/make_aspp_fixture.py
"""
import json, os
from typing import Sequence
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

N, C, H, W, O = 2, 6, 7, 9, 4
RATES = [1, 2, 5]
SEED = 5

try:
    from torchvision.models.segmentation.deeplabv3 import ASPP
    SOURCE = "torchvision"
except Exception:  # torchvision missing, or its compiled ops do not match this torch
    SOURCE = "verbatim copy of torchvision 0.28 deeplabv3.ASPP"

    class ASPPConv(nn.Sequential):
        def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
            modules = [
                nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            ]
            super().__init__(*modules)

    class ASPPPooling(nn.Sequential):
        def __init__(self, in_channels: int, out_channels: int) -> None:
            super().__init__(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            size = x.shape[-2:]
            for mod in self:
                x = mod(x)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    class ASPP(nn.Module):
        def __init__(self, in_channels: int, atrous_rates: Sequence[int], out_channels: int = 256) -> None:
            super().__init__()
            modules = []
            modules.append(
                nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())
            )

            rates = tuple(atrous_rates)
            for rate in rates:
                modules.append(ASPPConv(in_channels, out_channels, rate))

            modules.append(ASPPPooling(in_channels, out_channels))

            self.convs = nn.ModuleList(modules)

            self.project = nn.Sequential(
                nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
                nn.Dropout(0.5),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _res = []
            for conv in self.convs:
                _res.append(conv(x))
            res = torch.cat(_res, dim=1)
            return self.project(res)


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous()


def main():
    torch.manual_seed(SEED)
    aspp = ASPP(C, RATES, O)
    aspp.project[3].p = 0.0
    # Non-trivial BatchNorm affine parameters, so a swapped gamma/beta would show.
    with torch.no_grad():
        for m in aspp.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    aspp.train()
    out = {}
    for k, v in aspp.state_dict().items():
        out["init.aspp." + k] = v.detach().clone().contiguous()
    x = torch.randn(N, C, H, W, requires_grad=True)
    dout = torch.randn(N, O, H, W)
    y = aspp(x)
    (y * dout).sum().backward()
    out["input"] = nhwc(x)
    out["dout"] = nhwc(dout)
    out["output"] = nhwc(y)
    out["grad.input"] = nhwc(x.grad)
    for k, p in aspp.named_parameters():
        out["grad.aspp." + k] = p.grad.detach().clone().contiguous()
    for k, v in aspp.state_dict().items():
        if "running" in k or "num_batches" in k:
            out["after.aspp." + k] = v.detach().clone().contiguous()
    meta = {"in_channels": str(C), "out_channels": str(O), "rates": json.dumps(RATES), "source": SOURCE}
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "DinoSegTests", "Fixtures", "aspp.safetensors")
    save_file(out, path, metadata=meta)
    print(f"wrote {os.path.normpath(path)} ({SOURCE})")


if __name__ == "__main__":
    main()
