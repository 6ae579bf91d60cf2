#!/usr/bin/env python3
"""PyTorch eager timing of the same head as `headtrain bench` (forward + loss + backward + SGD step), fp32 on CPU,
random tiny-backbone features (96,192,384,768 channels at 56/28/14/7) and random 224x224 labels.
Prints one JSON line with samples_per_second. Used by `headtrain bench` (run from the repository root)."""
import argparse, os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_head_fixture import Head  # noqa: E402  (the same modules as the parity fixture)
from torch_timing import print_step_rate  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fpn-width", type=int, default=1024)
    ap.add_argument("--output-stride", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--no-fpn", action="store_true")
    ap.add_argument("--no-ppm", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    channels, sizes = [96, 192, 384, 768], [56, 28, 14, 7]
    cfg = dict(stageChannels=channels, fpnWidth=a.fpn_width, outputStride=a.output_stride, useFPN=not a.no_fpn,
               usePPM=not a.no_ppm, numClasses=21, classifierWidth=512, dropout=0.1, ppmBins=[1, 2, 3, 6])
    head = Head(cfg).train()
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    stages = [torch.randn(a.batch, c, s, s) for c, s in zip(channels, sizes)]
    labels = torch.randint(0, 21, (a.batch, 224, 224))

    def step():
        opt.zero_grad()
        logits = F.interpolate(head(stages), size=(224, 224), mode="bilinear", align_corners=False)
        F.cross_entropy(logits, labels, ignore_index=255).backward()
        opt.step()

    print_step_rate(step, a.steps, a.batch, a.threads)


if __name__ == "__main__":
    main()
