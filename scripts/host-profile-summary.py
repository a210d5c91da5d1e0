#!/usr/bin/env python3
"""Summarises collapsed host stacks (the Burn runner's `--host-profile FILE` output: `thread;outer;..;inner count`).

Prints, as shares of all samples: per thread; the heaviest functions counted inclusively (every
stack a function appears in) and by self time (innermost frame); and self time per crate (the
first path segment of the innermost Rust frame, or the library for C frames).

usage: host-profile-summary.py FILE [--top N]
"""
import argparse
import collections
import re
import sys


def read(path):
    stacks = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                sys.exit(f"{path}:{n}: expected 'frame;frame;.. count'")
            stacks.append((stack.split(";"), int(count)))
    return stacks


def crate(frame):
    # `<burn_fusion::stream::X as Y>::f` and `burn_fusion::stream::f` both name burn_fusion.
    m = re.match(r"<*(?:impl )?([A-Za-z_][A-Za-z0-9_]*)::", frame)
    return m.group(1) if m else frame


def summarise(stacks, top):
    total = sum(c for _, c in stacks)
    threads, inclusive, self_time, crates = (collections.Counter() for _ in range(4))
    for frames, count in stacks:
        threads[frames[0]] += count
        for f in set(frames[1:]):
            inclusive[f] += count
        self_time[frames[-1]] += count
        crates[crate(frames[-1])] += count
    out = [f"{total} samples"]
    for title, counter in (("threads", threads), ("inclusive", inclusive), ("self", self_time), ("self by crate", crates)):
        out.append(f"\n## {title}")
        for name, count in counter.most_common(top):
            out.append(f"{100 * count / total:6.1f} %  {name[:160]}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    print(summarise(read(a.file), a.top))


if __name__ == "__main__":
    main()
