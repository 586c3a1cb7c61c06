#!/usr/bin/env bash
# The GPU check on a node without network, from the checkout and a wheelhouse built beforehand
# (python tools/wheelhouse.py WHEELHOUSE --python-version X.Y, where the package index is reachable):
#
#   benchmarks/gpu_check.sh WHEELHOUSE [OUT]      # OUT: where benchmarks_gpu.md/.json go (default: reports)
#
# ablate is installed as the wheel (its configs ship inside it), offline, beside what the node has;
# the check then runs outside the checkout, so it imports the installed ablate and only benchmarks/
# from here. PYTHON picks the interpreter (default python3). Every stage is capped (benchmarks/gpu.py).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
wheelhouse=$(cd "$1" && pwd)
out=$(mkdir -p "${2:-$repo/reports}" && cd "${2:-$repo/reports}" && pwd)
python=${PYTHON:-python3}
tic=$(date +%s)
"$python" -m pip install -q --no-index --find-links "$wheelhouse" ablate
# this wheelhouse's ablate even where an earlier one is installed (same version number, other code)
"$python" -m pip install -q --no-index --find-links "$wheelhouse" --force-reinstall --no-deps ablate
echo "installed from $wheelhouse in $(( $(date +%s) - tic )) s"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$repo/benchmarks" "$work/benchmarks"
cd "$work" && PYTHONPATH="$work" "$python" -m benchmarks.gpu --out "$out"
