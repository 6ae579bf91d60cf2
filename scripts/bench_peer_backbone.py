#!/usr/bin/env python3
"""Throughput of the DINOv3 ConvNeXt backbone in OpenVINO or ONNX Runtime, beside bench_torch_backbone.py.

The network is bench_torch_backbone.py's ConvNeXt module (random weights, seed 0), exported once to ONNX (opset 18,
batch axis dynamic) and cached as cache/peers/convnext-h<sizes>-d<depths>-r<resolution>-opset18.onnx with a .json
beside it (FLOP count, exporter versions); delete them to re-export. Needs the peers' venv (scripts/setup_peers.sh):

    .venv-peers/bin/python scripts/bench_peer_backbone.py --engine openvino --threads 2 --images 40 [--json]
    .venv-peers/bin/python scripts/bench_peer_backbone.py --engine openvino --ov-precision f32 --json
    .venv-peers/bin/python scripts/bench_peer_backbone.py --engine onnxruntime --threads 2 --images 40 --json
    .venv-peers/bin/python scripts/bench_peer_backbone.py --engine openvino --batch 4 --json

Like the Swift side, one image per call by default; --batch N sends N per call.
OpenVINO: INFERENCE_NUM_THREADS = --threads, input shape fixed to the batch. Precision is OpenVINO's own default for
the CPU (bf16 where the CPU has AVX512-BF16 or AMX) unless --ov-precision forces one; the precision it used is
reported. --ov-hint auto (default) is LATENCY at batch 1 (one synchronous request using all threads, as Swift and
torch run) and THROUGHPUT above (OpenVINO picks streams; as many requests in flight as it says are optimal).
ONNX Runtime: CPU execution provider, fp32, intra-op threads = --threads, inter-op 1, sequential execution.

JSON keys (as bench_torch_backbone.py): engine, engine_version, precision, resolution, images, batch, threads,
images_per_second, ms_per_image, cpu_seconds, cpu_normalised_images_per_second, gflop_per_image, gflops_per_second,
peak_memory_mib, onnx_opset; for OpenVINO also ov_hint, ov_streams, ov_requests.
Exits non-zero with one stderr line when the engine (or, for a first export, torch / onnxscript) is missing.
"""
import argparse
import importlib
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(os.path.dirname(SCRIPTS), "cache", "peers")
OPSET = 18  # the dynamo exporter's native opset: LayerNormalization is one node (>= 17)
HINT = "run scripts/setup_peers.sh and use .venv-peers/bin/python"

sys.path.insert(0, SCRIPTS)
from backbone_args import add_backbone_args, sizes  # noqa: E402  (torch-free, as this venv may lack torch)


def require(module):
    """Imports `module` or exits with one line saying what is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        sys.exit(f"bench_peer_backbone: {module} is not importable ({e}); {HINT}")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=["openvino", "onnxruntime"], default="openvino")
    add_backbone_args(ap)
    ap.add_argument("--ov-precision", choices=["default", "f32", "bf16"], default="default",
                    help="OpenVINO INFERENCE_PRECISION_HINT (default: leave OpenVINO's choice for this CPU)")
    ap.add_argument("--ov-hint", choices=["auto", "latency", "throughput"], default="auto",
                    help="OpenVINO PERFORMANCE_HINT (auto: latency at batch 1, throughput above)")
    ap.add_argument("--export-to", help=argparse.SUPPRESS)  # internal: the export child process
    a = ap.parse_args()
    if a.engine != "openvino" and (a.ov_precision != "default" or a.ov_hint != "auto"):
        ap.error("--ov-precision and --ov-hint apply to --engine openvino only")
    return a


def onnx_path(a):
    hs, ds = sizes(a)
    key = f"convnext-h{'_'.join(map(str, hs))}-d{'_'.join(map(str, ds))}-r{a.resolution}-opset{OPSET}"
    return os.path.join(CACHE, key + ".onnx")


def export(a):
    """Child process: exports bench_torch_backbone's ConvNeXt to a.export_to and writes the .json beside it."""
    torch = require("torch")
    require("onnxscript")  # the dynamo exporter's back end; its absence otherwise shows as a long traceback
    from bench_torch_backbone import ConvNeXt, flops

    hs, ds = sizes(a)
    torch.manual_seed(0)
    model = ConvNeXt(hs, ds).eval()
    # Batch 2 as the example: torch.export specialises a size-1 dimension, which would pin the batch axis to 1.
    x = torch.randn(2, 3, a.resolution, a.resolution)
    tmp = a.export_to + f".tmp{os.getpid()}"
    torch.onnx.export(model, (x,), tmp, opset_version=OPSET, dynamo=True, external_data=False,
                      input_names=["pixel_values"], output_names=[f"stage{i}" for i in range(len(hs))],
                      dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
    os.replace(tmp, a.export_to)  # whole file or nothing, so an interrupted export is not mistaken for a cached one
    meta = {"gflop_per_image": flops(hs, ds, a.resolution, a.resolution) / 1e9, "opset": OPSET,
            "torch_version": torch.__version__, "onnxscript_version": importlib.metadata.version("onnxscript")}
    with open(meta_path(a.export_to), "w") as f:
        json.dump(meta, f)


def meta_path(onnx):
    return onnx[:-len(".onnx")] + ".json"


def ensure_onnx(a):
    """The cached ONNX file and its metadata, exporting first if needed. The export runs in a child process so that
    torch and the exporter never count towards this process's peak memory."""
    path = onnx_path(a)
    if not (os.path.exists(path) and os.path.exists(meta_path(path))):
        os.makedirs(CACHE, exist_ok=True)
        cmd = [sys.executable, os.path.abspath(__file__), "--export-to", path, "--hidden-sizes", a.hidden_sizes,
               "--depths", a.depths, "--resolution", str(a.resolution)]
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            last = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
            sys.exit(f"bench_peer_backbone: ONNX export failed: {last}")
    with open(meta_path(path)) as f:
        return path, json.load(f)


def precision_name(ov_type):
    """OpenVINO's element type as the torch scripts spell precisions (f32 -> fp32)."""
    name = ov_type.get_type_name()
    return {"f32": "fp32", "f16": "fp16"}.get(name, name)


def openvino_runner(a, path, x):
    """Compiles the model for the CPU; returns run(n) (n inferences of one batch each) and the engine's fields."""
    ov = require("openvino")
    core = ov.Core()
    model = core.read_model(path)
    model.reshape([a.batch, 3, a.resolution, a.resolution])  # static shapes: the CPU plugin plans kernels once
    hint = a.ov_hint if a.ov_hint != "auto" else ("latency" if a.batch == 1 else "throughput")
    config = {"INFERENCE_NUM_THREADS": a.threads, "PERFORMANCE_HINT": hint.upper()}
    if a.ov_precision != "default":
        config["INFERENCE_PRECISION_HINT"] = a.ov_precision
    compiled = core.compile_model(model, "CPU", config)
    requests = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS") if hint == "throughput" else 1
    if hint == "latency":
        request = compiled.create_infer_request()

        def run(n):
            for _ in range(n):
                request.infer({0: x}, share_inputs=True, share_outputs=True)  # no copies: Swift reads its own buffers
    else:
        queue = ov.AsyncInferQueue(compiled, requests)

        def run(n):
            # Keeps every request busy: the streams only pay off with as many calls in flight as OpenVINO asks for.
            for _ in range(n):
                queue.start_async({0: x}, share_inputs=True)
            queue.wait_all()

    fields = {"engine_version": importlib.metadata.version("openvino"),
              "precision": precision_name(compiled.get_property("INFERENCE_PRECISION_HINT")),
              "ov_hint": hint, "ov_streams": int(compiled.get_property("NUM_STREAMS")), "ov_requests": requests}
    return run, fields, requests


def onnxruntime_runner(a, path, x):
    """An ONNX Runtime CPU session; returns run(n) and the engine's fields."""
    ort = require("onnxruntime")
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads  # the calling thread is one of them, as in torch.set_num_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # the graph is a chain: parallel branches buy nothing
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}

    def run(n):
        for _ in range(n):
            session.run(None, feed)

    return run, {"engine_version": importlib.metadata.version("onnxruntime"), "precision": "fp32"}, 1


def measure(a):
    """Times images // batch calls after a warm-up; returns the JSON record."""
    require("openvino" if a.engine == "openvino" else "onnxruntime")  # before a possibly long export
    np = require("numpy")
    path, meta = ensure_onnx(a)
    x = np.random.default_rng(0).standard_normal((a.batch, 3, a.resolution, a.resolution), dtype=np.float32)
    runner = openvino_runner if a.engine == "openvino" else onnxruntime_runner
    run, fields, in_flight = runner(a, path, x)
    run(2 * in_flight)  # warm-up: first-call allocations and kernel selection (per request) stay out of the timing
    steps = max(1, a.images // a.batch)
    t0, c0 = time.perf_counter(), time.process_time()
    run(steps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = steps * a.batch
    gflop = meta["gflop_per_image"]
    return {
        "engine": a.engine, **fields, "resolution": a.resolution, "images": n, "batch": a.batch, "threads": a.threads,
        "images_per_second": n / dt, "ms_per_image": 1000 * dt / n, "cpu_seconds": cpu,
        "cpu_normalised_images_per_second": n * a.threads / cpu, "gflop_per_image": gflop,
        "gflops_per_second": gflop * n / dt, "onnx_opset": meta["opset"],
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def summary(r):
    """The human-readable line (without --json)."""
    extra = f", hint {r['ov_hint']}, {r['ov_streams']} streams" if "ov_hint" in r else ""
    return (f"{r['engine']} {r['engine_version']} {r['resolution']}x{r['resolution']} {r['precision']}: "
            f"{r['images_per_second']:.2f} images/s, {r['ms_per_image']:.1f} ms/image, "
            f"{r['gflops_per_second']:.1f} GFLOP/s, {r['threads']} threads, batch {r['batch']}{extra}")


def main():
    a = parse_args()
    if a.export_to:
        export(a)
        return
    r = measure(a)
    print(json.dumps(r) if a.json else summary(r))


if __name__ == "__main__":
    main()
