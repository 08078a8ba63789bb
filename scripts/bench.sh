#!/usr/bin/env bash
# ferry side by side with the tools it replaces (issue 6). One run prints, for every figure, the median of
# ferry and of the reference tool measured in the same run, and ferry's ratio.
#
#   scripts/bench.sh                      local workloads: (c) 2×1 GiB model on a local hub: fetch + pack, and
#                                         install (peak extra disk), (d) 4 GiB bundle: verify, pack, (e) cold lock
#                                         against a local package index (scripts/bench_index.py), (g) kill -9 in
#                                         the middle of a 512 MiB download, then rerun: bytes fetched twice
#   FERRY_BENCH_LIVE=1 scripts/bench.sh   also (a) lock / bundle wheels and (b) install, through the package
#                                         index configured for pip (PIP_INDEX_URL, pip.conf, else pip's default)
#
# Knobs: FERRY_BASELINE (another ferry binary measured in the same run: "before → after" in ferry's column),
# BENCH_RESULTS (a folder to keep hyperfine's JSON and the RSS samples in), BENCH_RUNS (default 3, every row),
# BENCH_TMP (where the ~20 GiB of scratch data goes; default $TMPDIR),
# FERRY_BIN (a prebuilt ferry; default: cargo build --release), BENCH_ONLY="c d" (a subset of workloads).
# Needs the test venv (scripts/setup-test-env.sh: pip, uv, huggingface_hub) and hyperfine (installed here if
# missing). Everything generated lives in one temp dir that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-"a b c d e g"}
LIVE=${FERRY_BENCH_LIVE:-0}
PLATFORM=manylinux_2_28_x86_64
UV_PLATFORM=x86_64-manylinux_2_28
PYVER=3.10
REQS=$ROOT/scripts/bench-requirements.txt

log() { echo "bench: $*" >&2; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

# --- tools -------------------------------------------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
  log "installing hyperfine (Debian package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq hyperfine >/dev/null
fi
[ -x /usr/bin/time ] || { log "/usr/bin/time is missing (apt-get install time)"; exit 1; }
scripts/setup-test-env.sh
TOOLS=$ROOT/.venv-test
TPY=$TOOLS/bin/python
UV=$TOOLS/bin/uv
# The real interpreter behind python3 (not a version-manager shim), for fresh venvs.
HOSTPY=$(python3 -c 'import sys; print(sys.executable)')
if [ -n "${FERRY_BIN:-}" ]; then
  FERRY=$FERRY_BIN
else
  log "building ferry (release)"
  cargo build --release -q --bin ferry
  FERRY=$ROOT/target/release/ferry
fi

# --- scratch space -----------------------------------------------------------------------------------------
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/ferry-bench.XXXXXX")
HUB_PID=""
INDEX_PID=""
GHUB_PID=""
cleanup() {
  [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null || true
  [ -n "$GHUB_PID" ] && kill "$GHUB_PID" 2>/dev/null || true
  [ -n "$INDEX_PID" ] && kill "$INDEX_PID" 2>/dev/null || true
  if [ -n "${BENCH_RESULTS:-}" ] && [ -d "$T/res" ]; then mkdir -p "$BENCH_RESULTS" && cp "$T"/res/* "$BENCH_RESULTS"/ 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
need_gib=2; wants e && need_gib=$((need_gib + 1)); wants c && need_gib=$((need_gib + 8)); wants d && need_gib=$((need_gib + 14)); wants g && need_gib=$((need_gib + 2))
free_gib=$(df -P -BG "$T" | awk 'NR==2 {gsub("G","",$4); print $4}')
if [ "$free_gib" -lt "$need_gib" ]; then
  log "need about ${need_gib} GiB free under $T, have ${free_gib} GiB"; exit 1
fi
mkdir -p "$T/res"
"$FERRY" keygen -s "$T/k.key" -p "$T/k.pub" --unencrypted >/dev/null
# Quiet, reproducible reference tools.
export HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_XET=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export UV_NO_PROGRESS=1
# uv would otherwise download a CPython matching --python-version before resolving: not part of the work.
export UV_PYTHON_DOWNLOADS=never

# bench NAME PREPARE CMD: hyperfine's median of CMD over $RUNS runs (PREPARE before each), peak RSS of the runs.
bench() {
  local name=$1 prepare=$2 cmd=$3
  log "$name: $cmd"
  hyperfine --runs "$RUNS" --prepare "$prepare" --export-json "$T/res/$name.json" --style none \
    "/usr/bin/time -a -o $T/res/$name.rss -f %M $cmd" >"$T/res/$name.log" 2>&1 || {
    log "$name failed:"; tail -20 "$T/res/$name.log" >&2; echo "failed" >"$T/res/$name.failed"; }
}
# fbench NAME PREPARE CMD: bench a ferry CMD (starting with $FERRY), and with FERRY_BASELINE as NAME_before.
fbench() {
  bench "$1" "$2" "$3"
  if [ -n "${FERRY_BASELINE:-}" ]; then bench "$1_before" "$2" "${FERRY_BASELINE}${3#"$FERRY"}"; fi
}
median() { [ -f "$T/res/$1.json" ] && [ ! -f "$T/res/$1.failed" ] && python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['median'])" "$T/res/$1.json"; }
rss_mib() { [ -f "$T/res/$1.rss" ] && sort -n "$T/res/$1.rss" | tail -1 | awk '{printf "%.0f", $1/1024}'; }

ROWS=()
# row FIGURE FERRY_NAME REF_NAME REF_LABEL TARGET [RSS]
row() {
  local fig=$1 f=$2 r=$3 label=$4 target=$5 rss=${6:-}
  local fm rm ratio fr="" rr=""
  fm=$(median "$f" || true); rm=$(median "$r" || true)
  if [ -n "$fm" ] && [ -n "$rm" ]; then
    ratio=$(python3 -c "print(f'{$fm/$rm:.2f}×')")
  else
    ratio="n/a"
  fi
  if [ -n "$rss" ]; then fr=" / $(rss_mib "$f") MiB"; rr=" / $(rss_mib "$r") MiB"; fi
  ROWS+=("| $fig | $(before "$f" "$rss")$(secs "$fm")$fr | $label $(secs "$rm")$rr | **$ratio** | $target |")
}
note() { ROWS+=("| $1 | $2 | | | |"); }
# solo FIGURE NAME: a ferry-only figure (its median and peak RSS), no ratio.
solo() { local m; m=$(median "$2" || true); ROWS+=("| $1 | $(before "$2" rss)$(secs "$m") / $(rss_mib "$2") MiB | | | |"); }
# before NAME [rss]: "T s → " (with its peak RSS when asked) when a baseline ferry was measured too.
before() {
  [ -n "${FERRY_BASELINE:-}" ] || return 0
  local b; b=$(median "$1_before" || true)
  printf '%s' "$(secs "$b")"
  [ -n "${2:-}" ] && printf ' / %s MiB' "$(rss_mib "$1_before")"
  printf ' → '
}
secs() { if [ -n "$1" ]; then printf '%.2f s' "$1"; else echo failed; fi; }

# --- (a) live: lock and bundle the LoRA stack for another target ---------------------------------------------
if wants a && [ "$LIVE" = 1 ]; then
  IDX=${PIP_INDEX_URL:-$("$TPY" -m pip config get global.index-url 2>/dev/null || "$TPY" -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")}
  A=$T/a; mkdir -p "$A"
  TGT="--python-version $PYVER --platform $PLATFORM"
  fbench lock_ferry "rm -rf $A/fc" \
    "$FERRY lock -r $REQS $TGT --cache-dir $A/fc -o $A/ferry.lock --force"
  bench lock_uv "rm -rf $A/uvc" \
    "$UV pip compile -q $REQS --python-platform $UV_PLATFORM --python-version $PYVER --index-url $IDX --cache-dir $A/uvc -o $A/uv.txt"
  fbench lock_mac_ferry "rm -rf $A/fc" \
    "$FERRY lock -r $REQS --python-version $PYVER --platform macosx_14_0_arm64 --cache-dir $A/fc -o $A/mac.lock --force"
  bench lock_mac_uv "rm -rf $A/uvc" \
    "env MACOSX_DEPLOYMENT_TARGET=14.0 $UV pip compile -q $REQS --python-platform aarch64-apple-darwin --python-version $PYVER --index-url $IDX --cache-dir $A/uvc -o $A/uv-mac.txt"
  fbench wheels_ferry "rm -rf $A/fc $A/w.ferry.tar" \
    "$FERRY bundle -r $REQS $TGT --cache-dir $A/fc -s $T/k.key -o $A/w.ferry.tar --force"
  # pip takes a manylinux_2_28 platform literally; ferry and uv accept every older glibc too, so list them for pip.
  PIP_PLATFORMS="--platform $PLATFORM"
  for minor in $(seq 27 -1 5); do PIP_PLATFORMS="$PIP_PLATFORMS --platform manylinux_2_${minor}_x86_64"; done
  PIP_PLATFORMS="$PIP_PLATFORMS --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64"
  bench wheels_pip "rm -rf $A/pipc $A/dl" \
    "$TPY -m pip download -q --only-binary=:all: $PIP_PLATFORMS --python-version $PYVER -r $REQS --cache-dir $A/pipc -d $A/dl"
  n=$(ls "$A/dl" 2>/dev/null | wc -l); mb=$(du -sm "$A/dl" 2>/dev/null | cut -f1)
  row "lock, cold (a: $n wheels)" lock_ferry lock_uv "uv pip compile" "≤ 0.5×"
  row "lock, cold, for macosx_14_0_arm64 (a)" lock_mac_ferry lock_mac_uv "uv pip compile" "≤ 0.5×"
  row "bundle wheels, cold (a: ${mb} MB)" wheels_ferry wheels_pip "pip download" "≤ 0.5×"
elif wants a; then
  note "lock / bundle wheels (a)" "skipped: live index rows need FERRY_BENCH_LIVE=1"
fi

# --- (b) live: install this host's wheels into a fresh venv ------------------------------------------------
if wants b && [ "$LIVE" = 1 ]; then
  B=$T/b; mkdir -p "$B/x"
  log "(b) bundling for this host"
  # --no-pip: the same wheels as uv and pip install (a bundle otherwise carries pip for the new venv too).
  "$FERRY" bundle -r "$REQS" --no-pip --cache-dir "$B/fc" -s "$T/k.key" -o "$B/host.ferry.tar" >/dev/null
  tar xf "$B/host.ferry.tar" -C "$B/x"
  W=$B/x/wheels
  # Each run starts after a sync: deleting the last run's ~12 k files and writing them back would otherwise
  # land in the next run's time.
  bench install_uv "rm -rf $B/v $B/uvc && $HOSTPY -m venv --without-pip $B/v && sync" \
    "$UV pip install -q --offline --no-index --find-links $W -r $REQS --python $B/v/bin/python --cache-dir $B/uvc"
  bench install_pip "rm -rf $B/v && $HOSTPY -m venv --without-pip $B/v && sync" \
    "$TPY -m pip --python $B/v/bin/python install -q --no-index --find-links $W -r $REQS --no-cache-dir"
  probe=$("$FERRY" install "$B/host.ferry.tar" -p "$T/k.pub" --venv "$B/probe-venv" --python "$HOSTPY" 2>&1 || true)
  if grep -q "not built yet" <<<"$probe"; then
    note "install, fresh venv (b: $(ls "$W" | wc -l) wheels)" "ferry: skipped, \`ferry install\` is not wired in this build"
    row "install, fresh venv (b)" install_pip install_uv "uv pip install (pip vs uv)" "≤ 1.0× uv"
  else
    fbench install_ferry "rm -rf $B/v && sync" \
      "$FERRY install $B/host.ferry.tar -p $T/k.pub --venv $B/v --python $HOSTPY"
    row "install, fresh venv, cold, verify included (b: $(ls "$W" | wc -l) wheels)" install_ferry install_uv "uv pip install" "≤ 0.7× uv"
    row "install, fresh venv, cold (b)" install_ferry install_pip "pip install" "—"
  fi
elif wants b; then
  note "install (b)" "skipped: live index rows need FERRY_BENCH_LIVE=1"
fi

# --- local hub for (c) and (d) -----------------------------------------------------------------------------
if wants c || wants d; then
  log "generating model files and starting the local hub"
  python3 scripts/bench_hub.py --data "$T/hub" \
    --repo "bench/two=part-1.safetensors:1024,part-2.safetensors:1024" \
    --repo "bench/four=part-1.safetensors:1024,part-2.safetensors:1024,part-3.safetensors:1024,part-4.safetensors:1024" \
    >"$T/hub.url" 2>"$T/hub.log" &
  HUB_PID=$!
  for _ in $(seq 600); do [ -s "$T/hub.url" ] && break; sleep 0.5; done
  HUB=$(cat "$T/hub.url")
  [ -n "$HUB" ] || { log "hub did not start"; cat "$T/hub.log" >&2; exit 1; }
  # Targets given explicitly: the model rows measure models, not the probe of this host's Python.
  MTGT="--python-version $PYVER --platform $PLATFORM --hf-endpoint $HUB"
fi

# --- (c) model fetch: 2 × 1 GiB ----------------------------------------------------------------------------
if wants c; then
  C=$T/c; mkdir -p "$C"
  # Rows that write GiBs start after a sync, so no run pays for the previous run's writeback.
  fbench model_ferry "rm -rf $C/fc $C/m.ferry.tar && sync" \
    "$FERRY bundle --model bench/two $MTGT --cache-dir $C/fc -s $T/k.key -o $C/m.ferry.tar --force"
  "$FERRY" lock --model bench/two $MTGT -o "$C/two.lock" --force >/dev/null 2>&1
  fbench model_ferry_pack "rm -f $C/m.ferry.tar && sync" \
    "$FERRY bundle --locked $C/two.lock --cache-dir $C/fc -s $T/k.key -o $C/m.ferry.tar --force"
  bench model_hf "rm -rf $C/hf && sync" \
    "env HF_ENDPOINT=$HUB $TPY -c \"from huggingface_hub import snapshot_download; snapshot_download('bench/two', cache_dir='$C/hf')\""
  row "model fetch → signed bundle, cold (c: 2×1 GiB)" model_ferry model_hf "snapshot_download" "≤ 0.6×, ≤ 100 MiB" rss
  solo "  of which packing the tar (same bundle from a warm cache)" model_ferry_pack
  # Installing that bundle (verify, then the models into an HF cache): the peak of extra disk used while it
  # runs (the bundle itself excluded) against the 2 GiB of models, and `tar xf` of the same bundle for scale.
  log "(c) install of the model bundle, peak extra disk"
  for _ in $(seq "$RUNS"); do
    rm -rf "$C/v" "$C/hfh" "$C/x"; sync
    python3 scripts/bench_peakdisk.py "$C/peak_ferry" "$C" -- \
      "$FERRY" install "$C/m.ferry.tar" -p "$T/k.pub" --venv "$C/v" --python "$HOSTPY" --hf-home "$C/hfh" >/dev/null 2>&1 \
      || log "ferry install of the model bundle failed"
    rm -rf "$C/v" "$C/hfh"; mkdir -p "$C/x"; sync
    python3 scripts/bench_peakdisk.py "$C/peak_tar" "$C" -- tar xf "$C/m.ferry.tar" -C "$C/x"
    rm -rf "$C/x"
  done
  ROWS+=("$(python3 - "$C/peak_ferry" "$C/peak_tar" <<'PY'
import statistics, sys
def load(p):
    try:
        rows = [tuple(map(float, l.split())) for l in open(p) if l.strip()]
    except FileNotFoundError:
        return None
    return (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)) if rows else None
model = 2 << 30
f, t = load(sys.argv[1]), load(sys.argv[2])
fs = f"{f[0] / model:.2f}× model size ({f[0] / 2**30:.2f} GiB), {f[1]:.2f} s" if f else "failed"
ts = f"{t[0] / model:.2f}× ({t[1]:.2f} s)" if t else "failed"
ratio = f"**{f[0] / model:.2f}×** of the models" if f else "n/a"
print(f"| install of that bundle, peak extra disk (c: 2 GiB of models; verify + HF cache) | {fs} | tar xf {ts} | {ratio} | ≤ 1.1× model size |")
PY
)")
  rm -rf "$C"
fi

# --- (d) 4 GiB bundle: verify and pack ---------------------------------------------------------------------
if wants d; then
  D=$T/d; mkdir -p "$D"
  log "(d) making the 4 GiB bundle"
  "$FERRY" lock --model bench/four $MTGT -o "$D/four.lock" --force >/dev/null 2>&1
  "$FERRY" bundle --locked "$D/four.lock" --cache-dir "$D/fc" -s "$T/k.key" -o "$D/four.ferry.tar" >/dev/null 2>&1
  BLOBS=$(dirname "$(find "$D/fc" -type f -size +100M | head -1)")
  fbench verify_ferry "true" "$FERRY verify $D/four.ferry.tar -p $T/k.pub"
  bench verify_sha256sum "true" "sha256sum $BLOBS/*"
  fbench pack_ferry "rm -f $D/p.ferry.tar && sync" \
    "$FERRY bundle --locked $D/four.lock --cache-dir $D/fc -s $T/k.key -o $D/p.ferry.tar --force"
  # ferry fsyncs the bundle before it renames it into place; tar does not, so its row ends with a sync.
  bench pack_tar "rm -f $D/p.tar && sync" "sh -c 'tar cf $D/p.tar -C $BLOBS . && sync'"
  row "verify (d: 4 GiB, page cache warm)" verify_ferry verify_sha256sum "sha256sum" "≤ 0.7×"
  row "pack (d: 4 GiB, warm cache)" pack_ferry pack_tar "tar cf + sync" "≤ 1.1×, ≤ 64 MiB" rss
  rm -rf "$D"
fi

# --- (e) cold lock against a local index ---------------------------------------------------------------
# 120 generated projects (native ones with wheels for six platforms and three Pythons, pure wheels, sdist-only
# packages with static PEP 643 metadata), PEP 658 metadata for every wheel, served by Python's http.server.
if wants e; then
  E=$T/e; mkdir -p "$E"
  python3 scripts/bench_index.py --data "$E/index" --requirements "$E/req.txt" \
    --extra-wheels "$TOOLS/wheels" >"$E/index.url" 2>"$E/index.log" &
  INDEX_PID=$!
  for _ in $(seq 600); do [ -s "$E/index.url" ] && break; sleep 0.5; done
  EIDX=$(cat "$E/index.url")
  [ -n "$EIDX" ] || { log "local index did not start"; cat "$E/index.log" >&2; exit 1; }
  fbench elock_ferry "rm -rf $E/fc" \
    "$FERRY lock -r $E/req.txt --python-version $PYVER --platform $PLATFORM --index-url $EIDX --cache-dir $E/fc -o $E/ferry.lock --force"
  bench elock_uv "rm -rf $E/uvc" \
    "$UV pip compile -q $E/req.txt --python-platform $UV_PLATFORM --python-version $PYVER --index-url $EIDX --cache-dir $E/uvc -o $E/uv.txt"
  fbench elock_mac_ferry "rm -rf $E/fc" \
    "$FERRY lock -r $E/req.txt --python-version $PYVER --platform macosx_14_0_arm64 --index-url $EIDX --cache-dir $E/fc -o $E/mac.lock --force"
  bench elock_mac_uv "rm -rf $E/uvc" \
    "env MACOSX_DEPLOYMENT_TARGET=14.0 $UV pip compile -q $E/req.txt --python-platform aarch64-apple-darwin --python-version $PYVER --index-url $EIDX --cache-dir $E/uvc -o $E/uv-mac.txt"
  n=$(grep -c '==' "$E/uv.txt" 2>/dev/null || echo "?")
  row "lock, cold, local index (e: $n packages)" elock_ferry elock_uv "uv pip compile" "≤ 0.5×"
  row "lock, cold, local index, macosx_14_0_arm64 (e)" elock_mac_ferry elock_mac_uv "uv pip compile" "≤ 0.5×"
  kill "$INDEX_PID" 2>/dev/null || true; INDEX_PID=""
fi

# --- (g) kill -9 in the middle of a download, then rerun ----------------------------------------------------
# A second local hub paces every body to 128 MiB/s and counts the file bytes it writes (GET /_sent). Each tool
# is killed with SIGKILL once the hub has sent 256 MiB of a 512 MiB file, then run again to the end; the
# figure is the bytes sent twice, as a share of the bytes sent before the kill.
if wants g; then
  G=$T/g; mkdir -p "$G"
  python3 scripts/bench_hub.py --data "$T/hub" --rate 128 --repo "bench/half=model.safetensors:512" \
    >"$G/hub.url" 2>"$G/hub.log" &
  GHUB_PID=$!
  for _ in $(seq 600); do [ -s "$G/hub.url" ] && break; sleep 0.5; done
  GHUB=$(cat "$G/hub.url")
  [ -n "$GHUB" ] || { log "paced hub did not start"; cat "$G/hub.log" >&2; exit 1; }
  sent() { curl -s "$GHUB/_sent" | python3 -c "import json,sys; print(json.load(sys.stdin)['bytes'])"; }
  # killrun NAME PREPARE CMD: appends "first_run_bytes refetched_bytes" to $G/NAME.
  killrun() {
    local name=$1 prepare=$2 cmd=$3 s0 s1 s2 pid
    for _ in $(seq "$RUNS"); do
      eval "$prepare"
      s0=$(sent)
      bash -c "exec $cmd" >/dev/null 2>&1 &
      pid=$!
      for _ in $(seq 3000); do [ $(( $(sent) - s0 )) -ge $((256 << 20)) ] && break; sleep 0.01; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      sleep 0.5
      s1=$(sent)
      bash -c "$cmd" >/dev/null 2>&1 || log "$name: the rerun failed"
      s2=$(sent)
      echo "$((s1 - s0)) $((s2 - s0 - (512 << 20)))" >>"$G/$name"
    done
  }
  log "(g) kill -9 mid-download: ferry"
  killrun kill_ferry "rm -rf $G/fc $G/h.ferry.tar" \
    "$FERRY bundle --model bench/half --python-version $PYVER --platform $PLATFORM --hf-endpoint $GHUB --cache-dir $G/fc -s $T/k.key -o $G/h.ferry.tar --force"
  log "(g) kill -9 mid-download: huggingface_hub"
  killrun kill_hf "rm -rf $G/hf" \
    "env HF_ENDPOINT=$GHUB $TPY -c \"from huggingface_hub import snapshot_download; snapshot_download('bench/half', cache_dir='$G/hf')\""
  ROWS+=("$(python3 - "$G/kill_ferry" "$G/kill_hf" <<'PY'
import statistics, sys
def share(p):
    try:
        rows = [tuple(map(int, l.split())) for l in open(p) if l.strip()]
    except FileNotFoundError:
        return None, ""
    shares = [r[1] / r[0] for r in rows if r[0] > 0]
    if not shares:
        return None, ""
    m = statistics.median(shares)
    return m, f"{m * 100:.1f} % ({statistics.median(r[1] for r in rows) / 2**20:.1f} MiB of {statistics.median(r[0] for r in rows) / 2**20:.0f} MiB)"
f, fs = share(sys.argv[1]); h, hs = share(sys.argv[2])
print(f"| kill -9 mid-download, rerun: bytes fetched twice (g: 512 MiB file) | {fs or 'failed'} | snapshot_download {hs or 'failed'} | **{(f * 100 if f is not None else float('nan')):.1f} %** | < 5 % |")
PY
)")
  kill "$GHUB_PID" 2>/dev/null || true; GHUB_PID=""
  rm -rf "$G"
fi

# --- report ------------------------------------------------------------------------------------------------
echo
echo "ferry $("$FERRY" --version 2>/dev/null | awk '{print $2}') ($(git rev-parse --short HEAD)), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), medians of $RUNS runs"
echo
echo "| figure | ferry (time / peak RSS${FERRY_BASELINE:+; before → after}) | reference, same run | ratio | target |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
