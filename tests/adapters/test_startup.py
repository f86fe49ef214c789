"""Start-up (issue 15): what each command loads before its first output. The timings are in bench/startup.py;
these tests pin the means: the warninglist index comes from a sound cache file or is rebuilt, the schema is
migrated only when behind, `run` with nothing enabled answers before touching the database, and commands do not
import the platforms, aiohttp, STIX libraries, Alembic or the warninglist package they do not use."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.ioc import IOCType, Observable, extract
from bot.ioc import warninglists as wl_module
from bot.ioc.warninglists import WarningLists
from storage.engine import make_engine
from storage.migrate import _alembic_head, current, head, upgrade_if_behind

ROOT = Path(__file__).resolve().parents[2]
# Runs the command line in this interpreter, then writes the names of the modules it imported to $MODULES_OUT (at
# exit: `main` ends the process itself, after the exit functions).
PROBE = ("import atexit, json, os, sys\n"
         "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w').write(json.dumps(sorted(sys.modules))))\n"
         "from adapters.cli import main\nmain()\n")
UNUSED_BY_STORE_COMMANDS = ("slack_bolt", "slack_sdk", "discord", "aiohttp", "stix2", "stix2validator", "alembic",
                            "pymispwarninglists", "jsonschema", "matplotlib", "pymisp",
                            # on a SQLite store: only the dialect and the driver in use
                            "asyncpg", "sqlalchemy.dialects.postgresql")
# What no command needs to parse its arguments or print its help.
UNUSED_BY_HELP = (*UNUSED_BY_STORE_COMMANDS, "sqlalchemy", "storage.models", "bot.dispatcher", "re2", "ahocorasick",
                  "rich.progress")
# The core's chat commands, their results and the deliverers: commands that run no chat command do without them.
CHAT_CORE = ("bot.dispatcher", "bot.delivery", "bot.services", "bot.commands")
# The extraction engine's patterns: compiled only by what reads values.
IOC_ENGINE = ("bot.ioc.extraction", "bot.ioc.refanging")

SAMPLES = [Observable(IOCType.IPV4, "8.8.8.8"), Observable(IOCType.IPV4, "10.1.2.3"),
           Observable(IOCType.CIDR, "192.168.0.0/24"), Observable(IOCType.DOMAIN, "mail.google.com"),
           Observable(IOCType.URL, "https://www.microsoft.com/x"), Observable(IOCType.IPV6, "2001:db8::1"),
           Observable(IOCType.MD5, "d41d8cd98f00b204e9800998ecf8427e"), Observable(IOCType.DOMAIN, "evil.example")]


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("warninglists-*.cache"))


def test_the_cached_index_answers_like_the_built_one_and_is_read_not_rebuilt(tmp_path, monkeypatch):
    built = WarningLists.load()
    first = WarningLists.load(cache_dir=tmp_path)
    [path] = cache_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # written atomically: no temporary file left
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["key"]["lists"] == list(wl_module.DEFAULT_WARNINGLISTS)
    assert header["key"]["pymispwarninglists"]

    def no_build(cls, selection):  # type: ignore[no-untyped-def]
        raise AssertionError("the index was built again although a sound cache file is there")

    monkeypatch.setattr(WarningLists, "_build", classmethod(no_build))
    cached = WarningLists.load(cache_dir=tmp_path)
    assert cached.names == built.names
    for obs in SAMPLES:
        assert cached.match(obs) == first.match(obs) == built.match(obs), obs
    assert cached.match(Observable(IOCType.IPV4, "8.8.8.8")) and not cached.match(SAMPLES[-1])


def test_the_cache_file_answers_by_search_then_from_memory_as_the_built_index(tmp_path, monkeypatch):
    """A few values are answered from the file's sorted records; after LOOKUPS_BEFORE_LOADING values the records
    are read into memory once. Both answer every value as the index built from the lists."""
    built = WarningLists.load()
    WarningLists.load(cache_dir=tmp_path)
    values = [*SAMPLES, *extract(
        "1.1.1.1 9.9.9.9 172.16.0.1 100.64.0.1 192.0.2.1 10.0.0.0/8 10.1.0.0/16 8.0.0.0/8 2001:4860:4860::8888 "
        "fe80::1 ff02::1 www.google.com a.b.c.microsoft.com evil.github.io x.blogspot.com google.com evil-google.com "
        "login.microsoftonline.com https://docs.google.com/x user@gmail.com a@b.example http://10.0.0.1/a "
        "http://[2001:db8::1]/x 44d88612fea8a8f36de82e1278abb02f "
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f d41d8cd98f00b204e9800998ecf8427e "
        "da39a3ee5e6b4b0d3255bfef95601890afd80709 "
        "eicar.com www.eicar.org 127.0.0.1 0.0.0.0 localhost.example whatismyip.com")]
    monkeypatch.setattr(wl_module, "LOOKUPS_BEFORE_LOADING", len(values) + 1)
    cached = WarningLists.load(cache_dir=tmp_path)
    assert cached._records is not None
    for obs in values:  # from the file
        assert cached.match(obs) == built.match(obs), obs
    assert cached._records is not None and any(built.match(obs) for obs in values)
    for obs in values:  # the first of these reads the records into memory
        assert cached.match(obs) == built.match(obs), obs
    assert cached._records is None and isinstance(cached._parts[wl_module.NET4], dict)
    assert {part: dict(cached._parts[part]) for part in wl_module._PARTS} == {
        part: {key: tuple(names) for key, names in built._parts[part].items()} for part in wl_module._PARTS}


def test_the_cache_is_keyed_by_the_installed_version_read_without_scanning_every_distribution(monkeypatch):
    from importlib import metadata

    installed = metadata.version("pymispwarninglists")

    def no_scan(name):  # type: ignore[no-untyped-def]
        raise AssertionError("importlib.metadata read although the .dist-info folder is beside the package")

    monkeypatch.setattr(metadata, "version", no_scan)
    assert wl_module._cache_key([])["pymispwarninglists"] == installed


def test_another_selection_or_package_version_is_another_cache_entry(tmp_path, monkeypatch):
    WarningLists.load(cache_dir=tmp_path)
    only = WarningLists.load(["rfc1918"], cache_dir=tmp_path)
    assert len(cache_files(tmp_path)) == 2 and only.names == ("rfc1918",)
    assert not only.match(Observable(IOCType.IPV4, "8.8.8.8"))  # not the default selection's file

    real_version = wl_module._cache_key
    monkeypatch.setattr(wl_module, "_cache_key", lambda sel: {**real_version(sel), "pymispwarninglists": "99.0"})
    WarningLists.load(["rfc1918"], cache_dir=tmp_path)
    assert len(cache_files(tmp_path)) == 3  # a new version of the lists is never answered from the old index


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not json", "stale key", "wrong shape", "bad record"])
def test_a_damaged_or_stale_cache_file_is_rebuilt_not_trusted(tmp_path, monkeypatch, damage):
    lists = ["rfc1918", "public-dns-v4"]
    WarningLists.load(lists, cache_dir=tmp_path)
    [path] = cache_files(tmp_path)
    data = path.read_bytes()
    header, body = data.split(b"\n", 1)
    meta, records = body.split(b"\n", 1)
    # 8.8.8.8's record: its network's key and the group of list names it refers to
    dns = b"4\t%d\t" % wl_module._net_key(32, 32, int(ipaddress.ip_address("8.8.8.8")))
    assert dns in records

    def with_checksum(body: bytes) -> bytes:  # a sound checksum over what follows
        key = json.loads(header)
        key["sha256"] = hashlib.sha256(body).hexdigest()
        return json.dumps(key).encode() + b"\n" + body

    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # a changed value: "8.8.8.8" would no longer be on the list
        path.write_bytes(data.replace(dns, dns[:-1] + b"1\t"))  # another key
    elif damage == "not json":
        path.write_bytes(b"\x00" * 100)
    elif damage == "stale key":
        key = json.loads(header)
        key["key"]["format"] = -1
        path.write_bytes(json.dumps(key).encode() + b"\n" + body)
    elif damage == "wrong shape":  # its second line is not what records refer to
        path.write_bytes(with_checksum(json.dumps({"names": ["rfc1918"], "human": {}}).encode() + b"\n" + records))
    else:  # the second line is sound, a record is not: found when a look-up reads it
        start = records.index(dns)
        end = records.index(b"\n", start)
        path.write_bytes(with_checksum(meta + b"\n" + records[:start] + dns + b"x" + records[end:]))
    assert path.read_bytes() != data
    index = WarningLists.load(lists, cache_dir=tmp_path)
    assert index.match(Observable(IOCType.IPV4, "8.8.8.8")) and index.match(Observable(IOCType.IPV4, "10.0.0.1"))
    # ... and the file was written again, sound: the next load reads it, and builds nothing
    assert path.read_bytes() == data

    def no_build(cls, selection):  # type: ignore[no-untyped-def]
        raise AssertionError("the index was built again although a sound cache file is there")

    monkeypatch.setattr(WarningLists, "_build", classmethod(no_build))
    assert WarningLists.load(lists, cache_dir=tmp_path).match(Observable(IOCType.IPV4, "8.8.8.8"))


def test_an_unwritable_cache_directory_costs_only_time(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    index = WarningLists.load(["rfc1918"], cache_dir=blocked / "cache")
    assert index.match(Observable(IOCType.IPV4, "10.0.0.1"))


def test_head_read_from_the_files_is_alembics_head():
    assert head() == _alembic_head()


async def test_the_schema_is_migrated_only_when_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    try:
        assert await upgrade_if_behind(engine, url) is True
        assert current(url) == head()
        assert await upgrade_if_behind(engine, url) is False
    finally:
        await engine.dispose()


def probe(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
          ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.json"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, input=stdin, env={**clean, "MODULES_OUT": str(out),
                                                          "COALITION_WARNINGLISTS_CACHE_DIR": str(tmp_path / "wl"),
                                                          **(env or {})})
    return done, set(json.loads(out.read_text())) if out.exists() else set()


def test_run_with_no_adapter_answers_before_touching_the_database(tmp_path):
    db = tmp_path / "never.db"
    done, modules = probe(tmp_path, "run", "--database", f"sqlite:///{db}")
    assert done.returncode == 2 and "No adapter is enabled" in done.stderr
    assert not db.exists() and "sqlalchemy" not in modules and "storage.uow" not in modules


def test_commands_import_only_what_they_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    done, _ = probe(tmp_path, "bootstrap", "--org", "Northbank", "--database", url)  # migrates the new file
    assert done.returncode == 0, done.stderr

    done, modules = probe(tmp_path, "export", "--database", url)
    assert done.returncode == 0 and json.loads(done.stdout)["type"] == "bundle", done.stderr
    assert modules.isdisjoint(UNUSED_BY_STORE_COMMANDS), modules.intersection(UNUSED_BY_STORE_COMMANDS)
    assert "bot.ioc.warninglists" not in modules or not list((tmp_path / "wl").glob("*"))  # no index loaded

    source = tmp_path / "in.txt"
    source.write_text("203.0.113.7\nevil-login.example\n")
    done, modules = probe(tmp_path, "import", str(source), "--org", "Northbank", "--database", url)
    assert done.returncode == 0 and "2" in done.stdout, done.stderr
    assert modules.isdisjoint(UNUSED_BY_STORE_COMMANDS), modules.intersection(UNUSED_BY_STORE_COMMANDS)
    assert cache_files(tmp_path / "wl"), "import matches values: the index is built and cached"
    unused = {"bot.dispatcher", "bot.delivery", "bot.commands.grammar", "bot.services.analysts", "bot.services.admin"}
    assert modules.isdisjoint(unused), modules.intersection(unused)  # no chat command runs: no dispatcher
    assert "rich.progress" not in modules  # standard error is a pipe: progress lines, no bar to draw

    done, modules = probe(tmp_path, "console", "--database", url, stdin="/ioc help\n")
    assert done.returncode == 0 and "/ioc" in done.stdout, done.stderr
    assert modules.isdisjoint(UNUSED_BY_STORE_COMMANDS), modules.intersection(UNUSED_BY_STORE_COMMANDS)
    exchange = {"bot.stix", "bot.misp.reader", "bot.exchange", "bot.services.exchange"}  # until an export or import
    assert modules.isdisjoint(exchange), modules.intersection(exchange)

    done, modules = probe(tmp_path, "extract", stdin="see 8.8.8.8\n")
    assert json.loads(done.stdout) == {"ipv4": ["8.8.8.8"]}
    assert "sqlalchemy" not in modules and "pydantic_settings" not in modules
    assert "asyncio" not in modules  # only the commands that run a coroutine load it

    done, modules = probe(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("coalition-bot ")
    assert "pydantic" not in modules and "sqlalchemy" not in modules and "asyncio" not in modules


def test_help_imports_no_store_platform_or_stix_library(tmp_path):
    for args in (["--help"], ["export", "--help"], ["import", "--help"], ["console", "--help"]):
        done, modules = probe(tmp_path, *args)
        assert done.returncode == 0 and "Usage" in done.stdout, done.stderr
        assert modules.isdisjoint(UNUSED_BY_HELP), (args, modules.intersection(UNUSED_BY_HELP))


def test_commands_that_run_no_chat_command_open_the_store_without_the_core(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    done, modules = probe(tmp_path, "bootstrap", "--org", "Northbank", "--database", url)
    assert done.returncode == 0 and "Admin invite for Northbank" in done.stdout, done.stderr
    assert modules.isdisjoint(CHAT_CORE), modules.intersection(CHAT_CORE)

    done, _ = probe(tmp_path, "apikey", "create", "Northbank", "--database", url)
    assert done.returncode == 0 and done.stdout.startswith("k1 Northbank: "), done.stderr
    done, modules = probe(tmp_path, "apikey", "list", "--database", url)
    assert done.returncode == 0 and done.stdout.startswith("k1 Northbank"), done.stderr
    assert modules.isdisjoint(CHAT_CORE), modules.intersection(CHAT_CORE)
    assert modules.isdisjoint(UNUSED_BY_STORE_COMMANDS), modules.intersection(UNUSED_BY_STORE_COMMANDS)
    assert modules.isdisjoint(IOC_ENGINE), modules.intersection(IOC_ENGINE)  # it reads no value

    done, modules = probe(tmp_path, "export", "--database", url)
    assert done.returncode == 0 and json.loads(done.stdout)["type"] == "bundle", done.stderr
    # only UsageError of the commands (bot.commands.usage); no grammar, command values, results or services
    unused = {*CHAT_CORE, "bot.commands.grammar", "bot.commands.model", "bot.results"} - {"bot.commands"}
    assert modules.isdisjoint(unused), modules.intersection(unused)


def test_the_console_loads_the_warninglists_when_a_value_is_first_matched(tmp_path):
    done, _ = probe(tmp_path, "console", "--demo", stdin="/as alice\n/ioc help\n")
    assert done.returncode == 0 and "/ioc submit" in done.stdout, done.stderr
    assert not cache_files(tmp_path / "wl")  # help matches no value: the index was not loaded

    done, _ = probe(tmp_path, "console", "--demo", stdin="/as alice\n/ioc submit 8.8.8.8 tlp:green\n")
    assert done.returncode == 0 and "warninglist" in done.stdout, done.stdout + done.stderr
    assert cache_files(tmp_path / "wl")  # ... and a submission did load (and cache) it


async def test_a_schema_at_head_is_checked_with_one_query_on_both_backends(database_url: str) -> None:
    engine = make_engine(database_url)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        assert await upgrade_if_behind(engine, database_url) is False
    finally:
        await engine.dispose()
    assert [s for s in statements if not s.startswith(("PRAGMA", "BEGIN"))] == [
        "SELECT version_num FROM alembic_version"]


@pytest.mark.parametrize(("args", "status"), [(["--version"], 0), (["db", "current", "--database", "nope://x"], 1),
                                               (["no-such-command"], 2), (["--help"], 0)])
def test_main_ends_the_process_with_its_status_its_whole_output_and_the_exit_functions(tmp_path, args, status):
    """`main` ends the process without the interpreter's teardown: what is seen of an exit stays the same."""
    # an exit function that writes to the (buffered: a pipe) output: it runs, and what it wrote is flushed
    script = ("import atexit\natexit.register(print, 'the exit function ran')\n"
              "from adapters.cli import main\nmain()\nprint('not reached')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_") and k != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert done.returncode == status, done.stderr
    assert done.stdout.rstrip().endswith("the exit function ran") and "not reached" not in done.stdout
    if args == ["--help"]:  # the whole of a long output, through a pipe
        assert "╯" in done.stdout and "import" in done.stdout and "apikey" in done.stdout
    elif status:
        assert done.stderr.strip()


def test_pydantic_plugins_are_looked_for_only_when_the_operator_asks(tmp_path):
    """Looking for plugins reads every installed package's entry points; the bot uses none. An operator who wants
    one (instrumentation, say) sets PYDANTIC_DISABLE_PLUGINS empty, as pydantic documents."""
    site = tmp_path / "site"
    (site / "fakeplugin-1.0.dist-info").mkdir(parents=True)
    (site / "fakeplugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugin\n"
                                                              "Version: 1.0\n")
    (site / "fakeplugin-1.0.dist-info" / "entry_points.txt").write_text("[pydantic]\nfake = fakeplugin:plugin\n")
    (site / "fakeplugin.py").write_text(
        "import os\nopen(os.environ['PLUGIN_MARK'], 'a').write('loaded ')\n"
        "class Plugin:\n    def new_schema_validator(self, *args, **kwargs):\n        return None, None, None\n"
        "plugin = Plugin()\n")
    mark = tmp_path / "mark"
    env = {"PYTHONPATH": str(site), "PLUGIN_MARK": str(mark)}
    done, modules = probe(tmp_path, "config", "check", env=env)
    assert done.returncode == 0 and "Configuration is valid" in done.stdout, done.stderr
    assert "pydantic_settings" in modules and not mark.exists()

    done, modules = probe(tmp_path, "config", "check", env={**env, "PYDANTIC_DISABLE_PLUGINS": ""})
    assert done.returncode == 0 and "Configuration is valid" in done.stdout, done.stderr
    assert mark.read_text() == "loaded " and "fakeplugin" in modules
