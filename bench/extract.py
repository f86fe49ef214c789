"""Benchmark the IOC extraction engine against ioc-finder.

    .venv/bin/python bench/extract.py                 # 5 MB seeded chat log, corpus scores
    .venv/bin/python bench/extract.py --size-mb 1     # quicker
    .venv/bin/python bench/extract.py --warninglists  # also time the warninglist index

Prints: MB/s of bot.ioc.extract and of ioc_finder.find_iocs on the same generated log (one call
per message), the time of bot.ioc on the whole log as one message and on pathological inputs
(linearity), and micro precision/recall/F1 of both engines on tests/unit/ioc/data/chat_corpus.txt
and on tests/unit/ioc/data/peer_cases.txt (cases adapted from other extractors' test suites).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
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


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1e6 / seconds if seconds else float("inf")


def _time(fn, *args) -> float:
    gc.collect()
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


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


def bench_throughput(size_mb: float, with_finder: bool) -> None:
    lines = generate_log(int(size_mb * 1_000_000))
    nbytes = sum(len(s.encode()) + 1 for s in lines)
    extract("warm up 1.2.3.4 evil.com")  # loads the PSL once
    ours = _time(lambda: [extract(s) for s in lines])
    print(f"log: {len(lines)} messages, {nbytes / 1e6:.2f} MB (seed 1337)")
    print(f"bot.ioc.extract      : {ours:7.2f} s  {_mbps(nbytes, ours):7.2f} MB/s")
    if with_finder:
        from ioc_finder import find_iocs

        theirs = _time(lambda: [find_iocs(s) for s in lines])
        print(f"ioc_finder.find_iocs : {theirs:7.2f} s  {_mbps(nbytes, theirs):7.2f} MB/s")
        print(f"speed-up             : {theirs / ours:7.1f} x")
    whole = "\n".join(lines)
    t_whole = _time(extract, whole)
    print(f"one {len(whole) / 1e6:.1f} MB message    : {t_whole:7.2f} s  {_mbps(len(whole), t_whole):7.2f} MB/s")
    half = whole[: len(whole) // 2]
    t_half = _time(extract, half)
    print(f"half of it           : {t_half:7.2f} s  (ratio {t_whole / t_half:.2f}, 2.0 = linear)")
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
    ):
        print(f"{name:21}: {_time(extract, text):7.3f} s")


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
    ap.add_argument("--size-mb", type=float, default=5.0)
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
    bench_throughput(args.size_mb, with_finder)
    if args.warninglists:
        bench_warninglists()


if __name__ == "__main__":
    main()
