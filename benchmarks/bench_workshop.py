"""How long each workshop part takes to run top to bottom offline (target: under 15 s each), and
its optional GPT-2 cell (target: well under 1 s to say GPT-2 is not available).

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_workshop.py

"Offline" as a workshop laptop is (the same as tests/test_examples.py): no ``HF_HUB_OFFLINE``,
and a Hugging Face Hub that does not answer -- ``HF_ENDPOINT`` points at a closed local port and
``HF_HOME`` at an empty folder, so nothing is downloaded even where there is a network. Each part
runs in a fresh kernel of this interpreter (nbclient, as ``jupyter nbconvert --execute`` does);
the baseline, in the same run, is a one-cell notebook that imports circuitwidgets (a kernel's
start and the imports every part pays). Times are wall clock, median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import QUICK, machine  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GPT2_CELL_START = "# Optional: GPT-2 small"


def _offline_env(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed once the socket is: connections are refused
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(name, None)
    os.environ.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(home / "hf-home"))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLES.parent), os.environ.get("PYTHONPATH")]))


def run(nb, kernels: Path) -> float:
    """Run ``nb`` in a fresh kernel of this interpreter: wall seconds."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    km = KernelManager(kernel_name="cw-bench", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    client = NotebookClient(nb, km=km, timeout=120, record_timing=True,
                            resources={"metadata": {"path": str(EXAMPLES)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def cell_seconds(cell) -> float:
    timing = cell.metadata["execution"]
    started, done = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                     for k in ("iopub.execute_input", "shell.execute_reply"))
    return (done - started).total_seconds()


def main() -> None:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1 if QUICK else 3, help="runs per notebook (median time)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _offline_env(home)
        spec = home / "kernels" / "cw-bench"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "cw-bench", "language": "python"}))
        baseline = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import circuitwidgets as cw")])
        rows = [("baseline: a kernel that imports circuitwidgets", [run(baseline, home / "kernels")
                                                                   for _ in range(args.repeats)], [])]
        for path in sorted(EXAMPLES.glob("workshop_*.ipynb")):
            totals, probes = [], []
            for _ in range(args.repeats):
                nb = nbformat.read(path, as_version=4)
                totals.append(run(nb, home / "kernels"))
                probes += [cell_seconds(c) for c in nb.cells if c.cell_type == "code"
                           and c.source.startswith(GPT2_CELL_START)]
            rows.append((path.stem, totals, probes))
            print(f"  {path.stem}: {statistics.median(totals):.1f} s", flush=True)
    base = statistics.median(rows[0][1])
    print()
    print(machine())
    print("| notebook | run top to bottom (s) | / baseline | optional GPT-2 cell (s) |")
    print("|---|---|---|---|")
    for name, totals, probes in rows:
        probe = f"{statistics.median(probes):.3f}" if probes else ""
        print(f"| {name} | {statistics.median(totals):.1f} | {statistics.median(totals) / base:.1f}x | {probe} |")


if __name__ == "__main__":
    main()
