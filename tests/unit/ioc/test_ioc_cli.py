"""adapters.extract.run_extract and the `coalition-bot extract` command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from adapters.extract import run_extract


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
