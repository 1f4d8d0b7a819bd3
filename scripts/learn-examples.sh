#!/usr/bin/env bash
# Measures hardgen's seccomp policies on every example (stand-in images, as in the live
# suite), on each engine, and prints the per-service table of the README's "Least privilege,
# measured" section. As root, on the machine of the live suite (scripts/test.sh).
#
#   scripts/learn-examples.sh            learn + strict, every example, Engines 20.10 and 28
#   scripts/learn-examples.sh --table    only print the table of what was measured
#
# For each engine and example, under the live lock (/tmp/hardgen-live.lock) held for that one
# stack only, so that others can use the engine in between: Engine 28 is started for the
# stack and Engine 20.10 again before the lock is released (the shared engine's resting
# state), and the live tests of tests/live/measure.rs run:
#   learn   `hardgen learn` of every service (pinned files and learned.tsv kept),
#   strict  every service forced to `seccomp = "strict"`: started, healthy, health check
#           repeated as its exercise (strict.tsv).
# Results: $HARDGEN_MEASURE_OUT/<engine>/<example>/ (default /tmp/hardgen-measure), kept
# between runs; each run of a mode for an example replaces its results.
#
# Environment:
#   HARDGEN_MEASURE_ENGINES   engines, in order (default "20.10 28")
#   HARDGEN_MEASURE_EXAMPLES  examples (default: every examples/*.toml)
#   HARDGEN_MEASURE_MODES     "learn strict" (default), "learn" or "strict"
#   HARDGEN_MEASURE_OUT       where the results go
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH:/usr/sbin:/sbin"
export HARDGEN_TOOLS_DIR="$ROOT/.tools"
OUT=${HARDGEN_MEASURE_OUT:-/tmp/hardgen-measure}
export HARDGEN_MEASURE_OUT=$OUT
LOCK=/tmp/hardgen-live.lock

table() {
  python3 - "$OUT" <<'EOF'
import os, sys
out = sys.argv[1]
engines = sorted(e for e in os.listdir(out) if os.path.isdir(os.path.join(out, e)))
def rows(engine, example, name):
    p = os.path.join(out, engine, example, name)
    if not os.path.exists(p):
        return {}
    return {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(p) if l.strip()}
def cell(values):
    # One value when every engine agrees, else one per engine in the order of the header.
    return values[0] if len(set(values)) == 1 else " / ".join(values)
def learned_result(l):
    if not l:
        return "not measured"
    healthy, ok = l[3], l[4]
    return "ok, ok, ok" if ok == "true" and healthy == "true" else f"learn {ok}, healthy {healthy}"
def strict_result(st):
    if not st:
        return "not measured"
    started, healthy, exercise, _ = st
    ok = lambda b: "ok" if b == "true" else "FAIL"
    ex = "ok" if exercise == "pass" else exercise
    return f"{ok(started)}, {ok(healthy)}, {ex}"
examples = sorted({x for e in engines for x in os.listdir(os.path.join(out, e))})
on = " / ".join(engines)
print(f"| example | service | learned syscalls ({on}) | profile, share of Docker's default ({on}) "
      f"| under the learned profile: start, healthy, exercise ({on}) | under `strict` ({on}) |")
print("|---|---|---:|---:|---|---|")
sizes = {e: [] for e in engines}
for x in examples:
    services = sorted({s for e in engines for f in ("learned.tsv", "strict.tsv") for s in rows(e, x, f)})
    for s in services:
        ls = [rows(e, x, "learned.tsv").get(s) for e in engines]
        for e, l in zip(engines, ls):
            if l:
                sizes[e].append(int(l[1]))
        learned = cell([l[0] if l else "–" for l in ls])
        profile = cell([f"{l[1]} ({l[2]}%)" if l else "–" for l in ls])
        res = cell([learned_result(l) for l in ls])
        st = cell([strict_result(rows(e, x, "strict.tsv").get(s)) for e in engines])
        print(f"| {x} | {s} | {learned} | {profile} | {res} | {st} |")
print()
for e in engines:
    r = sorted(sizes[e])
    if r:
        n = len(r)
        med = r[n // 2] if n % 2 else (r[n // 2 - 1] + r[n // 2]) / 2
        print(f"Engine {e}: {n} services, profiles of {r[0]}–{r[-1]} syscalls "
              f"({r[0] * 100 / 361:.0f}–{r[-1] * 100 / 361:.0f}% of Docker's default), "
              f"median {med:g} ({med * 100 / 361:.0f}%).")
EOF
}

if [ "${1:-}" = --table ]; then
  table
  exit 0
fi

engines=${HARDGEN_MEASURE_ENGINES:-20.10 28}
examples=${HARDGEN_MEASURE_EXAMPLES:-$(for f in examples/*.toml; do basename "$f" .toml; done)}
tests=()
for m in ${HARDGEN_MEASURE_MODES:-learn strict}; do
  case $m in
    learn | strict) tests+=("measure::${m}_one_example") ;;
    *) echo "learn-examples.sh: unknown mode $m (learn, strict)" >&2; exit 2 ;;
  esac
done

# Compiled before the lock is taken.
cargo build --locked --quiet
cargo test --locked --test live --no-run --quiet

for engine in $engines; do
  for x in $examples; do
    echo "learn-examples.sh: $x on Engine $engine (${tests[*]})"
    # shellcheck disable=SC2016 # expanded by the inner shell
    flock "$LOCK" env ENGINE="$engine" X="$x" TESTS="${tests[*]}" bash -c '
      set -uo pipefail
      rc=0
      if [ "$ENGINE" != 20.10 ]; then
        HARDGEN_ENGINE=$ENGINE bash scripts/docker-engine.sh >/dev/null && bash scripts/test-images.sh >/dev/null || rc=1
      fi
      if [ "$rc" = 0 ]; then
        # shellcheck disable=SC2086 # the test names are words
        HARDGEN_LIVE=1 HARDGEN_ENGINE=$ENGINE HARDGEN_MEASURE_EXAMPLE=$X \
          cargo test --locked --test live -- --include-ignored --exact --test-threads 1 $TESTS || rc=1
      fi
      if [ "$ENGINE" != 20.10 ]; then
        HARDGEN_ENGINE=20.10 bash scripts/docker-engine.sh >/dev/null || rc=1
      fi
      exit "$rc"
    ' || echo "learn-examples.sh: $x on Engine $engine: FAILED (see above)" >&2
  done
done
table
