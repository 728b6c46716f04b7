#!/usr/bin/env bash
# Runs the network-fault tests RUNS times (default 5) and prints each run's timings (the tests' `netfault:`
# lines) and the medians: cut-off detection, rejoin after heal, client release after its link is cut.
# Needs root and a test build (swift build --build-tests). Usage: scripts/netfault/measure.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
out=$(mktemp)
for i in $(seq 1 "$runs"); do
  swift test --skip-build --filter NetworkFaultTests 2>&1 | grep -E '^netfault:|✘ Test|^↳ [^/]' | sed "s/^/run $i: /" | tee -a "$out" || true
done
python3 - "$out" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
def median(pattern):
    values = [float(v) for v in re.findall(pattern, text)]
    return f"{statistics.median(values):.2f} s (n={len(values)}, {min(values):.2f}-{max(values):.2f})" if values else "none"
print("median cut-off node declared dead:", median(r"declared dead after ([0-9.]+) seconds"))
print("median rejoin after heal:          ", median(r"rejoined ([0-9.]+) seconds after heal"))
print("median cut client released:        ", median(r"released after ([0-9.]+) seconds"))
print("median slowest emit answer (lossy):", median(r"slowest answer ([0-9.]+) seconds"))
print("failures:", text.count("✘ Test"))
PY
rm -f "$out"
