"""``coalition-bot extract``: indicators of compromise from standard input, as JSON."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

import orjson

from bot.ioc import IOCType, WarningLists, extract


def _result(text: str, wl: WarningLists | None) -> dict[str, object]:
    found = extract(text)
    by_type: dict[IOCType, list[str]] = {}
    for obs in found:  # (a document has ~100,000: the type's name is looked up once a type, not once a value)
        by_type.setdefault(obs.type, []).append(obs.value)
    out: dict[str, object] = {t.value: values for t, values in by_type.items()}
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

    write = _writer(stdout)
    n = 0
    for lines in _line_batches(stdin):
        answers = []
        for line in lines:
            n += 1
            answers.append(orjson.dumps(_answer(n, line, wl), option=orjson.OPT_APPEND_NEWLINE))
        write(b"".join(answers))  # before the next read, which may wait for a producer waiting for these
    return 0


_HOW = "write each message as one JSON string per line, e.g. \"see 1.2.3[.]4\""


def _answer(n: int, line: bytes, wl: WarningLists | None) -> dict[str, object]:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # bytes that are not UTF-8 are read as U+FFFD, as a text stream would; or the JSON is bad
            message = orjson.loads(line.decode("utf-8", "replace"))
        except orjson.JSONDecodeError as exc:
            return {"error": f"line {n} is not valid JSON ({exc.msg} at column {exc.colno}); {_HOW}"}
    if not isinstance(message, str):
        return {"error": f"line {n} is JSON {type(message).__name__}, not a string; {_HOW}"}
    return _result(message, wl)


def _line_batches(stream: TextIO) -> Iterator[list[bytes]]:
    """The input's lines, in batches: each batch is the complete lines of what one read returned (up to 64 KB). A
    read returns what is waiting, so the answers to a batch go out before the program waits for more: a producer
    that writes a message and waits for its answer gets it, and a file is answered 64 KB at a time (not with a
    flush and a `select` a line). A stream without a file descriptor (tests' StringIO) is read in one go."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return lines_of([stream.read().encode("utf-8", "surrogatepass")])
    return lines_of(iter(lambda: os.read(fd, 1 << 16), b""))


def lines_of(reads: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of the bytes `reads` give, without their line breaks (\\n, \\r\\n or \\r, as a text stream reads
    them), a list for each read: the lines it ended."""
    started: list[bytes] = []  # the pieces of a line begun and not yet ended (kept apart: a line may be long)
    after_cr = False  # the last read ended with \r: a \n first in the next one ends no other line
    for chunk in reads:
        if after_cr and chunk:
            after_cr = False
            chunk = chunk[1:] if chunk[:1] == b"\n" else chunk
        if not chunk:
            continue
        if b"\n" not in chunk and b"\r" not in chunk:
            started.append(chunk)
            continue
        parts = b"".join([*started, chunk]).splitlines(keepends=True)
        started = [] if parts[-1].endswith((b"\n", b"\r")) else [parts.pop()]
        after_cr = not started and parts[-1].endswith(b"\r")
        yield [part.rstrip(b"\r\n") for part in parts]
    if started:  # the last line, without a line break
        yield [b"".join(started)]


def _writer(stream: TextIO) -> Callable[[bytes], None]:
    """Writes UTF-8 bytes to `stream` and flushes them: to its byte buffer when it has one (no decoding and
    encoding again), else as text."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        def write_text(data: bytes) -> None:
            stream.write(data.decode("utf-8"))
            stream.flush()
        return write_text
    stream.flush()

    def write(data: bytes) -> None:
        if data:
            buffer.write(data)
            buffer.flush()
    return write
