#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/Package.swift, outside the main package) and runs each for a bounded time.
#
#   Fuzz/run.sh [seconds-per-target]      build, then fuzz every target (default 60 s each)
#   Fuzz/run.sh merge                     minimize (set cover of edges) the committed corpus + what the
#                                         runs grew into Fuzz/Corpus/
#   Fuzz/run.sh build                     build only
#
# Environment: FUZZ_TARGETS="FuzzJSONRPC FuzzWebSocket FuzzPeerFrame FuzzAMQPFrame" (subset/order), FUZZ_ARGS (extra
# libFuzzer flags, e.g. "-jobs=2 -workers=2"). Crashes, timeouts and the grown corpus go to fuzz-out/<target>/;
# the script exits 1 when any target found something. Reproduce one with: .build-fuzz/release/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS=${FUZZ_TARGETS:-"FuzzJSONRPC FuzzWebSocket FuzzPeerFrame FuzzAMQPFrame"}
SCRATCH=$ROOT/.build-fuzz
OUT=$ROOT/fuzz-out

build() {
    # -sanitize=fuzzer: coverage instrumentation of every Swift module, libFuzzer linked; address: ASan.
    # -parse-as-library: no module emits a main; SwiftPM aliases `main` to `<target>_main`, defined by each
    # target to call libFuzzer's driver.
    # -assert-config Debug: keep the standard library's debug preconditions (unsafe-buffer bounds checks)
    # in the optimized build, so an out-of-bounds index traps instead of reading garbage.
    # -use-ld=lld: gold fails on the ASan-instrumented objects (internal error in format_file_lineno).
    swift build --package-path Fuzz --scratch-path "$SCRATCH" -c release \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        -Xswiftc -assert-config -Xswiftc Debug -Xswiftc -use-ld=lld
}

merge() {
    for t in $TARGETS; do
        local merged=$OUT/$t/merged
        rm -rf "$merged" && mkdir -p "$merged" "$OUT/$t/corpus"
        "$SCRATCH/release/$t" -set_cover_merge=1 -use_counters=0 -detect_leaks=0 "$merged" "$ROOT/Fuzz/Corpus/$t" "$OUT/$t/corpus"
        # Keep the hand-made seeds under their names; take every other input from the minimized set.
        find "$ROOT/Fuzz/Corpus/$t" -type f ! -name 'seed-*' -delete
        for f in "$merged"/*; do
            [ -e "$f" ] || continue
            local sum; sum=$(sha1sum "$f" | cut -c1-40)
            if ! grep -qx "$sum" <(sha1sum "$ROOT/Fuzz/Corpus/$t"/seed-* | cut -c1-40); then cp "$f" "$ROOT/Fuzz/Corpus/$t/$sum"; fi
        done
        echo "$t: $(ls "$ROOT/Fuzz/Corpus/$t" | wc -l) corpus files"
    done
}

case "${1:-60}" in
    build) build; exit 0 ;;
    merge) merge; exit 0 ;;
esac
SECONDS_PER_TARGET=${1:-60}
build
status=0
for t in $TARGETS; do
    mkdir -p "$OUT/$t/corpus"
    echo "== $t: ${SECONDS_PER_TARGET}s"
    # The first corpus directory receives new inputs; the committed corpus is only read.
    rc=0
    # shellcheck disable=SC2086
    "$SCRATCH/release/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$OUT/$t/" ${FUZZ_ARGS:-} \
        "$OUT/$t/corpus" "$ROOT/Fuzz/Corpus/$t" >"$OUT/$t/log.txt" 2>&1 || rc=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|SUMMARY|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' "$OUT/$t/log.txt" || true
    if [ "$rc" != 0 ]; then
        echo "!! $t stopped with status $rc: see $OUT/$t/log.txt and the crash-*/timeout-*/oom-* file there"
        status=1
    fi
done
exit $status
