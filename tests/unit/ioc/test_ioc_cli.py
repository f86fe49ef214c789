"""adapters.extract.run_extract and the `coalition-bot extract` command."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

from adapters.extract import lines_of, run_extract


def _run(text: str, **kw) -> tuple[int, str]:
    out = io.StringIO()
    code = run_extract(io.StringIO(text), out, **{"jsonl": False, "warn": False, **kw})
    return code, out.getvalue()


def test_plain_text() -> None:
    code, out = _run("hxxp://evil[.]com/x and 1.2.3[.]4\nsecond line evil2.net\n")
    assert code == 0
    assert json.loads(out) == {"ipv4": ["1.2.3.4"], "domain": ["evil2.net"], "url": ["http://evil.com/x"]}


def test_jsonl_alignment_and_errors() -> None:
    lines = [json.dumps("see 1.2.3[.]4"), "not json", json.dumps({"a": 1}), json.dumps("nothing"),
             json.dumps("bad[@]evil[.]com")]
    code, out = _run("\n".join(lines) + "\n", jsonl=True)
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0
    assert len(rows) == 5
    assert rows[0] == {"ipv4": ["1.2.3.4"]}
    assert "error" in rows[1] and "JSON string" in rows[1]["error"]
    assert "error" in rows[2]
    assert rows[3] == {}
    assert rows[4] == {"email": ["bad@evil.com"]}


def test_warn() -> None:
    code, out = _run(json.dumps("8.8.8.8 and evil-xyz.top") + "\n", jsonl=True, warn=True)
    row = json.loads(out)
    assert row["ipv4"] == ["8.8.8.8"]
    assert row["warninglists"] == {"8.8.8.8": ["List of known IPv4 public DNS resolvers"]}
    _, out = _run("8.8.8.8", warn=True, include=["rfc1918"])
    assert json.loads(out)["warninglists"] == {}
    code, out = _run("x", warn=True, include=["nope"])
    assert code == 2 and "error" in json.loads(out)


def test_console_script_jsonl() -> None:
    exe = Path(sys.executable).parent / "coalition-bot"
    inp = json.dumps("hxxps://evil[.]example/login 198.51.100[.]7") + "\n" + json.dumps("CVE-2024-3400") + "\n"
    proc = subprocess.run([str(exe), "extract", "--jsonl"], input=inp, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows == [{"ipv4": ["198.51.100.7"], "url": ["https://evil.example/login"]}, {"cve": ["CVE-2024-3400"]}]


def test_console_script_jsonl_answers_each_message_while_the_producer_waits() -> None:
    """A producer that writes one message and waits for its answer gets it (the answers are flushed whenever no
    more input is waiting), message after message."""
    exe = Path(sys.executable).parent / "coalition-bot"
    proc = subprocess.Popen([str(exe), "extract", "--jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        for message, expected in (("see 198.51.100[.]7", {"ipv4": ["198.51.100.7"]}),
                                  ("and CVE-2024-3400", {"cve": ["CVE-2024-3400"]})):
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline()) == expected  # blocks until answered (the test's timeout)
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=60)


def _text_lines(data: bytes) -> list[str]:
    """The lines a text stream reads (universal newlines), without their line breaks."""
    return [line.rstrip("\r\n") for line in io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None)]


def test_lines_are_read_as_a_text_stream_reads_them_wherever_the_reads_end() -> None:
    rng = random.Random(15)
    pieces = ['"a"', '"see 1.2.3[.]4"', "", "not json", '"é"', "x" * 70_000]
    for _ in range(300):
        data = "".join(rng.choice(pieces) + rng.choice(["\n", "\r\n", "\r"]) for _ in range(rng.randint(0, 8)))
        data += rng.choice(["", '"last, no line break"', "\r"])
        raw = data.encode()
        cuts = sorted(rng.sample(range(len(raw) + 1), min(len(raw) + 1, rng.randint(0, 6))))
        reads = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        batches = list(lines_of(reads))
        assert [line.decode() for batch in batches for line in batch] == _text_lines(raw), (data[:80], cuts)
        assert len(batches) <= len(reads) + 1  # a read's lines come before the next read; at the end, the last


def test_jsonl_reads_bytes_that_are_not_utf8_as_replacement_characters() -> None:
    proc = subprocess.run([str(Path(sys.executable).parent / "coalition-bot"), "extract", "--jsonl"],
                          input=b'"evil[.]com \xff"\r\n[1]\r"bad\n', capture_output=True, timeout=60, check=False)
    rows = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert rows[0] == {"domain": ["evil.com"]}
    assert rows[1]["error"].startswith("line 2 is JSON list, not a string")
    assert rows[2]["error"].startswith("line 3 is not valid JSON") and len(rows) == 3
