#!/usr/bin/env python3
"""How far bf16 moves the DINOv3 ConvNeXt backbone's features from fp32, per stage, in PyTorch: the number to put
beside DinoSeg's own (Tests/DinoSegTests/BF16AccuracyTests.swift: testBackboneStageErrorsOnGoldenSmall prints both,
testBackboneStageErrorsOnTinyAt224 the DinoSeg side of the command below).

    python3 scripts/bf16_backbone_error.py [FIXTURE_DIR] [--threads 1] [--json] [--write OUT.safetensors]

FIXTURE_DIR is a directory written by scripts/make_backbone_fixture.py (default: the committed golden-small fixture):
config.json, model.safetensors (Hugging Face key names), input.f32.bin (normalised NCHW input) and stageK.f32.bin
(transformers' fp32 outputs). A weights directory without input.f32.bin (e.g. the real DINOv3 weights) is accepted
too: the input is then N(0, 1) noise of --height x --width drawn with torch's generator from --seed, or, with
--splitmix-seed N, exactly the input DinoSeg's tests draw (SplitMix64(seed: N).normal(), Box-Muller, NHWC order).
Beside testBackboneStageErrorsOnTinyAt224 (random tiny weights, seed 9; input seed 91):

    .build/release/extract random-weights --size tiny --seed 9 --out /tmp/random-tiny-9
    python3 scripts/bf16_backbone_error.py /tmp/random-tiny-9 --splitmix-seed 91 --threads 2

The network is plain torch with transformers' parameter names (stem conv 4x4 s4 + LN; downsample LN + conv 2x2 s2;
blocks dwconv 7x7 -> LN -> Linear C->4C -> exact GELU -> Linear 4C->C -> gamma -> residual), loaded strictly from the
file; its fp32 outputs are first checked against the fixture's stageK.f32.bin. Then, per stage k, with
rel(x) = ||x - fp32||_2 / ||fp32||_2 (float64 sums, the metric the Swift test prints):

  autocast   torch.autocast("cpu", dtype=torch.bfloat16) around the forward: every conv (the depthwise 7x7 too) and
             linear takes bf16 inputs and writes bf16 outputs, GELU and the residual's gamma product run on those
             bf16 values, LayerNorm runs in fp32. What a PyTorch user gets from bf16.
  mm-inputs  DinoSeg's semantics emulated in torch: the inputs (activations and weights) of every linear layer and
             every non-depthwise conv rounded to bf16, everything computed and kept in fp32 (the depthwise conv,
             LayerNorm, GELU, residual in fp32). DinoSeg's `.roundedBLAS` engine computes exactly this up to the
             order of the f32 additions, so its per-stage numbers should be close to this column.

--write stores the stage outputs of all three runs (fp32.stageK, autocast.stageK, mminputs.stageK; NCHW float32)
and the numbers as metadata, for a test to read. Needs torch and safetensors (not transformers).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_backbone import Block, LayerNorm2d  # noqa: E402  (the benchmark's block, with rounding layers here)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFAULT_FIXTURE = os.path.join(ROOT, "Tests", "DinoSegTests", "Fixtures", "golden-small")


def bf16(x):
    """x rounded to the nearest bf16 (ties to even), kept as float32."""
    return x.to(torch.bfloat16).to(torch.float32)


class Rounding:
    """Whether linear layers and non-depthwise convs round their inputs to bf16 first (the mm-inputs run)."""
    on = False


class Linear(nn.Linear):
    def forward(self, x):
        if Rounding.on:
            return F.linear(bf16(x), bf16(self.weight), self.bias)
        return super().forward(x)


class Conv2d(nn.Conv2d):
    def forward(self, x):
        if Rounding.on and self.groups == 1:
            return F.conv2d(bf16(x), bf16(self.weight), self.bias, self.stride, self.padding, self.dilation, self.groups)
        return super().forward(x)


class Stage(nn.Module):
    def __init__(self, cin, c, depth, eps, first):
        super().__init__()
        if first:
            self.downsample_layers = nn.ModuleList([Conv2d(3, c, 4, stride=4), LayerNorm2d(c, eps=eps)])
        else:
            self.downsample_layers = nn.ModuleList([LayerNorm2d(cin, eps=eps), Conv2d(cin, c, 2, stride=2)])
        self.layers = nn.ModuleList([Block(c, eps, conv=Conv2d, linear=Linear, gamma=1.0) for _ in range(depth)])

    def forward(self, x):
        for m in self.downsample_layers:
            x = m(x)
        for b in self.layers:
            x = b(x)
        return x


class ConvNeXt(nn.Module):
    """transformers' DINOv3ConvNextModel up to the last stage (its final layer_norm is not part of the features)."""

    def __init__(self, hidden_sizes, depths, eps):
        super().__init__()
        self.stages = nn.ModuleList([Stage(hidden_sizes[max(i - 1, 0)], c, d, eps, i == 0)
                                     for i, (c, d) in enumerate(zip(hidden_sizes, depths))])

    def forward(self, x):
        outs = []
        for s in self.stages:
            x = s(x)
            outs.append(x.float())
        return outs


def load_model(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    model = ConvNeXt(cfg["hidden_sizes"], cfg["depths"], cfg.get("layer_norm_eps", 1e-6)).eval()
    state = load_file(os.path.join(d, "model.safetensors"))
    state = {k[len("model."):] if k.startswith("model.") else k: v.float() for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("layer_norm.")}
    model.load_state_dict(state, strict=True)
    return model, cfg


def splitmix_normal_nchw(seed, h, w):
    """DinoSeg's SplitMix64(seed: seed).normal() drawn h*w*3 times in NHWC order, rounded to float32, as NCHW."""
    mask = (1 << 64) - 1
    state = seed & mask

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    values = np.empty(h * w * 3, dtype=np.float32)
    for i in range(values.size):
        u1 = max((nxt() >> 11) * (1.0 / 9007199254740992.0), 1e-300)
        u2 = (nxt() >> 11) * (1.0 / 9007199254740992.0)
        values[i] = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    return torch.from_numpy(values.reshape(1, h, w, 3).transpose(0, 3, 1, 2).copy())


def load_input(d, a):
    path = os.path.join(d, "input.f32.bin")
    if a.splitmix_seed is not None:
        return (splitmix_normal_nchw(a.splitmix_seed, a.height, a.width),
                f"SplitMix64 N(0,1) {a.height}x{a.width}, seed {a.splitmix_seed}")
    if os.path.exists(path):
        shape = json.load(open(os.path.join(d, "manifest.json")))["tensors"]["input"]["shape"]
        return torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(shape).copy()), "input.f32.bin"
    g = torch.Generator().manual_seed(a.seed)
    return torch.randn(1, 3, a.height, a.width, generator=g), f"N(0,1) noise {a.height}x{a.width}, seed {a.seed}"


def display_path(d):
    """The directory relative to the repository when inside it, else absolute."""
    rel = os.path.relpath(os.path.abspath(d), os.path.abspath(ROOT))
    return os.path.abspath(d) if rel.startswith("..") else rel


def rel_l2(x, ref):
    x, ref = x.double(), ref.double()
    return float((x - ref).norm() / ref.norm())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fixture", nargs="?", default=DEFAULT_FIXTURE)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--height", type=int, default=224)
    ap.add_argument("--width", type=int, default=224)
    ap.add_argument("--seed", type=int, default=1, help="torch generator seed of the noise input")
    ap.add_argument("--splitmix-seed", type=int, help="draw the input as DinoSeg's tests do, from SplitMix64(seed)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", metavar="OUT.safetensors")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    model, cfg = load_model(a.fixture)
    x, input_note = load_input(a.fixture, a)
    with torch.inference_mode():
        fp32 = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = model(x)
        Rounding.on = True
        mm = model(x)
        Rounding.on = False

    parity = []
    for k, out in enumerate(fp32):
        path = os.path.join(a.fixture, f"stage{k}.f32.bin")
        if os.path.exists(path):
            ref = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(out.shape).copy())
            parity.append(float((out - ref).abs().max() / ref.abs().max()))
    if parity and max(parity) > 1e-4:
        sys.exit(f"fp32 outputs differ from the fixture's stageK.f32.bin (max |d|/max|ref| per stage {parity}): "
                 "the plain-torch network does not match transformers")

    record = {
        "fixture": display_path(a.fixture), "input": input_note,
        "hidden_sizes": cfg["hidden_sizes"], "depths": cfg["depths"], "torch_version": torch.__version__,
        "fp32_vs_fixture_max_rel": parity,
        "autocast_rel_l2": [rel_l2(o, r) for o, r in zip(auto, fp32)],
        "mm_inputs_rel_l2": [rel_l2(o, r) for o, r in zip(mm, fp32)],
    }
    if a.write:
        tensors = {}
        for k in range(len(fp32)):
            tensors[f"fp32.stage{k}"] = fp32[k].contiguous()
            tensors[f"autocast.stage{k}"] = auto[k].contiguous()
            tensors[f"mminputs.stage{k}"] = mm[k].contiguous()
        save_file(tensors, a.write, metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in record.items()})
    if a.json:
        print(json.dumps(record))
        return
    print(f"{record['fixture']} ({input_note}; hidden sizes {cfg['hidden_sizes']}, depths {cfg['depths']}; "
          f"torch {torch.__version__}, {a.threads} thread(s))")
    if parity:
        print("fp32 vs the fixture's transformers outputs, max |d|/max|ref| per stage: "
              + ", ".join(f"{p:.1e}" for p in parity))
    print("per-stage ||bf16 - fp32||_2 / ||fp32||_2:")
    print(f"{'stage':>5}  {'autocast':>10}  {'mm-inputs':>10}")
    for k in range(len(fp32)):
        print(f"{k:>5}  {record['autocast_rel_l2'][k]:10.3e}  {record['mm_inputs_rel_l2'][k]:10.3e}")


if __name__ == "__main__":
    main()
