#!/usr/bin/env python3
"""PyTorch eager timing of the baseline's training step (`headtrain bench --baseline`): semseg's ResNet PSPNet built by
make_pspnet_fixture.py (full widths by default) on CPU, random normalised images and labels at the given crop;
forward with the aux head, main + 0.4 aux loss, backward, SGD step with two parameter groups.
Prints one JSON line; `headtrain bench --baseline` reads samples_per_second.

    python3 scripts/bench_torch_pspnet.py --crop 473 --batch 2 --threads 2
    python3 scripts/bench_torch_pspnet.py --precision bf16 --channels-last
    python3 scripts/bench_torch_pspnet.py --best                # fastest of channels-last off/on

--precision bf16 puts torch.autocast(cpu, bfloat16) around the forward, whose last step is the two losses (autocast
runs cross_entropy in fp32); backward runs outside it as PyTorch's AMP recipe says, and the parameters, gradients and
SGD state stay fp32 (the master weights). JSON keys: impl, samples_per_second, seconds_per_step, threads,
peak_memory_mib, precision, channels_last; with --best also best and best_of."""
import argparse, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pspnet_fixture import PSPNet, config  # noqa: E402  (the same module as the parity fixture)
from torch_timing import add_training_args, time_training, training_main  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crop", type=int, default=473)
    ap.add_argument("--output-stride", type=int, default=8)
    ap.add_argument("--width-divisor", type=int, default=1)
    ap.add_argument("--blocks", default="3,4,6,3")
    add_training_args(ap, batch=2, steps=2)
    return ap.parse_args()


def measure(a):
    """Times a.steps training steps (torch's threads and seed set by training_main); returns the JSON record."""
    cfg = config(a.output_stride, "deep", divisor=a.width_divisor)
    cfg["blocks"] = [int(b) for b in a.blocks.split(",")]
    cfg["dropout"] = 0.1
    model = PSPNet(cfg).train()
    x = torch.randn(a.batch, 3, a.crop, a.crop)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    # Grouped after the memory-format change: Module.to may swap Parameter objects (overwrite_module_params_on_conversion).
    backbone = [p for n, p in model.named_parameters() if n.startswith("layer")]
    head = [p for n, p in model.named_parameters() if not n.startswith("layer")]
    opt = torch.optim.SGD([{"params": backbone, "lr": 0.01}, {"params": head, "lr": 0.1}], lr=0.01, momentum=0.9, weight_decay=1e-4)
    y = torch.randint(0, 21, (a.batch, a.crop, a.crop))

    def loss():
        _, main, aux = model(x, y)
        return main + 0.4 * aux

    return time_training(a, opt, loss)


if __name__ == "__main__":
    training_main(os.path.abspath(__file__), parse_args, measure)
