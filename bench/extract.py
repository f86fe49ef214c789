"""Benchmark the IOC extraction engine against ioc-finder.

    .venv/bin/python bench/extract.py                        # 5 MB logs, a 20 MB document, 3 rounds
    .venv/bin/python bench/extract.py --size-mb 1 --doc-mb 5 --rounds 2   # quicker
    .venv/bin/python bench/extract.py --warninglists         # also time the warninglist index
    .venv/bin/python bench/extract.py --before /tmp/before   # also another checkout's bot.ioc, same rounds

Three input shapes, each seeded: "clean" (one message a line, prose words, a third of the messages with 1-4
indicators, 70 % of them defanged), "chat" (the same messages as a chat log really is: every line
"[HH:MM] <nick> ..."), and one "document" (the chat log as one message of --doc-mb MB). For each shape,
bot.ioc.extract (one call per message; the document in one call), `coalition-bot extract` (the CLI, in a
child process: --jsonl for the logs, one JSON string a line; plain for the document) and ioc_finder.find_iocs
(the library, one call per message / one call) run interleaved in the same rounds, so a load spike hits them
alike; each figure is the best of the rounds. CPU time (time.process_time; the CLI's from the kernel's
accounting of the child) is the figure compared, because this machine is shared; wall-clock time is printed
beside it. Then the linearity checks (the document and half of it, 1 MB pathological inputs) and micro
precision/recall/F1 of both engines on tests/unit/ioc/data/chat_corpus.txt and peer_cases.txt.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit" / "ioc"))

from corpus import load_corpus, score  # noqa: E402

from bot.ioc import IOCType, classify, defang, extract, extract_grouped  # noqa: E402

WORDS = [
    "the", "a", "we", "saw", "this", "that", "from", "to", "on", "in", "for", "of", "and", "or",
    "is", "are", "was", "it", "new", "campaign", "phishing", "loader", "block", "please", "check",
    "anyone", "seeing", "again", "today", "yesterday", "morning", "team", "bank", "customers",
    "sample", "report", "victim", "payload", "c2", "server", "host", "traffic", "beacon", "wave",
    "confirmed", "false", "positive", "vote", "approve", "looks", "like", "same", "actor", "kit",
    "page", "login", "credential", "mule", "transfer", "invoice", "ransomware", "access", "broker",
    "thanks", "ok", "sure", "will", "do", "ticket", "escalate", "noted", "ack", "lol", "hmm", "yes",
    "no", "maybe", "later",
]
TLDS = ["com", "net", "org", "ru", "xyz", "top", "info", "io", "co.uk", "de", "nl", "online", "shop"]


def _label(rng: random.Random) -> str:
    n = rng.randint(4, 12)
    s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    return s if rng.random() < 0.7 else s[: n // 2] + "-" + s[n // 2 :]


def _indicator(rng: random.Random) -> str:
    k = rng.random()
    if k < 0.25:
        v = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    elif k < 0.45:
        v = f"{_label(rng)}.{rng.choice(TLDS)}"
    elif k < 0.65:
        v = f"https://{_label(rng)}.{rng.choice(TLDS)}/{_label(rng)}/{_label(rng)}.php?id={rng.randint(1, 999)}"
    elif k < 0.72:
        v = f"{_label(rng)}@{_label(rng)}.{rng.choice(TLDS)}"
    elif k < 0.90:
        v = "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice((32, 40, 64))))
    elif k < 0.95:
        v = f"CVE-{rng.randint(2015, 2024)}-{rng.randint(1000, 49999)}"
    else:
        v = f"AS{rng.randint(100, 400000)}"
    if rng.random() < 0.7:
        v = defang(v)
    return v


def generate_log(size_bytes: int, seed: int = 1337) -> list[str]:
    """Seeded chat log: one message a line, about a third with 1-4 indicators, most defanged."""
    rng = random.Random(seed)
    lines: list[str] = []
    total = 0
    while total < size_bytes:
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 30))]
        if rng.random() < 1 / 3:
            for _ in range(rng.randint(1, 4)):
                words.insert(rng.randint(0, len(words)), _indicator(rng))
        line = " ".join(words)
        lines.append(line)
        total += len(line.encode()) + 1
    return lines


NICKS = ["alice", "bob_sec", "carol", "dave-cert", "eve", "mallory", "trent", "peggy", "victor", "walter",
         "jp|away", "[ops]zed"]


def generate_chat_log(size_bytes: int, seed: int = 1337) -> list[str]:
    """The same seeded messages as :func:`generate_log`, as a chat log ("[HH:MM] <nick> message"), cut at
    ``size_bytes`` (prefixes included)."""
    rng = random.Random(seed + 1)
    out: list[str] = []
    minute = 8 * 60
    total = 0
    for line in generate_log(size_bytes, seed):
        minute += rng.randint(0, 3)
        out.append(f"[{minute // 60 % 24:02d}:{minute % 60:02d}] <{rng.choice(NICKS)}> {line}")
        total += len(out[-1].encode()) + 1
        if total >= size_bytes:
            break
    return out


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1e6 / seconds if seconds else float("inf")


_FINDER_KEYS = {
    "ipv4s": IOCType.IPV4, "ipv6s": IOCType.IPV6, "ipv4_cidrs": IOCType.CIDR, "ipv6_cidrs": IOCType.CIDR,
    "domains": IOCType.DOMAIN, "urls": IOCType.URL, "email_addresses": IOCType.EMAIL, "md5s": IOCType.MD5,
    "sha1s": IOCType.SHA1, "sha256s": IOCType.SHA256, "sha512s": IOCType.SHA512, "cves": IOCType.CVE,
    "asns": IOCType.ASN, "bitcoin_addresses": IOCType.BTC,
}


def ioc_finder_grouped(text: str) -> dict[str, list[str]]:
    """ioc-finder's output mapped onto our types; values canonicalized with classify() when it agrees."""
    from ioc_finder import find_iocs

    raw = find_iocs(text)
    out: dict[str, list[str]] = {}
    for key, typ in _FINDER_KEYS.items():
        for v in raw.get(key, []):
            obs = classify(v)
            value = obs.value if obs is not None and obs.type is typ else v
            lst = out.setdefault(typ.value, [])
            if value not in lst:
                lst.append(value)
    return out


def _cpu(fn, *args) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    gc.collect()
    c, w = time.process_time(), time.perf_counter()
    fn(*args)
    return time.process_time() - c, time.perf_counter() - w


def _cli(args: list[str], stdin_path: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `coalition-bot extract` run, start-up included, output discarded."""
    script = Path(sys.executable).parent / "coalition-bot"
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from adapters.cli import main; main()"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = time.perf_counter()
    with stdin_path.open("rb") as fh:
        subprocess.run([*cmd, "extract", *args], stdin=fh, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


_BEFORE_CODE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bot.ioc import extract
extract("warm up 1.2.3.4 evil.com")
with open(sys.argv[2], encoding="utf-8") as fh:
    messages = [json.loads(line) for line in fh] if sys.argv[3] == "jsonl" else [fh.read()]
c, w = time.process_time(), time.perf_counter()
for m in messages:
    extract(m)
print(json.dumps([time.process_time() - c, time.perf_counter() - w]))
"""


def _before(code: Path, path: Path, jsonl: bool) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of another checkout's bot.ioc.extract on the same input, in a child process
    (the same modules cannot be imported twice in one); only the extraction is timed."""
    out = subprocess.run([sys.executable, "-c", _BEFORE_CODE, str(code), str(path), "jsonl" if jsonl else "text"],
                         capture_output=True, text=True, check=True).stdout
    cpu, wall = json.loads(out)
    return cpu, wall


def bench_throughput(size_mb: float, doc_mb: float, rounds: int, with_finder: bool, before: Path | None = None) -> None:
    clean = generate_log(int(size_mb * 1_000_000))
    chat = generate_chat_log(int(size_mb * 1_000_000))
    doc_lines = generate_chat_log(int(doc_mb * 1_000_000), seed=4242)
    doc = "\n".join(doc_lines)
    extract("warm up 1.2.3.4 evil.com")  # loads the PSL once
    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    shapes = []
    for name, messages in (("clean", clean), ("chat", chat)):
        path = tmp / f"{name}.jsonl"
        path.write_text("".join(json.dumps(m) + "\n" for m in messages), "utf-8")
        shapes.append((name, messages, path, ["--jsonl"]))
    doc_path = tmp / "document.txt"
    doc_path.write_text(doc, "utf-8")
    shapes.append((f"document ({len(doc.encode()) / 1e6:.0f} MB)", [doc], doc_path, []))
    try:
        if with_finder:
            from ioc_finder import find_iocs
        best: dict[tuple[str, str], tuple[float, float]] = {}

        def keep(key: tuple[str, str], got: tuple[float, float]) -> None:
            old = best.get(key)
            best[key] = got if old is None else (min(old[0], got[0]), min(old[1], got[1]))

        for r in range(rounds):
            for name, messages, path, cli_args in shapes:  # interleaved: ours, the CLI, ioc-finder, same minute
                keep((name, "bot.ioc"), _cpu(lambda ms=messages: [extract(m) for m in ms]))
                keep((name, "cli"), _cli(cli_args, path))
                if before is not None:
                    keep((name, "before"), _before(before, path, bool(cli_args)))
                if with_finder:
                    keep((name, "ioc-finder"), _cpu(lambda ms=messages: [find_iocs(m) for m in ms]))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    print(f"throughput, best of {rounds} interleaved rounds (CPU s; wall s in brackets; x = ioc-finder CPU / ours):")
    for name, messages, _, _ in shapes:
        nbytes = sum(len(m.encode()) + 1 for m in messages)
        lib_c, lib_w = best[(name, "bot.ioc")]
        cli_c, cli_w = best[(name, "cli")]
        line = (f"  {name:16} {nbytes / 1e6:5.1f} MB {len(messages):7} msg | bot.ioc {lib_c:6.2f} ({lib_w:6.2f}) "
                f"{_mbps(nbytes, lib_c):5.1f} MB/s | CLI {cli_c:6.2f} ({cli_w:6.2f})")
        if with_finder:
            fc, fw = best[(name, "ioc-finder")]
            line += f" | ioc-finder {fc:6.2f} ({fw:6.2f}) | library {fc / lib_c:5.1f}x  CLI {fc / cli_c:5.1f}x"
        if before is not None:
            bc, bw = best[(name, "before")]
            line += f" | before {bc:6.2f} ({bw:6.2f})" + (f" {best[(name, 'ioc-finder')][0] / bc:5.1f}x" if with_finder
                                                         else "")
        print(line)
    half = doc[: len(doc) // 2]
    t_doc = min(_cpu(extract, doc)[0] for _ in range(2))
    t_half = min(_cpu(extract, half)[0] for _ in range(2))
    print(f"document {t_doc:.2f} s, half of it {t_half:.2f} s (CPU; ratio {t_doc / t_half:.2f}, 2.0 = linear)")
    for name, text in (
        ("1 MB of dots", "." * 1_000_000),
        ("1 MB of digits", "7" * 1_000_000),
        ("1 MB of 'a.'", "a." * 500_000),
        ("1 MB of '1.'", "1." * 500_000),
        ("1 MB of hex", "ab" * 500_000),
        ("1 MB of '[.]'", "[.]" * 333_333),
        ("1 MB of ':'", "1:" * 500_000),
        ("1 MB of spaces", " " * 1_000_000),
        ("1 MB of 'a@'", "a@" * 500_000),
        ("1 MB of chat prefixes", "[09:14] <nick> ok\n" * 55_555),
    ):
        print(f"{name:21}: {_cpu(extract, text)[0]:7.3f} s CPU")


PEER_PATH = ROOT / "tests" / "unit" / "ioc" / "data" / "peer_cases.txt"


def bench_corpus(with_finder: bool) -> None:
    for name, cases in (("chat corpus", load_corpus()), ("peer cases", load_corpus(PEER_PATH))):
        n_exp = sum(len(v) for c in cases for v in c.expected.values())
        print(f"{name}: {len(cases)} messages, {n_exp} expected values")
        p, r, f, errs = score(cases, extract_grouped)
        print(f"  bot.ioc     P={p:.3f} R={r:.3f} F1={f:.3f} ({len(errs)} messages wrong)")
        if with_finder:
            p, r, f, errs = score(cases, ioc_finder_grouped)
            print(f"  ioc-finder  P={p:.3f} R={r:.3f} F1={f:.3f} ({len(errs)} messages wrong)")


def bench_warninglists() -> None:
    """Time the default warninglist index in a fresh process (so the RSS delta is its own)."""
    import json
    import subprocess

    code = r"""
import gc, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from bot.ioc import extract, WarningLists
values = extract(sys.stdin.read())
gc.collect()
def rss():  # current resident set size, MB
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
before = rss()
t = time.perf_counter()
wl = WarningLists.load()
build = time.perf_counter() - t
after = rss()
n = hits = 0
t = time.perf_counter()
for _ in range(20):
    for obs in values:
        hits += bool(wl.match(obs))
        n += 1
per = (time.perf_counter() - t) / n * 1e6
print(json.dumps({"lists": len(wl.names), "build": build, "per": per, "n": n, "hits": hits, "mb": after - before}))
"""
    text = " ".join(generate_log(200_000, seed=7)) + (
        " 8.8.8.8 10.1.2.3 www.google.com dns.google 2001:4860:4860::8888 192.168.0.0/16"
        " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], input=text, capture_output=True, text=True,
                         check=True).stdout
    r = json.loads(out)
    print(f"warninglists (default, {r['lists']} lists): build {r['build']:.2f} s, {r['per']:.2f} µs/lookup "
          f"over {r['n']} lookups ({r['hits']} hits), RSS +{r['mb']:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=5.0, help="size of the clean and the chat log")
    ap.add_argument("--doc-mb", type=float, default=20.0, help="size of the one document")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each figure is the best")
    ap.add_argument("--before", type=Path, help="another checkout (e.g. `git archive REV | tar -x -C DIR`): its "
                    "bot.ioc.extract is timed in the same rounds, in a child process")
    ap.add_argument("--no-ioc-finder", action="store_true", help="skip ioc-finder")
    ap.add_argument("--warninglists", action="store_true", help="also time the warninglist index")
    args = ap.parse_args()
    with_finder = not args.no_ioc_finder
    if with_finder:
        try:
            import ioc_finder  # noqa: F401
        except ImportError:
            print("ioc-finder not installed: pip install '.[bench]'")
            with_finder = False
    bench_corpus(with_finder)
    bench_throughput(args.size_mb, args.doc_mb, args.rounds, with_finder, args.before)
    if args.warninglists:
        bench_warninglists()


if __name__ == "__main__":
    main()
