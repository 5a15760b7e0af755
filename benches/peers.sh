#!/usr/bin/env bash
# Time careshift against PySD and Simlin (pysimlin) on the same XMILE files, each in-process
# (load not timed): teacup and SIR from ../shared/test-models, and the care model exported to
# XMILE with `careshift export`. Prints each engine's median time per run and the ratios.
# Not run by CI (it installs Python packages). Usage: benches/peers.sh [RUNS]
#
# careshift: `careshift bench FILE --runs RUNS` (median of RUNS single runs after a warm-up).
# Simlin: sim.reset() + sim.run_to_end(); PySD: model.run() (benches/peers.py).
# The machine should be otherwise idle; the script prints the load average it ran under.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
venv="${PEERS_VENV:-target/peers-venv}"
models="${CARESHIFT_TEST_MODELS:-../shared/test-models}"
work="target/peers"
mkdir -p "$work"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
for package in pysd pysimlin; do
    if ! "$venv/bin/pip" show -q "$package" >/dev/null 2>&1; then
        "$venv/bin/pip" install -q "$package" ||
            echo "note: could not install $package from PyPI; its column will be empty" >&2
    fi
done
cargo build --release --quiet
careshift=target/release/careshift
"$careshift" export models/care_system.toml --xmile "$work/care_system.xmile" 2>/dev/null
"$careshift" export models/care_system.toml --xmile "$work/care_system_pysd.xmile" --for pysd 2>/dev/null

files=(
    "$models/samples/teacup/teacup.xmile"
    "$models/samples/SIR/SIR.xmile"
    "$work/care_system.xmile"
)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/results.jsonl"
for f in "${files[@]}"; do
    if out=$("$careshift" bench "$f" --runs "$runs" 2>/dev/null | tail -n 1); then
        echo "{\"engine\": \"careshift\", \"file\": \"$f\", \"result\": $out}" >>"$work/results.jsonl"
    else
        echo "{\"engine\": \"careshift\", \"file\": \"$f\", \"error\": \"careshift bench failed\"}" >>"$work/results.jsonl"
    fi
done
# PySD reads the care model from its own export flavour (`--for pysd`).
"$venv/bin/python" benches/peers.py "${files[@]:0:2}" \
    "$work/care_system.xmile=$work/care_system_pysd.xmile" >>"$work/results.jsonl"

"$venv/bin/python" - "$work/results.jsonl" <<'PY'
import json, os, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
files = list(dict.fromkeys(r["file"] for r in rows))
median, errors = {}, {}
for r in rows:
    key = (r["engine"], r["file"])
    if "error" in r:
        errors[key] = r["error"]
    else:
        median[key] = r["result"]["median_run_s"] if "result" in r else r["median_run_s"]
print(f"{'model':<22} {'careshift':>12} {'simlin':>12} {'pysd':>12} {'simlin/cs':>10} {'pysd/cs':>10}")
for f in files:
    cs = median.get(("careshift", f))
    cells, ratios = [], []
    for engine in ("careshift", "simlin", "pysd"):
        v = median.get((engine, f))
        cells.append(f"{v * 1e6:10.1f}us" if v else f"{'n/a':>12}")
    for engine in ("simlin", "pysd"):
        v = median.get((engine, f))
        ratios.append(f"{v / cs:9.1f}x" if v and cs else f"{'n/a':>10}")
    print(f"{os.path.basename(f):<22} {' '.join(cells)} {' '.join(ratios)}")
for (engine, f), e in errors.items():
    print(f"note: {engine} on {os.path.basename(f)}: {e}")
PY
