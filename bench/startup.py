"""Start-up of every `coalition-bot` command, against Python's own (`python -c pass`), as a user runs them: the
installed script in a fresh process, stdout and stderr read, on a migrated SQLite file.

    .venv/bin/python bench/startup.py                 # 7 runs of each, the table in Markdown
    .venv/bin/python bench/startup.py --runs 15 --only export,import   # the cases whose names begin so
    .venv/bin/python bench/startup.py --instructions --code /tmp/before  # instructions, not time (valgrind)
    .venv/bin/python bench/startup.py --against /tmp/before --only import --runs 15   # two trees, run in turn
    git worktree add /tmp/before <commit> && .venv/bin/python bench/startup.py --code /tmp/before   # another tree

Reported per command: the median wall time of the runs, the median CPU time (user + system of the process: less
disturbed by other work on the machine than the wall time), and the wall time over `python -c pass`. Target
(issue 15): every command within 0.5 s of `python -c pass`, except what truly has to work first (`db upgrade`
of a new file, the first build of the warninglist index: shown on their own rows, not counted).

`--instructions` counts, instead of timing, the instructions each command executes (one run under valgrind's
callgrind, ~50 times slower): a figure this virtual machine's varying speed does not move, to compare two trees;
the target itself is in wall time.

`--against DIR` times another checkout beside this one, their runs taking turns (this tree, the other, this...),
so that a change of the machine's speed during the runs hits both alike; it reports each tree's fastest and
median run over `python -c pass` and the ratio of the fastest.

The machine's speed is printed before and after the timed runs: the fastest of three runs of a 3-million-step
Python loop in a fresh process (~200 ms on a quiet machine of this class; on a busy host it took up to 600 ms,
and every wall time grows with it).

As installed: byte-code caching on (PYTHONDONTWRITEBYTECODE unset, the caches in a temporary PYTHONPYCACHEPREFIX,
filled by one warm-up run of each command); the warninglist index cached (in a temporary directory, built by the
warm-up run); every run of `import` gets a fresh copy of the store, so each imports 20 new indicators.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).with_name("coalition-bot")
TARGET = 0.5  # seconds over `python -c pass`


@dataclass
class Case:
    name: str
    args: list[str]
    stdin: str = ""
    prepare: Callable[[], None] | None = None  # before each run, untimed
    counted: bool = True  # held to the target
    expect: int = 0  # exit status


def bundle(n: int = 20) -> str:
    """A STIX 2.1 bundle of `n` indicators (IPv4, domains, URLs in turn)."""
    objects = []
    for i in range(n):
        pattern = (f"[ipv4-addr:value = '198.51.100.{i + 1}']", f"[domain-name:value = 'bench-{i}.example']",
                   f"[url:value = 'http://bench-{i}.example/login']")[i % 3]
        objects.append({"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
                        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00.000Z"})
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})


def run_once(args: list[str], stdin: str, env: dict[str, str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, exit status, stderr) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stderr


def machine_speed() -> str:
    """How fast this machine runs Python now: the fastest of three fresh processes running a 3-million-step loop."""
    loop = "i = 0\nwhile i < 3_000_000:\n    i += 1\n"
    best = min(run_once([sys.executable, "-c", loop], "", dict(os.environ), Path.cwd())[0] for _ in range(3))
    return f"3M-step loop {best * 1000:.0f} ms"


def instructions(args: list[str], stdin: str, env: dict[str, str], cwd: Path) -> tuple[int, int, str]:
    """(instructions executed, exit status, stderr) of one process under callgrind (its threads included)."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    counted = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if not counted:
        raise SystemExit(f"valgrind gave no count for {' '.join(args)}:\n{done.stderr[-2000:]}")
    return int(counted[-1].split(":")[-1]), done.returncode, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated beginnings of case names, e.g. "
                        "'import,export' (the baseline always runs)")
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind (one run "
                        "each) instead of timing")
    parser.add_argument("--code", type=Path, help="measure the bot, adapters and storage packages of this checkout "
                        "(put first on PYTHONPATH), e.g. a git worktree of an earlier commit")
    parser.add_argument("--against", type=Path, help="also time this checkout, its runs in turn with this tree's")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="coalition-startup-"))
    try:
        measure(options, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(options: argparse.Namespace, work: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_") and k != "PYTHONDONTWRITEBYTECODE"}
    # The warninglist cache in the user's cache directory, made temporary (XDG_CACHE_HOME, read by platformdirs).
    env.update(PYTHONPYCACHEPREFIX=str(work / "pycache"), XDG_CACHE_HOME=str(work / "cache"),
               COALITION_LOGGING_LEVEL="WARNING")
    if options.code:
        env["PYTHONPATH"] = str(options.code.resolve())
    template, store, empty = work / "template.db", work / "store.db", work / "empty.db"
    url = f"sqlite+aiosqlite:///{store}"
    source = work / "bundle.json"
    source.write_text(bundle(20))
    chat = "[09:14] <ana> seen 203.0.113.7 and hxxp://evil-login[.]example/x\n" * 20

    def fresh_store() -> None:
        shutil.copyfile(template, store)

    def no_store() -> None:
        for path in work.glob("new.db*"):
            path.unlink()

    def no_index() -> None:
        shutil.rmtree(work / "cache", ignore_errors=True)

    cb = [str(BIN)]
    cases = [
        Case("python -c pass", [sys.executable, "-c", "pass"]),
        Case("--help", [*cb, "--help"]),
        Case("--version", [*cb, "--version"]),
        Case("config check", [*cb, "config", "check"]),
        Case("db current", [*cb, "db", "current", "--database", url]),
        Case("db upgrade (at head)", [*cb, "db", "upgrade", "--database", url]),
        Case("export (empty store)", [*cb, "export", "--database", f"sqlite+aiosqlite:///{empty}"]),
        Case("export (20, csv)", [*cb, "export", "--status", "pending", "-f", "csv", "--database", url]),
        Case("import (20 objects)", [*cb, "import", str(source), "--org", "Bench", "--database", url],
             prepare=fresh_store),
        Case("extract", [*cb, "extract"], stdin=chat),
        Case("extract --warn", [*cb, "extract", "--warn"], stdin=chat),
        Case("console (one command)", [*cb, "console", "--database", url], stdin="/ioc help\n"),
        Case("run (nothing enabled)", [*cb, "run", "--database", url], expect=2),
        Case("apikey list", [*cb, "apikey", "list", "--database", url]),
        Case("db backup", [*cb, "db", "backup", str(work / "backup.db"), "--database", url],
             prepare=lambda: (work / "backup.db").unlink(missing_ok=True)),
        Case("db upgrade (new file)", [*cb, "db", "upgrade", "--database", f"sqlite+aiosqlite:///{work / 'new.db'}"],
             prepare=no_store, counted=False),
        Case("extract --warn (first build)", [*cb, "extract", "--warn"], stdin=chat, prepare=no_index,
             counted=False),
    ]
    only = {name.strip() for name in options.only.split(",") if name.strip()}
    cases = [c for c in cases if c.name == "python -c pass" or not only or any(c.name.startswith(o) for o in only)]

    def setup(*args: str) -> None:
        done = subprocess.run([*cb, *args], capture_output=True, text=True, env=env, cwd=work, timeout=300)
        if done.returncode:
            raise SystemExit(f"set-up `coalition-bot {' '.join(args)}` failed:\n{done.stderr}")

    setup("db", "upgrade", "--database", f"sqlite+aiosqlite:///{template}")
    setup("db", "upgrade", "--database", f"sqlite+aiosqlite:///{empty}")
    setup("bootstrap", "--org", "Bench", "--database", f"sqlite+aiosqlite:///{template}")
    fresh_store()
    setup("import", str(source), "--org", "Bench", "--database", url)  # 20 pending, for the csv export

    if options.instructions:
        count_instructions(cases, env, work)
        return
    if options.against:
        other = {**env, "PYTHONPATH": str(options.against.resolve()), "PYTHONPYCACHEPREFIX": str(work / "pycache2")}
        compare(cases, options.runs, env, other, options.against, work)
        return
    print(f"{options.runs} runs each, median; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start; {machine_speed()}\n")
    print("| command | wall | CPU | wall over `python -c pass` | within 0.5 s |")
    print("|---|---|---|---|---|")
    baseline = 0.0
    worst = 0.0
    for case in cases:
        if case.prepare:
            case.prepare()
        wall, _, status, err = run_once(case.args, case.stdin, env, work)  # warm-up: byte code, index, page cache
        walls, cpus = [], []
        for _ in range(options.runs if status == case.expect else 0):
            if case.prepare:
                case.prepare()
            wall, cpu, status, err = run_once(case.args, case.stdin, env, work)
            if status != case.expect:
                break
            walls.append(wall)
            cpus.append(cpu)
        if status != case.expect:  # e.g. a command an earlier tree does not have
            last = err.strip().splitlines()[-1:] or [""]
            print(f"| `{case.name}` | failed: exit status {status} ({last[0][:60]}) | | | |")
            continue
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        if case.name == "python -c pass":
            baseline = wall
            print(f"| `python -c pass` | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | | |")
            continue
        over = wall - baseline
        verdict = ("yes" if over <= TARGET else "**no**") if case.counted else "(does work first)"
        if case.counted:
            worst = max(worst, over)
        print(f"| `{case.name}` | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms | {over * 1000:+.0f} ms | {verdict} |")
    print(f"\nworst counted command: {worst * 1000:.0f} ms over `python -c pass` (target {TARGET * 1000:.0f} ms); "
          f"load average {os.getloadavg()[0]:.2f} at the end; {machine_speed()}")


def compare(cases: list[Case], runs: int, env: dict[str, str], other: dict[str, str], against: Path,
            work: Path) -> None:
    """Each case in both trees, their runs taking turns; each tree's `python -c pass` runs in the same turns."""
    print(f"{runs} runs each, in turn with {against}; Python {sys.version.split()[0]}, {machine_speed()}\n")
    print("| command | other: fastest (median) over `python -c pass` | this tree | this / other (fastest) |")
    print("|---|---|---|---|")
    baseline = next(c for c in cases if c.name == "python -c pass")
    for case in cases:
        if case is baseline:
            continue
        walls: dict[str, list[float]] = {"other": [], "this": [], "other pass": [], "this pass": []}
        failed = ""
        for turn in range(runs + 1):  # the first turn warms up (byte code, page cache)
            for name, tree_env in (("other", other), ("this", env)):
                for key, measured in ((name + " pass", baseline), (name, case)):
                    if measured.prepare:
                        measured.prepare()
                    wall, _, status, err = run_once(measured.args, measured.stdin, tree_env, work)
                    if status != measured.expect:
                        failed = f"{name}: exit status {status} ({(err.strip().splitlines()[-1:] or [''])[0][:60]})"
                    elif turn:
                        walls[key].append(wall)
        if failed:
            print(f"| `{case.name}` | failed: {failed} | | |")
            continue
        over = {name: [a - b for a, b in zip(walls[name], walls[name + " pass"], strict=True)]
                for name in ("other", "this")}
        shown = {name: f"{min(v) * 1000:+.0f} ms ({statistics.median(v) * 1000:+.0f})" for name, v in over.items()}
        print(f"| `{case.name}` | {shown['other']} | {shown['this']} | {min(over['this']) / min(over['other']):.2f} |")
    print(f"\n{machine_speed()} at the end")


def count_instructions(cases: list[Case], env: dict[str, str], work: Path) -> None:
    print(f"instructions executed, one run each under callgrind; Python {sys.version.split()[0]}\n")
    print("| command | instructions | over `python -c pass` |")
    print("|---|---|---|")
    baseline = 0
    for case in cases:
        if case.prepare:
            case.prepare()
        run_once(case.args, case.stdin, env, work)  # warm-up: byte code, index, page cache
        if case.prepare:
            case.prepare()
        count, status, err = instructions(case.args, case.stdin, env, work)
        if status != case.expect:
            last = err.strip().splitlines()[-1:] or [""]
            print(f"| `{case.name}` | failed: exit status {status} ({last[0][:60]}) | |")
            continue
        if case.name == "python -c pass":
            baseline = count
            print(f"| `python -c pass` | {count / 1e6:,.0f} M | |")
            continue
        print(f"| `{case.name}` | {count / 1e6:,.0f} M | {(count - baseline) / 1e6:+,.0f} M |")


if __name__ == "__main__":
    main()
