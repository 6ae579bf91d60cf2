#!/usr/bin/env python3
"""PyTorch eager timing of the same head as `headtrain bench` (forward + loss + backward + SGD step) on CPU,
random tiny-backbone features (96,192,384,768 channels at 56/28/14/7) and random 224x224 labels.
Prints one JSON line; `headtrain bench` (run from the repository root) reads samples_per_second.

    python3 scripts/bench_torch_head.py --fpn-width 1024 --batch 32 --threads 2
    python3 scripts/bench_torch_head.py --precision bf16 --channels-last --batch 8
    python3 scripts/bench_torch_head.py --best --batch 8        # fastest of channels-last off/on

--precision bf16 puts torch.autocast(cpu, bfloat16) around forward and loss only; backward runs outside it (as
PyTorch's AMP recipe says) and the parameters, gradients and SGD state stay fp32 (autocast casts copies, so the
weights are the fp32 master weights). JSON keys: impl, samples_per_second, seconds_per_step, threads,
peak_memory_mib, precision, channels_last; with --best also best and best_of."""
import argparse, os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_head_fixture import Head  # noqa: E402  (the same modules as the parity fixture)
from torch_timing import add_training_args, time_training, training_main  # noqa: E402

CHANNELS, SIZES, LABEL = [96, 192, 384, 768], [56, 28, 14, 7], 224


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fpn-width", type=int, default=1024)
    ap.add_argument("--output-stride", type=int, default=8)
    ap.add_argument("--no-fpn", action="store_true")
    ap.add_argument("--no-ppm", action="store_true")
    add_training_args(ap, batch=32, steps=3)
    return ap.parse_args()


def measure(a):
    """Times a.steps training steps (torch's threads and seed set by training_main); returns the JSON record."""
    cfg = dict(stageChannels=CHANNELS, fpnWidth=a.fpn_width, outputStride=a.output_stride, useFPN=not a.no_fpn,
               usePPM=not a.no_ppm, numClasses=21, classifierWidth=512, dropout=0.1, ppmBins=[1, 2, 3, 6])
    head = Head(cfg).train()
    stages = [torch.randn(a.batch, c, s, s) for c, s in zip(CHANNELS, SIZES)]
    if a.channels_last:
        head = head.to(memory_format=torch.channels_last)
        stages = [s.to(memory_format=torch.channels_last) for s in stages]
    # Built after the memory-format change: Module.to may swap Parameter objects (overwrite_module_params_on_conversion).
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    labels = torch.randint(0, 21, (a.batch, LABEL, LABEL))

    def loss():
        logits = F.interpolate(head(stages), size=(LABEL, LABEL), mode="bilinear", align_corners=False)
        return F.cross_entropy(logits, labels, ignore_index=255)  # autocast runs cross_entropy in fp32

    return time_training(a, opt, loss)


if __name__ == "__main__":
    training_main(os.path.abspath(__file__), parse_args, measure)
