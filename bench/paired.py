#!/usr/bin/env python3
"""Times commands in interleaved rounds, for the ratios of bench/run.sh's targets.

hyperfine runs all the runs of one command before the next command's
(https://github.com/sharkdp/hyperfine/issues/483), so on a shared machine two commands of one
hyperfine run can meet different machine states, and their ratio moves with the machine, not
with the code. Here each round runs every command once, in an order that rotates from round
to round, and each round gives its own ratios: what drifts over seconds is in both sides of a
round's ratio. The ratio reported is the median of the rounds' ratios.

Usage: paired.py OUT.json RUNS [--prepare CMD] NAME=CMD [NAME=CMD ...]
Each CMD is split on spaces (no shell: its start-up is not measured) and run with stdout and
stderr discarded; a command that exits non-zero stops the measurement with its exit code. The
prepare command runs before every round, untimed. One untimed warm-up round comes first.
Writes {"runs": N, "commands": {NAME: [seconds, ...]}}, the times of round k at index k of
every list (a round's ratio of two commands is the ratio of their times at one index).
"""

import json
import os
import statistics
import subprocess
import sys
import time


def run(argv):
    """Wall time of one run, from spawning the command to reaping it."""
    start = time.perf_counter()
    code = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if code != 0:
        sys.exit(f"paired.py: `{' '.join(argv)}` exited with {code}")
    return elapsed


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    out, runs, args = args[0], int(args[1]), args[2:]
    prepare = None
    if args[0] == "--prepare":
        prepare, args = args[1].split(), args[2:]
    names, cmds = [], []
    for a in args:
        name, _, cmd = a.partition("=")
        if not cmd:
            sys.exit(f"paired.py: `{a}` is not NAME=CMD")
        names.append(name)
        cmds.append(cmd.split())
    times = {n: [] for n in names}
    for r in range(-1, runs):  # round -1 is the warm-up
        order = [(i + max(r, 0)) % len(names) for i in range(len(names))]
        if prepare:
            subprocess.check_call(prepare)
        got = {names[i]: run(cmds[i]) for i in order}
        if r >= 0:
            for n in names:
                times[n].append(got[n])
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"runs": runs, "commands": times}, fh)
    for n in names:
        print(f"{n}: median {statistics.median(times[n]) * 1000:.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
