"""How long loading a pocket model takes, offline (target: under 2 s).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/pocket_load.py

Prints, per model, for a fresh process: the time to import torch, TransformerLens and
circuitwidgets (paid once per kernel by any TransformerLens user) and the time of the first
``load_pocket_model`` call after that; then a warm load in this process (median of 5).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COLD = (
    "import time; t0 = time.perf_counter(); import torch, transformer_lens, circuitwidgets as cw; "
    "t1 = time.perf_counter(); m = cw.load_pocket_model({name!r}); t2 = time.perf_counter(); "
    "print(t1 - t0, t2 - t1)"
)


def main() -> None:
    import circuitwidgets as cw
    from circuitwidgets.model import transformer_lens_version

    print(f"TransformerLens {'.'.join(map(str, transformer_lens_version()))}")
    for name in cw.pocket_models():
        out = subprocess.run([sys.executable, "-c", COLD.format(name=name)], capture_output=True,
                             text=True, check=True).stdout.split()
        imports, first = float(out[-2]), float(out[-1])
        cw.load_pocket_model(name)
        warm = []
        for _ in range(5):
            t = time.perf_counter()
            cw.load_pocket_model(name)
            warm.append(time.perf_counter() - t)
        print(f"{name:14s} imports {imports:.2f} s   first load {first:.2f} s   "
              f"warm load {statistics.median(warm):.3f} s")


if __name__ == "__main__":
    main()
