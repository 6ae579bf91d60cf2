#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures for the Swift ResNet PSPNet baseline
(Tests/DinoSegTests/Fixtures/pspnet_os8.safetensors, pspnet_os32.safetensors).

The network mirrors hszhao/semseg's PSPNet (model/pspnet.py, model/resnet.py) module for module, so the state_dict
names are semseg's: layer0.* (deep stem: conv/bn at 0,1 3,4 6,7; torchvision stem: 0,1), layer1..4.{b}.conv1..3 /
bn1..3 / downsample.{0,1}, ppm.features.{j}.{1,2}, cls.{0,1,4}, aux.{0,1,4}; layer3/layer4 get dilation 2/4 and
stride 1 exactly as semseg patches them (output stride 8), or keep their strides (output stride 32). Widths are
divided by 32 (the PPM branches and classifier to 16 channels, aux to 8) and the stages have 1,2,2,1 blocks so the files stay
small; the input is 4x3x33x33.

The reference is computed in float64 (from float32 starting values) and stored as float32. A batch of 4 keeps the
PPM's 1x1 branch from normalising over only 2 values, which makes float32 gradients ill-conditioned.

Determinism: Dropout2d has p=0; everything else is in training mode (BatchNorm on batch statistics, running stats
updated, the aux head and its 0.4-weighted loss). Two SGD steps on the same batch, momentum 0.9, weight decay 1e-4,
semseg's two parameter groups (layer0-4 at the poly lr of base 0.01, ppm/cls/aux at 10x), poly power 0.9 over
max_iter 10.

Each fixture holds (NHWC images and logits, PyTorch-layout parameters):
  input [N,H,W,3]   labels [N,H,W] (int64, some 255)
  init.<state_dict key>              initial parameters, BN running stats and num_batches_tracked
  logits [N,H,W,K]                   main logits at the input size (first forward)
  loss [3]                           main, aux, main + 0.4 aux
  grad.<param>                       gradients of the first step
  step2.<state_dict key>             after the two SGD steps
Metadata: "config" (the Swift PSPNetConfig as JSON), "sgd" (settings).

The script also proves the state_dict names: it loads its own state_dict into a fresh model with strict=True, and
with --check CHECKPOINT it loads a checkpoint written by `headtrain baseline train` into the full-size
PSPNet(layers=50) the same way (the optimizer.* entries are dropped first).
"""
import argparse, json, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file, load_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "DinoSegTests", "Fixtures")
SIZE, BATCH = 33, 4
BASE_LR, MOMENTUM, WD, POWER, MAX_ITER, STEPS = 0.01, 0.9, 1e-4, 0.9, 10, 2


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + residual)


def make_layer(inplanes, planes, blocks, stride):
    downsample = None
    if stride != 1 or inplanes != planes * 4:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                                   nn.BatchNorm2d(planes * 4))
    layers = [Bottleneck(inplanes, planes, stride, downsample)]
    layers += [Bottleneck(planes * 4, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class PPM(nn.Module):
    def __init__(self, in_dim, reduction_dim, bins):
        super().__init__()
        self.features = nn.ModuleList([nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction_dim, 1, bias=False),
                                                     nn.BatchNorm2d(reduction_dim), nn.ReLU(inplace=True)) for b in bins])

    def forward(self, x):
        return torch.cat([x] + [F.interpolate(f(x), x.shape[2:], mode="bilinear", align_corners=True) for f in self.features], 1)


class PSPNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        sw, planes, blocks = cfg["stemWidth"], cfg["planes"], cfg["blocks"]
        if cfg["stem"] == "deep":
            self.layer0 = nn.Sequential(nn.Conv2d(3, sw, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(sw), nn.ReLU(inplace=True),
                                        nn.Conv2d(sw, sw, 3, padding=1, bias=False), nn.BatchNorm2d(sw), nn.ReLU(inplace=True),
                                        nn.Conv2d(sw, 2 * sw, 3, padding=1, bias=False), nn.BatchNorm2d(2 * sw), nn.ReLU(inplace=True),
                                        nn.MaxPool2d(3, stride=2, padding=1))
            inplanes = 2 * sw
        else:
            self.layer0 = nn.Sequential(nn.Conv2d(3, sw, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(sw), nn.ReLU(inplace=True),
                                        nn.MaxPool2d(3, stride=2, padding=1))
            inplanes = sw
        self.layer1 = make_layer(inplanes, planes[0], blocks[0], 1)
        self.layer2 = make_layer(planes[0] * 4, planes[1], blocks[1], 2)
        self.layer3 = make_layer(planes[1] * 4, planes[2], blocks[2], 2)
        self.layer4 = make_layer(planes[2] * 4, planes[3], blocks[3], 2)
        if cfg["outputStride"] == 8:  # semseg's patch of layer3/layer4
            for layer, d in ((self.layer3, 2), (self.layer4, 4)):
                for n, m in layer.named_modules():
                    if "conv2" in n:
                        m.dilation, m.padding, m.stride = (d, d), (d, d), (1, 1)
                    elif "downsample.0" in n:
                        m.stride = (1, 1)
        fea = planes[3] * 4
        self.ppm = PPM(fea, cfg["ppmWidth"], cfg["bins"])
        fea += len(cfg["bins"]) * cfg["ppmWidth"]
        k, p = cfg["numClasses"], cfg["dropout"]
        self.cls = nn.Sequential(nn.Conv2d(fea, cfg["classifierWidth"], 3, padding=1, bias=False), nn.BatchNorm2d(cfg["classifierWidth"]),
                                 nn.ReLU(inplace=True), nn.Dropout2d(p=p), nn.Conv2d(cfg["classifierWidth"], k, 1))
        self.aux = nn.Sequential(nn.Conv2d(planes[2] * 4, cfg["auxWidth"], 3, padding=1, bias=False), nn.BatchNorm2d(cfg["auxWidth"]),
                                 nn.ReLU(inplace=True), nn.Dropout2d(p=p), nn.Conv2d(cfg["auxWidth"], k, 1))
        self.aux_weight = cfg["auxWeight"]
        self.criterion = nn.CrossEntropyLoss(ignore_index=255)

    def forward(self, x, y):
        h = int((x.shape[2] - 1) / 8 * 8 + 1)
        w = int((x.shape[3] - 1) / 8 * 8 + 1)
        x = self.layer0(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x_tmp = self.layer3(x)
        x = self.layer4(x_tmp)
        x = self.cls(self.ppm(x))
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=True)
        aux = F.interpolate(self.aux(x_tmp), size=(h, w), mode="bilinear", align_corners=True)
        main_loss, aux_loss = self.criterion(x, y), self.criterion(aux, y)
        return x, main_loss, aux_loss


def config(output_stride, stem, divisor=16, head_width=None):
    head_width = head_width or 2048 // divisor
    return {"stem": stem, "stemWidth": 64 // divisor, "planes": [p // divisor for p in (64, 128, 256, 512)],
            "blocks": [1, 2, 2, 1], "outputStride": output_stride, "bins": [1, 2, 3, 6], "ppmWidth": head_width // 4,
            "classifierWidth": head_width // 4, "auxWidth": head_width // 8, "numClasses": 21, "dropout": 0.0, "auxWeight": 0.4}


def poly(k):
    return BASE_LR * (1 - k / MAX_ITER) ** POWER


def conv_init(model, seed):
    # Non-trivial BN affine parameters and running stats, so a swapped gamma/beta or mean/var shows.
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = 1 + 0.2 * (torch.rand(m.weight.shape, generator=g) - 0.5)
            m.bias.data = 0.2 * (torch.rand(m.bias.shape, generator=g) - 0.5)
            m.running_mean.data = 0.1 * (torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.data = 1 + 0.5 * torch.rand(m.running_var.shape, generator=g)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def make(name, output_stride, stem, seed):
    torch.manual_seed(seed)
    cfg = config(output_stride, stem, divisor=32, head_width=64)
    model = PSPNet(cfg)
    conv_init(model, seed)
    model.train()
    # The reference runs in float64 from float32 starting values (so our float32 run starts from the same numbers);
    # in float32 even PyTorch differs from it by up to ~3e-5 here.
    model.double()
    # The names are semseg's: a fresh model accepts this state_dict strictly.
    PSPNet(cfg).load_state_dict(model.state_dict(), strict=True)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=g).double()
    y = torch.randint(0, cfg["numClasses"], (BATCH, SIZE, SIZE), generator=g)
    y[torch.rand(BATCH, SIZE, SIZE, generator=g) < 0.15] = 255
    backbone = [p for n, p in model.named_parameters() if n.startswith("layer")]
    head = [p for n, p in model.named_parameters() if not n.startswith("layer")]
    opt = torch.optim.SGD([{"params": backbone, "lr": poly(0)}, {"params": head, "lr": 10 * poly(0)}],
                          lr=poly(0), momentum=MOMENTUM, weight_decay=WD)
    tensors = {"input": nhwc(x), "labels": y.to(torch.int64)}
    for k, v in init.items():
        tensors["init." + k] = v
    for step in range(STEPS):
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = poly(step), 10 * poly(step)
        opt.zero_grad()
        logits, main, aux = model(x, y)
        loss = main + cfg["auxWeight"] * aux
        loss.backward()
        if step == 0:
            tensors["logits"] = nhwc(logits.detach())
            tensors["loss"] = torch.tensor([main.item(), aux.item(), loss.item()], dtype=torch.float32)
            for n, p in model.named_parameters():
                tensors["grad." + n] = p.grad.detach().clone()
        opt.step()
    for k, v in model.state_dict().items():
        tensors["step2." + k] = v.detach().clone()
    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    meta = {"config": json.dumps(cfg), "sgd": json.dumps({"baseLR": BASE_LR, "headLRFactor": 10, "momentum": MOMENTUM,
                                                          "weightDecay": WD, "power": POWER, "maxIter": MAX_ITER, "steps": STEPS})}
    path = os.path.join(OUT, name)
    save_file(tensors, path, metadata=meta)
    print(f"{path}: loss main {main.item():.6f} aux {aux.item():.6f}, {os.path.getsize(path)} bytes")


def check(path):
    """Loads a Swift checkpoint into semseg's full-size PSPNet(layers=50) with strict=True."""
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        cfg = json.loads(f.metadata()["config"])
    state = {k: v for k, v in load_file(path).items() if not k.startswith("optimizer.")}
    cfg["dropout"] = 0.1
    model = PSPNet(cfg)
    model.load_state_dict(state, strict=True)
    print(f"{path}: load_state_dict(strict=True) OK, {len(state)} tensors")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="a checkpoint written by headtrain baseline train")
    args = ap.parse_args()
    if args.check:
        check(args.check)
        sys.exit(0)
    make("pspnet_os8.safetensors", 8, "deep", 1)
    make("pspnet_os32.safetensors", 32, "torchvision", 2)
