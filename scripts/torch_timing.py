"""What the PyTorch benchmark scripts share (bench_torch_backbone.py, bench_torch_head.py, bench_torch_pspnet.py):
the --precision / --channels-last / --best options, the autocast context, the training-step timing loop (one warm-up
step, then the mean wall time of `steps` steps), the --best driver that runs each candidate config in its own
process, and the training benchmarks' main. The scripts print one JSON line that `extract bench` / `headtrain bench`
read."""
import argparse, json, os, resource, subprocess, sys, time

import torch


def add_precision_args(ap, best_help):
    """--precision, --channels-last / --no-channels-last (so a --best child can switch it off again), --best."""
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: torch.autocast(cpu, bfloat16) around the forward (and loss); parameters stay fp32")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False,
                    help="model and inputs in torch.channels_last memory format")
    ap.add_argument("--best", action="store_true", help=best_help)


def add_training_args(ap, batch, steps):
    """A training benchmark's --batch, --steps, --threads (default: every core) and precision options."""
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    add_precision_args(ap, "try channels-last off and on (each in its own process); report the fastest")


def autocast(precision):
    """The forward's autocast context: a no-op for fp32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def peak_memory_mib():
    """Peak resident memory of this process (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_rate(step, steps, batch, threads):
    """Times `steps` calls of step() after one warm-up call; the keys `headtrain bench` reads, plus peak memory."""
    step()  # warm-up: first-call allocations and kernel selection stay out of the timing
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    return {"impl": "torch", "samples_per_second": batch / dt, "seconds_per_step": dt, "threads": threads, "batch": batch,
            "peak_memory_mib": peak_memory_mib()}


def time_training(a, opt, loss):
    """The record of a.steps SGD steps (`opt`) on loss(), which runs under --precision's autocast (backward outside
    it, as PyTorch's AMP recipe says), with the run's precision and channels_last."""

    def step():
        opt.zero_grad()
        with autocast(a.precision):
            value = loss()
        value.backward()
        opt.step()

    r = step_rate(step, a.steps, a.batch, a.threads)
    r.update(precision=a.precision, channels_last=a.channels_last)
    return r


def training_main(script, parse_args, measure):
    """A training benchmark's main: prints measure(args)'s JSON record (--threads intra-op threads, torch seeded 0), or
    with --best the faster of channels-last off and on, each measured by `script` in its own process."""
    a = parse_args()
    if a.best:
        r = best_of(script, [["--no-channels-last"], ["--channels-last"]], "samples_per_second")
    else:
        torch.set_num_threads(a.threads)
        torch.manual_seed(0)
        r = measure(a)
    print(json.dumps(r))


def best_of(script, variants, rate_key, extra=()):
    """Runs `script` once per variant (its own arguments without --best, then `extra`, then the variant's, which win
    because argparse keeps the last value) and returns the fastest record by `rate_key`, with "best": true and
    "best_of" listing every variant's config and rate. Each variant gets a fresh process so that its warm-up,
    allocator state and peak memory are its own."""
    base = [a for a in sys.argv[1:] if a != "--best"] + list(extra)
    records = []
    for variant in variants:
        p = subprocess.run([sys.executable, script, *base, *variant], stdout=subprocess.PIPE, text=True)
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines:
            sys.exit(f"{script} {' '.join(variant)} failed (exit status {p.returncode})")
        records.append(json.loads(lines[-1]))
    best = max(records, key=lambda r: r[rate_key])
    config_keys = ("batch", "channels_last", "precision", rate_key)
    best["best"] = True
    best["best_of"] = [{k: r[k] for k in config_keys if k in r} for r in records]
    return best
