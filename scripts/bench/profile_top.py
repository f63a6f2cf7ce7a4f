#!/usr/bin/env python3
"""Top functions by self time from py-spy's `--format raw` output (collapsed stacks).

usage: profile_top.py PROFILE.txt [N=15]
A collapsed line is `frame;frame;...;leaf COUNT`, a frame `function (file.py:line)`. Self time goes to
the deepest Python frame (line numbers dropped, so a function is one row): C code it calls counts as
its own. With `py-spy --native`, a sample inside the cyclic garbage collector goes to one row of its
own, `<garbage collector>`, instead of the Python function whose allocation happened to trigger it.
Percentages are of all samples (with --gil: of the time the GIL was held). Also: self time per package.
"""
import re
import sys
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def package(path: str) -> str:
    p = short(path)
    if p.startswith("gateway/dataplane/"):
        return "gateway/dataplane/" + p.split("/")[2].removesuffix(".py")
    if p.startswith(("gateway/", "billing/")):
        return "/".join(p.split("/")[:2])
    top = p.split("/")[0].removesuffix(".py")
    return top or p


def main():
    path, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15
    self_t, incl, pkgs, total = Counter(), Counter(), Counter(), 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            c = int(count)
            total += c
            frames = []
            for fr in stack.split(";"):
                m = FRAME.match(fr)
                frames.append((m["func"], short(m["file"])) if m else (fr, ""))
            if frames and frames[0][1] == "" and frames[0][0].startswith(("process", "thread")):
                frames = frames[1:]  # py-spy's optional process/thread pseudo-frames
            if not frames:
                continue
            if any(f[0].startswith(("gc_collect", "collect_with_callback")) for f in frames):
                frames = [f for f in frames if f[1].endswith(".py")] + [("<garbage collector>", "")]
            else:  # native frames (with --native): self time goes to the deepest Python frame
                frames = [f for f in frames if f[1].endswith(".py")] or frames
            leaf = frames[-1]
            self_t[leaf] += c
            pkgs[package(leaf[1]) if leaf[1] else leaf[0]] += c
            for fr in set(frames):
                incl[fr] += c
    if not total:
        print("no samples")
        return
    print(f"{total} samples (threads on CPU; with --gil: the GIL holder)")
    print(f"{'self%':>6} {'total%':>6}  function (file)")
    for (func, file), c in self_t.most_common(n):
        print(f"{100 * c / total:6.1f} {100 * incl[(func, file)] / total:6.1f}  {func} ({file})")
    print("self time by package/module:")
    for name, c in pkgs.most_common(12):
        print(f"{100 * c / total:6.1f}  {name}")


if __name__ == "__main__":
    main()
