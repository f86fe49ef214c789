"""Watch matching (issue 12): one indicator against 100,000 watches of mixed kinds, in-process.

The watches are what a coalition's members would set: networks of every size (IPv4 /16 to /32, IPv6 /32 to /64;
45%), domains (35%), brand words (15%), tags, malware families and types (5%), a tenth limited to one
organization. The indicators are
what chat carries: IPs, CIDRs, domains and subdomains, URLs (on names and on IPs), e-mail addresses, hashes,
with lookalikes of the watched brands among them. Target: median <= 50 us per indicator.

    .venv/bin/python bench/watch.py                 # 100,000 watches, 20,000 indicators
    .venv/bin/python bench/watch.py --watches 1000000
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from bot.ioc.types import IOCType  # noqa: E402
from bot.watch_index import Subject, WatchIndex, parse_target  # noqa: E402

WORDS = ["north", "bank", "secure", "pay", "mail", "cloud", "trust", "credit", "union", "royal", "first", "city",
         "metro", "coast", "alpine", "delta", "harbor", "summit", "prime", "global"]
TLDS = ["com", "net", "org", "de", "fr", "co.uk", "example", "io", "info", "ru"]
TAGS = ["phishing", "botnet", "c2", "ransomware", "scanner", "loader", "stealer", "spam",
        *(f"campaign-{i}" for i in range(200))]  # ThreatFox-like: a few common tags, many campaign tags
MALWARE = ["emotet", "qakbot", "cobalt_strike", "icedid", "lumma", "redline", "asyncrat", "remcos",
           *(f"family_{i}" for i in range(300))]
ORGS = ["northbank", "national cert", "sentinel security", "metro isp", "cyber police"]


def name(rng: random.Random) -> str:
    return "".join(rng.sample(WORDS, 2)) + str(rng.randrange(1000))


def watches(n: int, rng: random.Random) -> list[tuple[int, object]]:
    out = []
    for i in range(n):
        kind = rng.random()
        org = rng.choice(ORGS) if rng.random() < 0.1 else None
        if kind < 0.40:
            length = rng.choice([16, 20, 22, 24, 24, 24, 26, 28, 29, 30, 32, 32, 32])
            ip = ipaddress.IPv4Address(rng.getrandbits(32))
            target = f"{ipaddress.ip_network(f'{ip}/{length}', strict=False)}"
        elif kind < 0.45:
            ip = ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(96))
            target = f"{ipaddress.ip_network(f'{ip}/{rng.choice([32, 48, 56, 64])}', strict=False)}"
        elif kind < 0.80:
            target = f"{name(rng)}.{rng.choice(TLDS)}"
        elif kind < 0.95:
            target = f"brand:{name(rng)}"
        elif kind < 0.98:
            target = f"tag:{rng.choice(TAGS)}"
        elif kind < 0.995:
            target = f"malware:{rng.choice(MALWARE)}"
        else:
            target = f"type:{rng.choice(['url', 'domain', 'ipv4'])}"
        out.append((i, parse_target(target, org)))
    return out


def lookalike(word: str, rng: random.Random) -> str:
    swaps = {"o": "0", "l": "1", "e": "3", "a": "4", "s": "5"}
    chars = [swaps.get(c, c) if rng.random() < 0.3 else c for c in word]
    return rng.choice(["", "secure-", "login-"]) + "".join(chars) + rng.choice(["", "-login", "-verify"])


def subjects(n: int, rng: random.Random) -> list[Subject]:
    out = []
    for _ in range(n):
        kind = rng.random()
        tags = tuple(rng.sample(TAGS, rng.randrange(3)))
        malware = rng.choice(MALWARE) if rng.random() < 0.3 else None
        org = rng.choice(ORGS)
        if kind < 0.25:
            out.append(Subject(IOCType.IPV4, str(ipaddress.IPv4Address(rng.getrandbits(32))), tags, malware, org))
        elif kind < 0.30:
            ip = ipaddress.IPv4Address(rng.getrandbits(32))
            out.append(Subject(IOCType.CIDR, str(ipaddress.ip_network(f"{ip}/{rng.choice([16, 24, 28])}",
                                                                     strict=False)), tags, malware, org))
        elif kind < 0.55:
            host = f"{rng.choice(['', 'www.', 'login.', 'a.b.'])}{lookalike(name(rng), rng)}.{rng.choice(TLDS)}"
            out.append(Subject(IOCType.DOMAIN, host, tags, malware, org))
        elif kind < 0.80:
            host = f"{lookalike(name(rng), rng)}.{rng.choice(TLDS)}"
            out.append(Subject(IOCType.URL, f"https://{host}/account/verify?id={rng.randrange(10**6)}", tags,
                               malware, org))
        elif kind < 0.85:
            out.append(Subject(IOCType.URL, f"http://{ipaddress.IPv4Address(rng.getrandbits(32))}:8080/gate.php",
                               tags, malware, org))
        elif kind < 0.92:
            out.append(Subject(IOCType.EMAIL, f"billing@{name(rng)}.{rng.choice(TLDS)}", tags, malware, org))
        else:
            out.append(Subject(IOCType.SHA256, f"{rng.getrandbits(256):064x}", tags, malware, org))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=100_000)
    parser.add_argument("--indicators", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    listed = watches(args.watches, rng)
    started = time.perf_counter()
    index = WatchIndex(listed)
    built = time.perf_counter() - started
    probe = subjects(args.indicators, rng)
    index.match(probe[0])  # builds the brand automaton
    samples, matched, total = [], 0, 0
    for subject in probe:
        t = time.perf_counter_ns()
        found = index.match(subject)
        samples.append((time.perf_counter_ns() - t) / 1000)
        matched += bool(found)
        total += len(found)
    q = statistics.quantiles(samples, n=100, method="inclusive")
    print(f"{args.watches:,} watches built in {built:.2f} s; {args.indicators:,} indicators, "
          f"{matched / len(probe):.0%} matched at least one watch, {total / len(probe):.1f} on average")
    print(f"per indicator: median {statistics.median(samples):.1f} us, p90 {q[89]:.1f} us, p99 {q[98]:.1f} us, "
          f"max {max(samples):.1f} us (target: median <= 50 us)")


if __name__ == "__main__":
    main()
