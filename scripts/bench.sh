#!/usr/bin/env bash
# Run every reproduction command in BENCHMARKS.md, verbatim, with what the benchmarks need.
#
#   scripts/bench.sh           each command in full (minutes each; some start JupyterLab and
#                              Chromium): the numbers BENCHMARKS.md records
#   scripts/bench.sh --check   each command in quick mode (CW_BENCH_QUICK=1: a tiny model and
#                              short texts, see benchmarks/common.py) to show every one still
#                              runs; its numbers mean nothing
#
# The commands are the lines of BENCHMARKS.md's code blocks; they name .venv-tl4 and .venv-tl3,
# which scripts/setup.sh makes (run here first if either is missing). This script adds the
# `bench` extra (the GPT-2 tokenizer's files; CircuitsVis, for the comparisons, is in `test`) to both.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") ;;
  --check) export CW_BENCH_QUICK=1 ;;
  *) echo "usage: scripts/bench.sh [--check]" >&2; exit 2 ;;
esac

if [ ! -x .venv-tl4/bin/python ] || [ ! -x .venv-tl3/bin/python ]; then
  scripts/setup.sh 4 3 || exit 1
fi
for gen in 4 3; do
  ".venv-tl$gen/bin/python" -m pip install -q -e ".[test,bench]" || exit 1
done

mapfile -t commands < <(awk '/^```/ { block = !block; next } block && NF' BENCHMARKS.md)
status=0
failed=()
for command in "${commands[@]}"; do
  echo "== $command"
  if ! bash -c "$command"; then
    status=1
    failed+=("$command")
  fi
done
echo "== ${#commands[@]} commands, ${#failed[@]} failed"
for command in "${failed[@]}"; do echo "   failed: $command"; done
exit $status
