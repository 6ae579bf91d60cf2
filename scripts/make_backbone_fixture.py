#!/usr/bin/env python3
"""Writes a DINOv3 ConvNeXt parity fixture with the reference implementation (transformers' DINOv3ConvNextModel).

    python3 scripts/make_backbone_fixture.py OUT_DIR [--hidden-sizes 16,32,48,64] [--depths 1,1,2,1]
        [--height 64] [--width 96] [--seed 20250917] [--naming hf|meta] [--prefix] [--dtype F32|F16|BF16] [--f64]

OUT_DIR receives config.json + model.safetensors (random, non-trivial weights: every parameter perturbed so a missing
or misplaced operation shows), input.f32.bin (already-normalised input, NCHW [1, 3, H, W], little-endian float32),
stageK.f32.bin (hidden_states[K+1], the raw output of stage K, NCHW; with --f64 also computed in float64) and
manifest.json (shapes, statistics, sha256). --naming meta / --prefix / --dtype rewrite the safetensors keys and dtype
(Meta's original names, a `model.` prefix, half precision) after the outputs were computed with the float32 weights.
Needs torch, transformers and safetensors; the Swift project itself never runs this.
"""
import argparse
import hashlib
import json
import os
import re

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import DINOv3ConvNextConfig, DINOv3ConvNextModel


def perturb(model, gen):
    """conv/linear W~N(0,1/fan_in), b~N(0,0.01); LN w~1+N(0,0.04), b~N(0,0.01); gamma~U(0.1,0.6)*random sign."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                sign = torch.where(torch.rand(p.shape, generator=gen) < 0.5, -1.0, 1.0)
                p.copy_((0.1 + 0.5 * torch.rand(p.shape, generator=gen)) * sign)
            elif p.ndim == 1 and ("layer_norm" in name or re.search(r"downsample_layers\.\d\.weight$", name)):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def meta_name(hf):
    m = re.match(r"stages\.(\d+)\.downsample_layers\.(\d+)\.(.*)", hf)
    if m:
        return f"downsample_layers.{m[1]}.{m[2]}.{m[3]}"
    m = re.match(r"stages\.(\d+)\.layers\.(\d+)\.(.*)", hf)
    if m:
        rest = m[3]
        for a, b in [("depthwise_conv", "dwconv"), ("layer_norm", "norm"), ("pointwise_conv", "pwconv")]:
            rest = rest.replace(a, b)
        return f"stages.{m[1]}.{m[2]}.{rest}"
    return hf.replace("layer_norm.", "norm.")


def stats(a):
    return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--hidden-sizes", default="16,32,48,64")
    ap.add_argument("--depths", default="1,1,2,1")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--seed", type=int, default=20250917)
    ap.add_argument("--naming", choices=["hf", "meta"], default="hf")
    ap.add_argument("--prefix", action="store_true", help="prefix every key with 'model.'")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--f64", action="store_true", help="also write float64 reference outputs")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    hs = [int(v) for v in a.hidden_sizes.split(",")]
    ds = [int(v) for v in a.depths.split(",")]
    config = DINOv3ConvNextConfig(hidden_sizes=hs, depths=ds, layer_norm_eps=1e-6, hidden_act="gelu")
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model = DINOv3ConvNextModel(config).eval()
    perturb(model, gen)
    x = torch.randn(1, 3, a.height, a.width, generator=gen)
    model.save_pretrained(a.out)
    x.numpy().astype("<f4").tofile(os.path.join(a.out, "input.f32.bin"))
    manifest = {"description": f"DINOv3ConvNextModel reference outputs (transformers), random weights, seed {a.seed}",
                "hidden_sizes": hs, "depths": ds, "layer_norm_eps": 1e-6, "seed": a.seed,
                "naming": a.naming, "prefix": a.prefix, "dtype": a.dtype, "layout": "NCHW", "tensors": {}}
    with torch.no_grad():
        outs = model(x, output_hidden_states=True).hidden_states[1:]
        outs64 = model.double()(x.double(), output_hidden_states=True).hidden_states[1:] if a.f64 else None
    for k, o in enumerate(outs):
        arr = o.numpy().astype("<f4")
        arr.tofile(os.path.join(a.out, f"stage{k}.f32.bin"))
        manifest["tensors"][f"stage{k}"] = {"file": f"stage{k}.f32.bin", "shape": list(arr.shape), "stats": stats(arr),
                                            "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
        if outs64 is not None:
            outs64[k].numpy().astype("<f8").tofile(os.path.join(a.out, f"stage{k}.f64.bin"))
    manifest["tensors"]["input"] = {"file": "input.f32.bin", "shape": list(x.shape), "stats": stats(x.numpy())}

    # Rewrite the checkpoint's names / dtype if asked (outputs above used the float32 weights).
    path = os.path.join(a.out, "model.safetensors")
    if a.naming != "hf" or a.prefix or a.dtype != "F32":
        dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[a.dtype]
        tensors = {}
        for k, v in load_file(path).items():
            name = meta_name(k) if a.naming == "meta" else k
            tensors[("model." if a.prefix else "") + name] = v.to(dt).contiguous()
        save_file(tensors, path, metadata={"format": "pt"})
    manifest["weights_sha256"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {a.out}: stages {[list(o.shape) for o in outs]}")


if __name__ == "__main__":
    main()
