"""Issue 10's robustness examples through the console, as a person types them: each gets a clear answer that
names the limit, the console keeps running (no traceback, no exit 1), and nothing is stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = [  # what is typed, what the answer must say
    ("/ioc admin retry ²", "id: takes a whole number from 1 to 9,223,372,036,854,775,807"),
    ("/ioc admin retry 12345678901234567890", "id: takes a whole number from 1 to 9,223,372,036,854,775,807"),
    ("/ioc submit 203.0.113.9 valid:999999w", "valid: takes a duration from 1m to 3650d (ten years)"),
    ("/ioc search since:999999w", "since: takes a duration from 1m to 3650d"),
    ("/ioc admin invite create Northbank expires:999999w", "expires: takes a duration from 1m to 3650d"),
    ("/ioc submit http://evil.example/" + "a" * 2100, "a url has at most 2,048 characters (this one has 2,120)"),
    ("/ioc submit http://evil.example/\x00x", "contains a NUL character (U+0000), which cannot be stored"),
    ("/ioc admin org add Evil\x00Corp", "contains a NUL character (U+0000)"),
]


def test_the_named_examples_through_the_installed_console(tmp_path: Path):
    script = "/as admin\n" + "".join(f"{line}\n" for line, _ in EXAMPLES) + "/ioc search\n/ioc admin org list\n"
    exe = Path(sys.executable).with_name("coalition-bot")
    env = {**os.environ, "COALITION_CONFIG": ""}
    done = subprocess.run([str(exe), "console", "--demo"], input=script.encode(), capture_output=True,
                          timeout=120, cwd=tmp_path, env=env, check=False)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    assert "Traceback" not in out + err and "Something went wrong" not in out
    for _, answer in EXAMPLES:
        assert answer in out, answer
    assert "Evil" not in out.split("/ioc admin org list")[-1]  # nothing was stored


@pytest.mark.parametrize("line, answer", [
    ("/ioc submit 203.0.113.9 seen in our \ud800 gateway", "contains a lone surrogate (U+D800"),
    ("/ioc vote #1 fp \udfff", "contains a lone surrogate (U+DFFF"),
])
async def test_a_lone_surrogate_is_a_clear_answer(coalition, line, answer):
    await coalition.say("alice", "/ioc submit 198.51.100.77 tlp:green")
    out = await coalition.say("alice", line)
    assert answer in out and "Something went wrong" not in out
    assert "\ud800" not in out and "\udfff" not in out  # shown as \ud800, never echoed raw
