#!/usr/bin/env bash
# Fuzz ferry's parsers of untrusted input for a bounded time each (cargo-fuzz / libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 30 s for every target in fuzz/Cargo.toml
#
# Seeds are read from fuzz/seeds/<target>/ (checked in, never written); new corpus entries go to
# fuzz/corpus/<target>/ and crash reproducers to fuzz/artifacts/<target>/ (both ignored by git).
# Reproduce a crash: RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a <target> fuzz/artifacts/<target>/crash-…
#
# Exit status: 0 when no target crashed, 1 when one did (its log and reproducer are named), 2 on setup failure.
# Not part of .ci/run: it needs a few minutes of CPU.
set -uo pipefail

seconds=${1:-30}
shift || true
cd "$(dirname "$0")/.."

# cargo-fuzz passes unstable rustc flags (-Z...). The project has one stable toolchain; RUSTC_BOOTSTRAP lets it
# accept them. No sanitizer by default: ferry has no unsafe code of its own, so what we hunt is panics, overflow
# (debug assertions are on), hangs and memory blow-ups; FUZZ_SANITIZER=address works too, at twice the build time.
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-none}
flags=(-s "$sanitizer" -a)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "fuzz.sh: building ${#targets[@]} target(s)" >&2
mkdir -p fuzz/artifacts
one=()
[ ${#targets[@]} -eq 1 ] && one=("${targets[0]}")
cargo fuzz build "${flags[@]}" "${one[@]}" 2>fuzz/artifacts/build.log || {
    tail -30 fuzz/artifacts/build.log >&2
    exit 2
}

# The targets write their inputs to files under TMPDIR: keep those in one folder, emptied at the end.
scratch=$PWD/fuzz/target/scratch
rm -rf "$scratch" && mkdir -p "$scratch"
export TMPDIR=$scratch

failed=()
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    seeds=fuzz/seeds/$target
    log=fuzz/artifacts/$target.log
    mkdir -p "$corpus" "$seeds" fuzz/artifacts/"$target"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up is a crash too.
    if cargo fuzz run "${flags[@]}" "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        execs=$(grep -a -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
        echo "ok    $target: ${seconds}s, ${execs:-?} runs" >&2
    else
        echo "CRASH $target: see $log" >&2
        grep -a -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -5 >&2
        failed+=("$target")
    fi
done

rm -rf "$scratch"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, no crash" >&2
