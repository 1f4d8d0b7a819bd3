#!/usr/bin/env bash
# Benchmark of hardgen (issues 7 and 19): build / build --check / check (validation) / diff
# against `cp -r` of the build's own output (the physical limit of writing it; the targets'
# ratios measured in interleaved rounds by bench/paired.py), `docker compose config -q` and
# compose-lint on hardgen's own compose file, at 10, 100, 1000 and 5000 services, plus peak
# memory and the bundled example. Everything runs on tmpfs (/dev/shm when there is one) to
# measure hardgen, not the disk. Writes BENCHMARKS.md.
#
# Usage: bench/run.sh [SIZES...]   (default: 10 100 1000 5000)
# Env:   BENCH_OUT (default: BENCHMARKS.md at the repo root), BENCH_KEEP=1 keeps the temp dir,
#        BENCH_NOTE: a sentence added to the report's noise line (what else ran, if anything),
#        BENCH_TMP (default: /dev/shm when it is a tmpfs, else $TMPDIR or /tmp),
#        BENCH_BASELINE: another hardgen binary (e.g. a release build of an older commit),
#        measured in the same hyperfine runs as this one for build, check and diff
#        (BENCH_BASELINE_LABEL names it in the report) at sizes up to BENCH_BASELINE_MAX
#        services (default 1000: an old binary can be slow at 5000),
#        BENCH_MEM_RUNS (default 5): runs of each hardgen command whose highest peak RSS is
#        reported (compose config: one run),
#        LINT_MAX_SECONDS (default 60): compose-lint is skipped at a size when one run of it
#        takes longer than this.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000 5000)
out_md=${BENCH_OUT:-$root/BENCHMARKS.md}
lint_max=${LINT_MAX_SECONDS:-60}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need hyperfine || [ ! -x /usr/bin/time ]; then
    apt-get install -y hyperfine time
fi
if [ ! -x .tools/bin/docker-compose ] || [ ! -x .tools/bin/compose-lint ]; then
    bash scripts/install-tools.sh
fi
compose=$root/.tools/bin/docker-compose
lint=$root/.tools/bin/compose-lint

cargo build --release --quiet
hg=$root/target/release/hardgen
base_bin=${BENCH_BASELINE:-}
if [ -n "$base_bin" ]; then
    base_bin=$(cd "$(dirname "$base_bin")" && pwd)/$(basename "$base_bin")
    [ -x "$base_bin" ] || { echo "bench: BENCH_BASELINE $base_bin is not executable" >&2; exit 2; }
fi

tmp_default=${TMPDIR:-/tmp}
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    tmp_default=/dev/shm
fi
bench_tmp=${BENCH_TMP:-$tmp_default}
work=$(mktemp -d "$bench_tmp/hardgen-bench.XXXXXX")
if [ "${BENCH_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$work"' EXIT
fi
echo "bench: working in $work" >&2
fs_type=$(stat -f -c %T "$work")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# runs per size: enough for stable means at small sizes, bounded at large ones (the tools of
# the field take seconds a run at 1,000 services)
runs_for() {
    if [ "$1" -le 100 ]; then echo 20; elif [ "$1" -le 1000 ]; then echo 5; else echo 3; fi
}
# hardgen's own commands and `cp -r` (at most half a second a run): more runs, since at 1,000
# services a build's σ of 5 runs was 6-10 ms of 100
hg_runs_for() {
    if [ "$1" -le 1000 ]; then echo 20; else echo 10; fi
}

# hyperfine NAME RUNS [hyperfine args...] -- writes $work/NAME.json
hf() {
    local name=$1 runs=$2
    shift 2
    # -N: no intermediate shell (its start-up would be subtracted from commands as fast as
    # `cp -r` of 10 services, down to 0)
    hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$work/$name.json" "$@" >&2
}

# peak RSS in KiB of a command: the highest of $mem_runs runs (a run's peak moves by a few MiB
# with the moments the two rendering threads free memory); with `--fresh DIR`, DIR is removed
# before each run (a fresh build each time)
mem_runs=${BENCH_MEM_RUNS:-5}
peak_kb() {
    local fresh='' max=0 kb
    if [ "$1" = --fresh ]; then
        fresh=$2
        shift 2
    fi
    for _ in $(seq "$mem_runs"); do
        [ -z "$fresh" ] || rm -rf "$fresh"
        /usr/bin/time -f %M -o "$work/time.out" "$@" >/dev/null 2>&1 || true
        kb=$(tail -n 1 "$work/time.out")
        [ "$kb" -le "$max" ] || max=$kb
    done
    echo "$max"
}

results=$work/results.tsv
: >"$results"
cmds_log=$work/commands.txt
: >"$cmds_log"
for n in "${sizes[@]}"; do
    spec=$work/spec$n.toml
    dir=$work/out$n
    fresh=$work/fresh$n
    python3 bench/gen_spec.py "$n" "$spec"
    "$hg" check "$spec" 2>/dev/null
    "$hg" build "$spec" --out "$dir" >/dev/null 2>&1
    yml=$dir/docker-compose.yml
    "$compose" -f "$yml" config -q
    runs=$(runs_for "$n")
    copy=$work/copy$n
    # one hyperfine run for the build and its `cp -r` (hyperfine runs all of one command's runs
    # before the next command's: the targets' ratios come from bench/paired.py below); with
    # BENCH_BASELINE, its figures come last in each run: results[1] or results[2]
    base=$base_bin
    [ "$n" -le "${BENCH_BASELINE_MAX:-1000}" ] || base=
    # the baseline's --check and diff run on its own up-to-date output (an older hardgen
    # writes other bytes: on this binary's output it would find drift and exit 1)
    bdir=$work/base$n
    if [ -n "$base" ]; then
        "$base" build "$spec" --out "$bdir" >/dev/null 2>&1
    fi
    hg_runs=$(hg_runs_for "$n")
    hf "build$n" "$hg_runs" --prepare "rm -rf $fresh $copy" \
        "$hg build $spec --out $fresh" "cp -r $dir $copy" \
        ${base:+"$base build $spec --out $fresh"}
    hf "buildcheck$n" "$hg_runs" "$hg build $spec --check --out $dir" \
        ${base:+"$base build $spec --check --out $bdir"}
    hf "check$n" "$hg_runs" "$hg check $spec" ${base:+"$base check $spec"}
    hf "diff$n" "$hg_runs" "$hg diff $spec --out $dir" ${base:+"$base diff $spec --out $bdir"}
    # the targets' ratios: every command once a round, in a rotating order (bench/paired.py)
    python3 bench/paired.py "$work/paired$n.json" "$hg_runs" --prepare "rm -rf $fresh $copy" \
        "build=$hg build $spec --out $fresh" "cp=cp -r $dir $copy" \
        "bcheck=$hg build $spec --check --out $dir" "check=$hg check $spec" \
        "diff=$hg diff $spec --out $dir"
    hf "config$n" "$runs" "$compose -f $yml config -q"
    # compose-lint: one probe run decides whether it is measured at this size
    start=$(date +%s.%N)
    "$lint" "$yml" >/dev/null 2>&1 || true
    lint_s=$(echo "$(date +%s.%N) - $start" | bc)
    lint_state=measured
    if [ "$(echo "$lint_s > $lint_max" | bc)" = 1 ]; then
        lint_state="skipped (one run took ${lint_s}s > ${lint_max}s)"
    else
        # compose-lint exits non-zero when it reports findings: -i keeps measuring
        hf "lint$n" "$runs" -i "$lint $yml"
    fi
    rm -rf "$fresh" "$copy"
    mem_build=$(peak_kb --fresh "$fresh" "$hg" build "$spec" --out "$fresh")
    mem_bcheck=$(peak_kb "$hg" build "$spec" --check --out "$dir")
    mem_check=$(peak_kb "$hg" check "$spec")
    mem_diff=$(peak_kb "$hg" diff "$spec" --out "$dir")
    mem_config=$(mem_runs=1 peak_kb "$compose" -f "$yml" config -q)
    base_mem=-
    if [ -n "$base" ]; then
        base_mem="$(peak_kb --fresh "$fresh" "$base" build "$spec" --out "$fresh"),$(peak_kb "$base" build "$spec" --check --out "$bdir"),$(peak_kb "$base" check "$spec"),$(peak_kb "$base" diff "$spec" --out "$bdir")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$runs" "$lint_state" \
        "$mem_build" "$mem_bcheck" "$mem_check" "$mem_config" "$(wc -c <"$yml")" \
        "$mem_diff" "$(find "$dir" -type f | wc -l)" "$(du -sb "$dir" | cut -f1)" \
        "$base_mem" >>"$results"
    {
        echo "$n services ($hg_runs runs of hardgen and cp -r, $runs of compose config and compose-lint; 1 warm-up each):"
        echo "  hyperfine --prepare 'rm -rf FRESH COPY' 'hardgen build spec$n.toml --out FRESH' 'cp -r OUT COPY'"
        echo "  hyperfine 'hardgen build spec$n.toml --check --out OUT'   # OUT up to date"
        echo "  hyperfine 'hardgen check spec$n.toml'"
        echo "  hyperfine 'hardgen diff spec$n.toml --out OUT'   # OUT up to date"
        echo "  bench/paired.py $hg_runs rounds of the five above, each once a round in a rotating order, 'rm -rf FRESH COPY' before each round"
        echo "  hyperfine '.tools/bin/docker-compose -f OUT/docker-compose.yml config -q'"
        echo "  hyperfine -i '.tools/bin/compose-lint OUT/docker-compose.yml'   # $lint_state"
    } >>"$cmds_log"
done

# the bundled example
ex=examples/arkalia.toml
base=$base_bin
hf example 30 --prepare "rm -rf $work/ex" "$hg build $ex --out $work/ex" \
    ${base:+"$base build $ex --out $work/ex"}
mem_example=$(peak_kb --fresh "$work/ex2" "$hg" build "$ex" --out "$work/ex2")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/report.py "$work" "$results" "$cmds_log" "$mem_example" \
    "$(nproc)" "$mem_total" "$cpu" "$("$compose" version --short)" \
    "$("$lint" --version 2>&1 | head -n 1)" "$(hyperfine --version)" \
    "$fs_type" "$load_start" "$load_end" "${base_bin:+${BENCH_BASELINE_LABEL:-$base_bin}}" >"$out_md"
cat "$out_md"
