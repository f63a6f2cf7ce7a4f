#!/usr/bin/env python3
"""CPU/RSS accounting for bench runs, sampled from /proc (no forks), pinned to the load cpu.

usage: sampler.py --sut PID [--nginx PID]... [--infra PID]... [--db NAME] [--ours PID] [--interval 0.2]
Runs until SIGTERM/SIGINT, then prints one line per load process it saw (wrk or ttfb.py):

  RUN tool=wrk pid= url= conns= dur= secs= sut_cpu_s= sut_rss_start_mb= sut_rss_peak_mb= foreign_pct= infra_pct=
      ours_pct= sut_pct= irq_pct=

Why not the harness's own figures: load.sh's process-tree helper also lists every process that is the
parent of any process on the machine (an awk array reference creates the element), so on a shared
machine its cpu_ms_per_req and rss_* include unrelated processes (and its foreign% leaves them out).
Here trees are computed properly, and CPU is accumulated per pid between samples, so processes that
come and go are counted for the intervals they lived.

Categories (ticks, % of one core over the load process's lifetime):
  sut    the system under test and its descendants
  infra  --infra trees (the bench's Celery worker; redis-server when the bench uses it) + Postgres
         backends of --db (process title)
  ours   --ours's tree (the bench script: harness scripts, wrk, this sampler) and --nginx trees, minus sut/infra
  foreign = all busy CPU (/proc/stat: user, nice, system, steal) - sut - infra - ours
  irq    interrupt and softirq time (/proc/stat), apart: on loopback that is mostly the kernel
         moving the bench's own packets, charged to no process (seen 2026-11-27: foreign% 11-18 in
         every gateway run from it, so the bench reran each one as "disturbed")
"""
import argparse
import os
import signal
import time

ap = argparse.ArgumentParser()
ap.add_argument("--sut", type=int, required=True)
ap.add_argument("--nginx", type=int, action="append", default=[])
ap.add_argument("--infra", type=int, action="append", default=[])
ap.add_argument("--db", default="")
ap.add_argument("--ours", type=int, default=0)
ap.add_argument("--interval", type=float, default=0.2)
a = ap.parse_args()
try:
    os.sched_setaffinity(0, {int(os.environ.get("BENCH_LOAD_CPU", "0"))})
except OSError:
    pass
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def procs():
    """pid -> (ppid, ticks, rss_pages, comm)"""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        rp = raw.rfind(b")")
        comm = raw[raw.find(b"(") + 1:rp].decode(errors="replace")
        fields = raw[rp + 2:].split()
        # fields[0] is state (field 3): ppid=4, utime=14, stime=15, rss=24
        out[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]), comm)
    return out


def subtree(ps, roots):
    kids = {}
    for pid, (ppid, *_rest) in ps.items():
        kids.setdefault(ppid, []).append(pid)
    seen, stack = set(), [r for r in roots if r in ps]
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(kids.get(p, ()))
    return seen


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [x.decode(errors="replace") for x in f.read().split(b"\0") if x]
    except OSError:
        return []


def busy():
    """(user + nice + system + steal, irq + softirq) ticks of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + (v[7] if len(v) > 7 else 0), v[5] + v[6]


stop = False


def _stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)

prev_ticks: dict[int, int] = {}
cum = {"sut": 0, "infra": 0, "ours": 0}
pg_cache: dict[int, bool] = {}
loads: dict[int, dict] = {}  # pid -> info, first/last sample
checked: set[tuple] = set()
samples = []  # (t, busy, cum copy, sut_rss_mb)
first = True
while not stop:
    t = time.monotonic()
    ps = procs()
    b = busy()
    sut = subtree(ps, [a.sut])
    infra = subtree(ps, a.infra)  # a 0 (no Celery pid file) is no process: subtree skips it
    if a.db:
        for pid, (_pp, _t, _r, comm) in ps.items():
            if comm == "postgres" and pid not in infra:
                if pid not in pg_cache:
                    pg_cache[pid] = f" {a.db} " in " ".join(cmdline(pid))
                if pg_cache[pid]:
                    infra.add(pid)
    ours = (subtree(ps, [a.ours] + a.nginx) if (a.ours or a.nginx) else set()) - sut - infra
    ticks = {pid: v[1] for pid, v in ps.items()}
    if not first:
        for cat, members in (("sut", sut), ("infra", infra), ("ours", ours)):
            for pid in members:
                cum[cat] += ticks[pid] - prev_ticks.get(pid, 0)  # a new pid: all its CPU is new
    prev_ticks = ticks
    first = False
    rss = sum(ps[p][2] for p in sut) * PAGE_MB
    idx = len(samples)
    samples.append((t, b, dict(cum), rss))
    for pid in ours:
        if pid not in loads:
            comm = ps[pid][3]
            if (pid, comm) in checked:  # keyed with comm: a fork is checked again after its exec
                continue
            checked.add((pid, comm))
            argv = cmdline(pid)
            if comm == "wrk":
                loads[pid] = {"tool": "wrk", "argv": argv, "first": idx}
            elif any(x.endswith("ttfb.py") for x in argv[:2]):
                loads[pid] = {"tool": "ttfb", "argv": argv, "first": idx}
            else:
                continue
        loads[pid]["last"] = idx
    time.sleep(max(0.0, a.interval - (time.monotonic() - t)))


def opt(argv, flag, default=""):
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else default


for pid, info in sorted(loads.items(), key=lambda kv: kv[1]["first"]):
    i, j = info["first"], info["last"]
    if j <= i:
        continue
    t0, b0, c0, r0 = samples[i]
    t1, b1, c1, _ = samples[j]
    secs = t1 - t0
    hz = os.sysconf("SC_CLK_TCK")
    d = {k: c1[k] - c0[k] for k in c0}
    foreign = (b1[0] - b0[0]) - d["sut"] - d["infra"] - d["ours"]
    peak = max(s[3] for s in samples[i:j + 1])
    argv = info["argv"]
    url = next((x for x in reversed(argv) if x.startswith("http")), "")
    print(f"RUN tool={info['tool']} pid={pid} url={url} conns={opt(argv, '-c', '1')} dur={opt(argv, '-d', '')} "
          f"secs={secs:.2f} sut_cpu_s={d['sut'] / hz:.3f} sut_rss_start_mb={r0:.0f} sut_rss_peak_mb={peak:.0f} "
          f"foreign_pct={max(0, foreign) * 100 / hz / secs:.0f} infra_pct={d['infra'] * 100 / hz / secs:.0f} "
          f"ours_pct={d['ours'] * 100 / hz / secs:.0f} sut_pct={d['sut'] * 100 / hz / secs:.0f} "
          f"irq_pct={(b1[1] - b0[1]) * 100 / hz / secs:.0f}", flush=True)
