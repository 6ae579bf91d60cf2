#!/usr/bin/env python3
"""PyTorch reference throughput for the DINOv3 ConvNeXt backbone (plain torch, random weights, eager fp32 or bf16).

Same architecture as transformers' DINOv3ConvNextModel (stem conv 4x4 s4 + LN, downsample LN + conv 2x2 s2,
blocks dwconv 7x7 -> LN -> Linear C->4C -> exact GELU -> Linear 4C->C -> gamma -> residual), without needing
transformers. Used by `extract bench` (invoked through python3), by bench_peer_backbone.py (which exports this
module to ONNX) and runnable by hand:

    python3 scripts/bench_torch_backbone.py --threads 2 --images 40 [--batch 1] [--channels-last] [--json]
    python3 scripts/bench_torch_backbone.py --precision bf16 --json       # autocast bfloat16 around the forward
    python3 scripts/bench_torch_backbone.py --best --batch 8 --json       # fastest of batch 1/8 x channels-last off/on

Throughput mode mirrors the Swift benchmark: one image at a time per forward call, torch intra-op threads = --threads.
JSON keys: engine, torch_version, resolution, images, batch, threads, channels_last, precision, images_per_second,
ms_per_image, cpu_seconds, cpu_normalised_images_per_second, gflop_per_image, gflops_per_second, peak_memory_mib;
with --best also best (true) and best_of (each tried config's batch, channels_last, precision, images_per_second).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backbone_args import add_backbone_args, sizes  # noqa: E402
from torch_timing import add_precision_args, autocast, best_of, peak_memory_mib  # noqa: E402


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of an NCHW map."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Block(nn.Module):
    """One ConvNeXt block with transformers' parameter names; bf16_backbone_error.py passes its rounding conv and
    linear classes."""

    def __init__(self, c, eps, conv=nn.Conv2d, linear=nn.Linear, gamma=0.3):
        super().__init__()
        self.depthwise_conv = conv(c, c, 7, padding=3, groups=c)
        self.layer_norm = nn.LayerNorm(c, eps=eps)
        self.pointwise_conv1 = linear(c, 4 * c)
        self.pointwise_conv2 = linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), float(gamma)))

    def forward(self, x):
        y = self.depthwise_conv(x).permute(0, 2, 3, 1)
        y = self.pointwise_conv2(F.gelu(self.pointwise_conv1(self.layer_norm(y))))
        return x + (y * self.gamma).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    def __init__(self, hidden_sizes, depths, eps=1e-6):
        super().__init__()
        self.stages = nn.ModuleList()
        for i, (c, d) in enumerate(zip(hidden_sizes, depths)):
            if i == 0:
                down = [nn.Conv2d(3, c, 4, stride=4), LayerNorm2d(c, eps=eps)]
            else:
                down = [LayerNorm2d(hidden_sizes[i - 1], eps=eps), nn.Conv2d(hidden_sizes[i - 1], c, 2, stride=2)]
            self.stages.append(nn.Sequential(*down, *[Block(c, eps) for _ in range(d)]))

    def forward(self, x):
        outs = []
        for s in self.stages:
            x = s(x)
            outs.append(x)
        return outs


def flops(hidden_sizes, depths, h, w):
    h, w = h // 4, w // 4
    total = 2 * h * w * 3 * 16 * hidden_sizes[0]
    for s, (c, d) in enumerate(zip(hidden_sizes, depths)):
        if s > 0:
            h, w = h // 2, w // 2
            total += 2 * h * w * 4 * hidden_sizes[s - 1] * c
        total += d * (2 * h * w * c * 49 + 4 * h * w * c * 4 * c)
    return total


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backbone_args(ap)
    add_precision_args(ap, "try batch 1 and --batch, channels-last off and on (each in its own process); report the fastest")
    return ap.parse_args()


def measure(a):
    """Times images // batch forward calls after two warm-up calls; returns the JSON record."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    hs, ds = sizes(a)
    model = ConvNeXt(hs, ds).eval()
    x = torch.randn(a.batch, 3, a.resolution, a.resolution)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(a.precision):
        for _ in range(2):
            model(x)
        steps = max(1, a.images // a.batch)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            model(x)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = steps * a.batch
    gflop = flops(hs, ds, a.resolution, a.resolution) / 1e9
    return {
        "engine": "torch", "torch_version": torch.__version__, "resolution": a.resolution, "images": n, "batch": a.batch,
        "threads": a.threads, "channels_last": a.channels_last, "precision": a.precision,
        "images_per_second": n / dt, "ms_per_image": 1000 * dt / n,
        "cpu_seconds": cpu, "cpu_normalised_images_per_second": n * a.threads / cpu, "gflop_per_image": gflop, "gflops_per_second": gflop * n / dt,
        "peak_memory_mib": peak_memory_mib(),
    }


def best(a):
    """The fastest of batch 1 / --batch x channels-last off / on, at the given precision."""
    variants = [["--batch", str(b), cl] for b in sorted({1, a.batch}) for cl in ("--no-channels-last", "--channels-last")]
    return best_of(os.path.abspath(__file__), variants, "images_per_second", extra=["--json"])


def summary(r):
    """The human-readable line (without --json)."""
    layout = "channels-last" if r["channels_last"] else "contiguous"
    line = (f"PyTorch {r['torch_version']} {r['resolution']}x{r['resolution']} {r['precision']} {layout}: "
            f"{r['images_per_second']:.2f} images/s, {r['ms_per_image']:.1f} ms/image, "
            f"{r['gflops_per_second']:.1f} GFLOP/s, {r['threads']} threads, batch {r['batch']}")
    if r.get("best"):
        tried = ", ".join(f"batch {c['batch']}{' channels-last' if c['channels_last'] else ''} {c['images_per_second']:.2f}"
                          for c in r["best_of"])
        line += f" (fastest of: {tried})"
    return line


def main():
    a = parse_args()
    r = best(a) if a.best else measure(a)
    print(json.dumps(r) if a.json else summary(r))


if __name__ == "__main__":
    main()
