#!/usr/bin/env python3
"""PyTorch eager timing of the baseline's training step (`headtrain bench --baseline`): semseg's ResNet PSPNet built by
make_pspnet_fixture.py (full widths by default), fp32 on CPU, random normalised images and labels at the given crop;
forward with the aux head, main + 0.4 aux loss, backward, SGD step with two parameter groups.
Prints one JSON line with samples_per_second."""
import argparse, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pspnet_fixture import PSPNet, config  # noqa: E402  (the same module as the parity fixture)
from torch_timing import print_step_rate  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crop", type=int, default=473)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--output-stride", type=int, default=8)
    ap.add_argument("--width-divisor", type=int, default=1)
    ap.add_argument("--blocks", default="3,4,6,3")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = config(a.output_stride, "deep", divisor=a.width_divisor)
    cfg["blocks"] = [int(b) for b in a.blocks.split(",")]
    cfg["dropout"] = 0.1
    model = PSPNet(cfg).train()
    backbone = [p for n, p in model.named_parameters() if n.startswith("layer")]
    head = [p for n, p in model.named_parameters() if not n.startswith("layer")]
    opt = torch.optim.SGD([{"params": backbone, "lr": 0.01}, {"params": head, "lr": 0.1}], lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.crop, a.crop)
    y = torch.randint(0, 21, (a.batch, a.crop, a.crop))

    def step():
        opt.zero_grad()
        _, main, aux = model(x, y)
        (main + 0.4 * aux).backward()
        opt.step()

    print_step_rate(step, a.steps, a.batch, a.threads)


if __name__ == "__main__":
    main()
