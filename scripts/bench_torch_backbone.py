#!/usr/bin/env python3
"""PyTorch reference throughput for the DINOv3 ConvNeXt backbone (plain torch, random weights, eager fp32).

Same architecture as transformers' DINOv3ConvNextModel (stem conv 4x4 s4 + LN, downsample LN + conv 2x2 s2,
blocks dwconv 7x7 -> LN -> Linear C->4C -> exact GELU -> Linear 4C->C -> gamma -> residual), without needing
transformers. Used by `extract bench` (invoked through python3) and runnable by hand:

    python3 scripts/bench_torch_backbone.py --threads 2 --images 40 [--batch 1] [--channels-last] [--json]

Throughput mode mirrors the Swift benchmark: one image at a time per forward call, torch intra-op threads = --threads.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over channels of an NCHW map."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.layer_norm = nn.LayerNorm(c, eps=eps)
        self.pointwise_conv1 = nn.Linear(c, 4 * c)
        self.pointwise_conv2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.3))

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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden-sizes", default="96,192,384,768")
    ap.add_argument("--depths", default="3,3,9,3")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    hs = [int(v) for v in a.hidden_sizes.split(",")]
    ds = [int(v) for v in a.depths.split(",")]
    model = ConvNeXt(hs, ds).eval()
    x = torch.randn(a.batch, 3, a.resolution, a.resolution)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        steps = max(1, a.images // a.batch)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            model(x)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = steps * a.batch
    gflop = flops(hs, ds, a.resolution, a.resolution) / 1e9
    r = {
        "engine": "torch", "torch_version": torch.__version__, "resolution": a.resolution, "images": n, "batch": a.batch,
        "threads": a.threads, "channels_last": a.channels_last, "images_per_second": n / dt, "ms_per_image": 1000 * dt / n,
        "cpu_seconds": cpu, "cpu_normalised_images_per_second": n * a.threads / cpu, "gflop_per_image": gflop, "gflops_per_second": gflop * n / dt,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if a.json:
        print(json.dumps(r))
    else:
        print(f"PyTorch {torch.__version__} {a.resolution}x{a.resolution}: {r['images_per_second']:.2f} images/s, "
              f"{r['ms_per_image']:.1f} ms/image, {r['gflops_per_second']:.1f} GFLOP/s, {a.threads} threads, batch {a.batch}")


if __name__ == "__main__":
    main()
