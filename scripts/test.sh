#!/usr/bin/env bash
# Set up from nothing and run every test: JavaScript (vitest, typecheck), then the Python
# suite (numbers, widgets, real-browser tests) once on TransformerLens 4.x and once on 3.x.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not browser"`.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh 4 3 || exit 1

status=0
echo "== JavaScript tests"
npm run --silent typecheck || status=1
npm test --silent || status=1
npm run --silent longest -- --max 150 >/dev/null || { echo "!! a JavaScript function is over 150 lines (npm run longest)"; status=1; }

for gen in 4 3; do
  echo "== Python tests on TransformerLens $gen.x"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=2 \
    ".venv-tl$gen/bin/python" -m pytest -p no:cacheprovider "$@"
  rc=$?
  [ $rc -eq 0 ] || status=1
done
exit $status
