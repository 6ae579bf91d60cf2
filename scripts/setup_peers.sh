#!/usr/bin/env bash
# Creates the Python environment for the peer benchmarks (PyTorch, OpenVINO, ONNX Runtime) at .venv-peers in the
# project root. Nothing in build, test or demo needs it; only the bench_*.py scripts run with it.
#
#     scripts/setup_peers.sh                 # create or complete .venv-peers, print the versions
#     PYTHON=python3.11 scripts/setup_peers.sh
#     TORCH_SPEC='torch==2.15.0' scripts/setup_peers.sh   # force a particular torch
#     .venv-peers/bin/python scripts/bench_peer_backbone.py --engine openvino --images 4
#
# Idempotent: a package already importable in the venv is not reinstalled; delete .venv-peers to start over.
#
# Which torch: PyPI's Linux x86_64 `torch` is the CUDA build (it pulls nvidia-* and triton wheels, several GiB, that a
# CPU benchmark never loads) and PyPI has no official CPU-only package. The CPU-only build (`+cpu` local version) is
# taken whenever pip can see one (a find-links directory or an extra index, e.g. PIP_FIND_LINKS=/opt/wheels on our
# machines); otherwise the CUDA build from PyPI is installed anyway: its CPU kernels are the same.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-peers"
python="${PYTHON:-python3}"
# onnxscript: torch.onnx.export's default (dynamo) exporter needs it besides onnx.
packages=(torch openvino onnxruntime onnx onnxscript safetensors numpy)

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"

# Prints the newest `+cpu` torch version pip can see, or nothing.
cpu_torch_version() {
    "$py" -m pip index versions torch 2>/dev/null | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' \
        | grep '+cpu$' | head -n 1 || true
}

installed() { "$py" -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' "$1" 2>/dev/null; }

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "all peers already installed in $venv"
else
    specs=()
    for p in "${missing[@]}"; do
        if [ "$p" = torch ]; then
            if [ -n "${TORCH_SPEC:-}" ]; then
                specs+=("$TORCH_SPEC")
            elif v="$(cpu_torch_version)" && [ -n "$v" ]; then
                specs+=("torch==$v")
            else
                echo "note: no CPU-only torch visible to pip; installing PyPI's torch (CUDA build, several GiB)" >&2
                specs+=(torch)
            fi
        else
            specs+=("$p")
        fi
    done
    echo "installing: ${specs[*]}"
    # One resolver run, so a later package cannot replace the chosen torch with another build.
    "$py" -m pip install --quiet "${specs[@]}"
fi

"$py" - "${packages[@]}" <<'EOF'
import importlib.metadata as m, sys
for p in sys.argv[1:]:
    print(f"{p} {m.version(p)}")
import torch
print("torch build:", "CPU-only" if torch.version.cuda is None else f"CUDA {torch.version.cuda} (runs on CPU here)")
EOF
