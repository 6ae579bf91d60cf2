#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures for the Swift segmentation head (Tests/DinoSegTests/Fixtures/head_*.safetensors).

The head is built from plain torch modules with the same parameter names as the Swift checkpoints:
torchvision's FeaturePyramidNetwork naming (fpn.inner_blocks.{i}.0, fpn.layer_blocks.0.0 - only the finest level's
3x3 conv exists since only it affects the output), semseg's PPM (ppm.features.{j}.{1,2}) and classifier
(cls.0 / cls.1 / cls.4). Differences from semseg, following docs/DESIGN.md §6: the PPM upsampling uses align_corners=False.

Determinism: Dropout2d is built with p=0 (all other layers in training mode: BatchNorm uses batch statistics and
updates running stats). Small widths keep the files small: stage channels 16,32,48,64 at 28/14/7/3 (a 112 input),
FPN width 32, classifier width 32, batch 2, labels 112x112 with some 255s.

Each fixture holds (NHWC activations, PyTorch-layout parameters):
  input.stage{i} [N,H,W,C]  labels [N,112,112] (int64)
  init.<param>, init.<buffer>            initial parameters and BN running stats
  logits [N,h,w,K] (working resolution, before the upsampling)   loss [1]
  grad.<param>                           gradients of the first step
  step3.<param>, step3.<buffer>          after 3 SGD steps (momentum 0.9, wd 1e-4, lr 0.1 poly 0.9, max_iter 10)
Metadata: the head config as JSON (same keys as the Swift HeadConfig) and the SGD settings.

head_bf16_os8.safetensors is head_os8 (same seed, so the same inputs, labels and initial parameters) with every step's
forward and loss run under torch.autocast("cpu", dtype=torch.bfloat16) and the backward outside it, as a PyTorch user
trains in bf16: convs take bf16 inputs and write bf16 outputs; parameters, gradients, momentum and BN running stats
stay f32. Its logits are the bf16 logits widened to f32; metadata "precision" is "bf16-autocast" (absent elsewhere).
Tests/DinoSegTests/BF16AccuracyTests.swift compares DinoSeg's bf16 step with it.

    python3 scripts/make_head_fixture.py            # every fixture
    python3 scripts/make_head_fixture.py bf16_os8   # only the named ones (os8, os4, ppm, plain, bf16_os8)
"""
import json, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

STAGE_CHANNELS = [16, 32, 48, 64]
SIZES = [28, 14, 7, 3]
LABEL = 112
BATCH = 2
LR, MOMENTUM, WD, MAX_ITER, STEPS = 0.1, 0.9, 1e-4, 10, 3


class FPN(nn.Module):
    """torchvision FeaturePyramidNetwork restricted to the finest level's output."""
    def __init__(self, in_channels, width):
        super().__init__()
        self.inner_blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(c, width, 1)) for c in in_channels])
        self.layer_blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(width, width, 3, padding=1))])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                nn.init.constant_(m.bias, 0)

    def forward(self, xs):
        last = self.inner_blocks[-1](xs[-1])
        for i in range(len(xs) - 2, -1, -1):
            lateral = self.inner_blocks[i](xs[i])
            last = lateral + F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
        return self.layer_blocks[0](last)


class PPM(nn.Module):
    def __init__(self, in_dim, reduction, bins=(1, 2, 3, 6)):
        super().__init__()
        self.features = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction, 1, bias=False),
                                                     nn.BatchNorm2d(reduction), nn.ReLU(inplace=True)) for b in bins])

    def forward(self, x):
        out = [x]
        for f in self.features:
            out.append(F.interpolate(f(x), x.shape[2:], mode="bilinear", align_corners=False))
        return torch.cat(out, 1)


class Head(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.levels = ([0, 1, 2, 3] if cfg["outputStride"] == 4 else [1, 2, 3]) if cfg["useFPN"] else [3]
        width = cfg["fpnWidth"] if cfg["useFPN"] else cfg["stageChannels"][3]
        if cfg["useFPN"]:
            self.fpn = FPN([cfg["stageChannels"][l] for l in self.levels], width)
        if cfg["usePPM"]:
            self.ppm = PPM(width, width // 4)
            width = width + 4 * (width // 4)
        mid = cfg["classifierWidth"]
        self.cls = nn.Sequential(nn.Conv2d(width, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                                 nn.Dropout2d(p=cfg["dropout"]), nn.Conv2d(mid, cfg["numClasses"], 1))

    def forward(self, stages):
        x = self.fpn([stages[l] for l in self.levels]) if self.cfg["useFPN"] else stages[3]
        if self.cfg["usePPM"]:
            x = self.ppm(x)
        return self.cls(x)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def build(name, use_fpn, use_ppm, os_, bf16=False):
    torch.manual_seed({"os8": 1, "os4": 2, "ppm": 3, "plain": 4}[name])
    cfg = dict(stageChannels=STAGE_CHANNELS, fpnWidth=32, outputStride=os_, useFPN=use_fpn, usePPM=use_ppm,
               numClasses=21, classifierWidth=32, dropout=0.0, ppmBins=[1, 2, 3, 6])
    head = Head(cfg).train()
    stages = [torch.randn(BATCH, c, s, s) for c, s in zip(STAGE_CHANNELS, SIZES)]
    labels = torch.randint(0, 21, (BATCH, LABEL, LABEL))
    labels[torch.rand(BATCH, LABEL, LABEL) < 0.1] = 255
    out = {f"input.stage{i}": nhwc(s) for i, s in enumerate(stages)}
    out["labels"] = labels.to(torch.int64)
    for k, v in head.state_dict().items():
        out[f"init.{k}"] = v.clone().to(torch.int64 if k.endswith("num_batches_tracked") else torch.float32)
    opt = torch.optim.SGD(head.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    for step in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = LR * (1 - step / MAX_ITER) ** 0.9
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = head(stages)
            up = F.interpolate(logits, size=(LABEL, LABEL), mode="bilinear", align_corners=False)
            loss = F.cross_entropy(up, labels, ignore_index=255)
        loss.backward()
        if step == 0:
            out["logits"] = nhwc(logits.detach().float())
            out["loss"] = loss.detach().float().reshape(1)
            for k, p in head.named_parameters():
                out[f"grad.{k}"] = p.grad.clone()
        opt.step()
    for k, v in head.state_dict().items():
        out[f"step3.{k}"] = v.clone().to(torch.int64 if k.endswith("num_batches_tracked") else torch.float32)
    meta = {"config": json.dumps(cfg), "lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "max_iter": str(MAX_ITER), "steps": str(STEPS)}
    if bf16:
        meta.update(precision="bf16-autocast", torch_version=torch.__version__)
    return {k: v.contiguous() for k, v in out.items()}, meta


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DinoSegTests", "Fixtures")
    variants = [("os8", True, True, 8, False), ("os4", True, True, 4, False), ("ppm", False, True, 8, False),
                ("plain", False, False, 8, False), ("bf16_os8", True, True, 8, True)]
    wanted = sys.argv[1:] or [v[0] for v in variants]
    unknown = set(wanted) - {v[0] for v in variants}
    if unknown:
        sys.exit(f"unknown fixture(s) {sorted(unknown)}; choose from {[v[0] for v in variants]}")
    for name, fpn, ppm, os_, bf16 in variants:
        if name not in wanted:
            continue
        tensors, meta = build(name.removeprefix("bf16_"), fpn, ppm, os_, bf16=bf16)
        path = os.path.join(root, f"head_{name}.safetensors")
        save_file(tensors, path, metadata=meta)
        print(path, os.path.getsize(path), "bytes, loss", float(tensors["loss"]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
