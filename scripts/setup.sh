#!/usr/bin/env bash
# Set up everything circuitwidgets needs, from nothing, idempotently.
#
#   scripts/setup.sh [4|3]...   one virtualenv per TransformerLens generation:
#                               .venv-tl4 (TransformerLens 4.x) and .venv-tl3 (3.x)
#
# Installs Debian chromium and chromedriver (browser tests, figure export) when missing and run
# as root, the npm packages, builds the JavaScript, and installs torch==2.13.0 (CPU) before the
# package so pip never pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
generations=("${@:-4}")

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian chromium and chromedriver (browser tests, figure export)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-dejavu-core >/dev/null
  else
    echo "!! chromium/chromedriver missing; the browser tests and PNG/SVG export need them:" \
      "sudo apt-get install chromium chromium-driver" >&2
  fi
fi

echo "== npm packages and JavaScript build"
# `npm ci`: exactly the locked versions, and the tracked package-lock.json is never rewritten.
# (The lock lists every platform's optional packages, e.g. rollup's, so it fits any machine.)
npm ci --no-audit --no-fund --loglevel=error
npm run build

for gen in "${generations[@]}"; do
  case "$gen" in
    4) tl="transformer-lens>=4.0,<5" ;;
    3) tl="transformer-lens>=3.9,<4" ;;
    *) echo "unknown TransformerLens generation '$gen' (use 4 or 3)" >&2; exit 2 ;;
  esac
  venv=".venv-tl$gen"
  echo "== $venv ($tl)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "torch==2.13.0"
  "$venv/bin/python" -m pip install -q -e ".[test]" "$tl"
  # JupyterLab settings for this environment only (overrides.d: the user's own overrides.json
  # stays theirs): no "get notified about Jupyter news?" toast over the first outputs.
  overrides="$venv/share/jupyter/lab/settings/overrides.d"
  mkdir -p "$overrides"
  cp scripts/jupyterlab-overrides.json "$overrides/circuitwidgets.json"
  "$venv/bin/python" -c "import circuitwidgets, transformer_lens, importlib.metadata as m; \
print('   circuitwidgets', circuitwidgets.__version__, '| transformer-lens', m.version('transformer-lens'))"
done
