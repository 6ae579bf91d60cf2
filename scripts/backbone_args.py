"""The backbone benchmarks' shared command line (bench_torch_backbone.py, bench_peer_backbone.py): the network's shape,
the run's size and --json. It imports nothing beyond the standard library, so the peers' venv (which may lack torch)
reads the same options."""


def add_backbone_args(ap):
    """--hidden-sizes, --depths, --resolution, --threads, --images, --batch, --json."""
    ap.add_argument("--hidden-sizes", default="96,192,384,768")
    ap.add_argument("--depths", default="3,3,9,3")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--json", action="store_true")


def sizes(a):
    """--hidden-sizes and --depths as lists of ints."""
    return [int(v) for v in a.hidden_sizes.split(",")], [int(v) for v in a.depths.split(",")]
