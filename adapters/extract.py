"""``coalition-bot extract``: indicators of compromise from standard input, as JSON."""

from __future__ import annotations

import contextlib
import json
import select
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

import orjson

from bot.ioc import WarningLists, extract


def _result(text: str, wl: WarningLists | None) -> dict[str, object]:
    found = extract(text)
    out: dict[str, object] = {}
    for obs in found:
        out.setdefault(obs.type.value, []).append(obs.value)  # type: ignore[union-attr]
    if wl is not None:
        hits: dict[str, list[str]] = {}
        for obs in found:
            names = wl.match(obs)
            if names:
                hits[obs.value] = names
        out["warninglists"] = hits
    return out


def run_extract(
    stdin: TextIO,
    stdout: TextIO,
    *,
    jsonl: bool,
    warn: bool,
    include: list[str] | None = None,
    exclude: Iterable[str] = (),
    cache_dir: Path | None = None,
) -> int:
    """Read text on ``stdin``, write indicators as JSON on ``stdout``; return the exit code.

    Output object: ``{"ipv4": [...], "domain": [...], ...}``, one key per indicator type that has
    values (types in :class:`bot.ioc.IOCType` order, values canonical, de-duplicated, in order of
    first appearance; types without values are left out).

    ``jsonl``: every input line is one JSON string (one chat message); every output line is that
    message's object, in the same order, flushed line by line. A line that is not a JSON string
    (including a blank line) gives ``{"error": "..."}`` on its output line and processing goes on,
    so output line *n* always answers input line *n*.

    ``warn``: each object also gets ``"warninglists": {value: [list name, ...]}`` listing, for
    every extracted value found in a loaded MISP warninglist, the human names of those lists
    (``"List of known IPv4 public DNS resolvers"``). Values in no list are not keys; the key is
    present (possibly ``{}``) whenever ``warn`` is set. ``include`` (None: the default subset)
    and ``exclude`` are MISP list folder names. An unknown list name writes one
    ``{"error": ...}`` object and returns exit code 2. ``cache_dir``: where the built index is cached.
    """
    if hasattr(stdin, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):  # already reading / not a real stream
            stdin.reconfigure(errors="replace")
    wl: WarningLists | None = None
    if warn:
        try:
            wl = WarningLists.load(include, exclude, cache_dir=cache_dir)
        except ValueError as exc:
            stdout.write(json.dumps({"error": f"{exc}. Use MISP list folder names such as "
                                     "'public-dns-v4'."}) + "\n")
            stdout.flush()
            return 2

    if not jsonl:
        stdout.write(json.dumps(_result(stdin.read(), wl), ensure_ascii=False) + "\n")
        stdout.flush()
        return 0

    pending = _more_waiting(stdin)
    for n, line in enumerate(stdin, start=1):
        line = line.rstrip("\r\n")
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            obj: dict[str, object] = {
                "error": f"line {n} is not valid JSON ({exc.msg} at column {exc.colno}); "
                "write each message as one JSON string per line, e.g. \"see 1.2.3[.]4\"",
            }
        else:
            if isinstance(message, str):
                obj = _result(message, wl)
            else:
                obj = {
                    "error": f"line {n} is JSON {type(message).__name__}, not a string; "
                    "write each message as one JSON string per line, e.g. \"see 1.2.3[.]4\"",
                }
        stdout.write(orjson.dumps(obj).decode() + "\n")
        if not pending():  # the producer waits for this answer: out it goes; more input waiting: keep writing
            stdout.flush()
    stdout.flush()
    return 0


def _more_waiting(stream: TextIO) -> Callable[[], bool]:
    """A predicate: is more input already waiting on `stream` (so that flushing can wait for the batch)? Every
    answer is flushed before the program waits for input, so a producer that waits for an answer gets it at once.
    Streams without a file descriptor (tests' StringIO) are read whole: flushed once at the end."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return lambda: True

    def waiting() -> bool:
        try:
            return bool(select.select([fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False
    return waiting
