"""The timing loop of the PyTorch benchmark scripts (bench_torch_head.py, bench_torch_pspnet.py): one warm-up step,
then the mean wall time of `steps` steps, printed as the one JSON line `headtrain bench` reads."""
import json, time


def print_step_rate(step, steps, batch, threads):
    step()  # warm-up: first-call allocations and kernel selection stay out of the timing
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    print(json.dumps({"impl": "torch", "samples_per_second": batch / dt, "seconds_per_step": dt, "threads": threads}))
