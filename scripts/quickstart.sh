#!/usr/bin/env bash
# Set up (TransformerLens 4.x) and open the quickstart notebook in JupyterLab.
# Extra arguments go to `jupyter lab`, e.g. `scripts/quickstart.sh --no-browser --port 8899`.
# Unattended (a test, a remote box): `scripts/quickstart.sh --no-browser --ServerApp.ip=127.0.0.1
# --ServerApp.port=PORT --IdentityProvider.token=TOKEN`, then open
# http://127.0.0.1:PORT/lab/tree/quickstart.ipynb?token=TOKEN (it serves notebooks/, your copies
# of examples/). JupyterLab is this script's own process (exec), so stopping its process group
# stops the server and its kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh 4
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)   # JupyterLab refuses to start as root otherwise
# JupyterLab saves the notebooks it runs (autosave), outputs and all: it works on copies in
# notebooks/ (gitignored), so the tracked examples/ stay as committed and `git status` clean.
# A copy you already have is kept (your work); delete it to get the latest from examples/.
mkdir -p notebooks
for example in examples/*.ipynb; do
  [ -e "notebooks/${example#examples/}" ] || cp "$example" notebooks/
done
exec .venv-tl4/bin/jupyter lab "${root_flag[@]}" notebooks/quickstart.ipynb "$@"
