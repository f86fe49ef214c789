"""The command line and the settings, through the installed `coalition-bot` command and typer's runner.

A run of the installed command costs an interpreter's start (about two seconds of imports here): each command
runs whole-process once in the suite (db current, db upgrade, bootstrap, config check and extract here; console
and run in tests/e2e), its other cases in-process through the same typer app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app
from adapters.config import Settings, load_settings, unknown_settings
from bot.tlp import TLP

EXE = str(Path(sys.executable).with_name("coalition-bot"))


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**clean, **(env or {})}, input=stdin)


def test_settings_come_from_the_file_and_the_environment_wins(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("COALITION_"):
            monkeypatch.delenv(key)
    config = tmp_path / "coalition.toml"
    config.write_text('[policy]\ndefault_tlp = "green"\nauto_approve_confirmations = 3\n'
                      '[database]\nurl = "sqlite:///file.db"\n')
    monkeypatch.setenv("COALITION_POLICY_AUTO_APPROVE_CONFIRMATIONS", "2")
    settings = load_settings(config)
    policy = settings.policy.to_policy()
    assert policy.default_tlp is TLP.GREEN and policy.auto_approve_confirmations == 2
    assert settings.database.url.get_secret_value() == "sqlite:///file.db"
    monkeypatch.setenv("COALITION_DATABASE_URL", "postgresql://u:pw@db/coalition")
    assert load_settings(config).database.url.get_secret_value() == "postgresql://u:pw@db/coalition"


def test_a_named_config_file_must_exist_and_bad_values_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\ndefault_confidence = 250\n')
    result = CliRunner().invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == 2 and "Configuration error" in result.output and "default_confidence" in result.output


def test_config_check_never_prints_a_secret(tmp_path):
    done = run("config", "check", cwd=tmp_path, env={
        "COALITION_DATABASE_URL": "postgresql://bot:hunter2@db.example/coalition",
        "COALITION_SLACK_ENABLED": "true", "COALITION_SLACK_BOT_TOKEN": "xoxb-very-secret",
        "COALITION_SLACK_MODE": "http"})
    out = done.stdout + done.stderr
    assert "hunter2" not in out and "xoxb-very-secret" not in out
    assert "postgresql://bot:***@db.example/coalition" in out
    assert done.returncode == 1 and "slack.signing_secret is needed" in out


def test_db_upgrade_current_and_bootstrap_an_admin(tmp_path, no_coalition_env):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    before = CliRunner().invoke(app, ["db", "current", "--database", url])
    assert before.exit_code == 0 and "none (run: coalition-bot db upgrade)" in before.output, before.output
    assert run("db", "upgrade", "--database", url, cwd=tmp_path).returncode == 0
    current = run("db", "current", "--database", url, cwd=tmp_path).stdout
    assert current.startswith("current ") and current.split()[1].rstrip(";") == current.split()[-1]  # the latest
    done = run("bootstrap", "--org", "Coalition Secretariat", "--database", url, cwd=tmp_path)
    code = done.stdout.split("/ioc join ")[1].split("`")[0]
    script = f"/as root\n/ioc join {code}\n/ioc whoami\n/ioc admin org list\n/as eve\n/ioc join {code}\n"
    out = CliRunner().invoke(app, ["console", "--database", url], input=script).output
    assert "Welcome, root: you are now an admin of Coalition Secretariat." in out
    assert "Coalition Secretariat · sector" in out
    assert out.split("eve> ")[-1].count("unknown, used up or expired") == 1  # the code worked once only


def test_run_refuses_to_start_without_credentials(tmp_path, no_coalition_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["run"], env={"COALITION_DISCORD_ENABLED": "true"})
    assert done.exit_code == 2 and "discord.token" in done.output, done.output


def test_extract_command(tmp_path):
    done = run("extract", cwd=tmp_path, stdin="C2 at hxxp://evil[.]example/x and 198.51.100[.]7")
    assert '"url": ["http://evil.example/x"]' in done.stdout and '"ipv4": ["198.51.100.7"]' in done.stdout


def test_the_readme_carries_the_whole_configuration_reference():
    from adapters.config import DESCRIPTIONS, Settings, reference

    keys = {f"{s}.{k}" for s, f in Settings.model_fields.items() for k in type(f.default_factory()).model_fields}
    assert keys == set(DESCRIPTIONS)  # every setting is described, nothing described is gone
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert reference() in readme  # regenerate with `coalition-bot config reference` when settings change


# -- a typo in a key is an error naming the key and the nearest valid one, in config check and at start


def typo(key: str) -> str:
    """`key` with two neighbouring different letters swapped (default_confidence -> defualt_confidence)."""
    i = next(i for i in range(len(key) // 2, len(key)) if key[i - 1] != key[i])
    return key[:i - 1] + key[i] + key[i - 1] + key[i + 1:]


SETTINGS = [(section, key) for section, field in Settings.model_fields.items()
            for key in type(field.default_factory()).model_fields]


@pytest.fixture
def no_coalition_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("COALITION_"):
            monkeypatch.delenv(key)


def test_every_setting_mistyped_in_the_file_or_the_environment_is_named_with_the_right_one():
    assert len(SETTINGS) > 50
    for section, key in SETTINGS:
        wrong = typo(key)
        assert unknown_settings({section: {wrong: 1}}, {}) == [
            f"[{section}] {wrong} is not a setting; did you mean {key}?"]
        variable = f"COALITION_{section}_{wrong}".upper()
        right = f"COALITION_{section}_{key}".upper()
        assert unknown_settings({}, {variable: "1"}) == [
            f"environment variable {variable} is not a setting; did you mean {right}?"]
    # and every real one passes, in the file and in the environment; so do variables that are not ours
    every = {section: {key: 1 for s, key in SETTINGS if s == section} for section in Settings.model_fields}
    environ = {f"COALITION_{s}_{k}".upper(): "1" for s, k in SETTINGS}
    environ |= {"COALITION_CONFIG": "x.toml", "COALITION_TEST_POSTGRES_URL": "x", "COALITION_REQUIRE_POSTGRES": "1"}
    assert unknown_settings(every, environ) == []


@pytest.mark.parametrize("section", list(Settings.model_fields))
def test_config_check_refuses_a_mistyped_key_in_every_section(section, tmp_path, no_coalition_env):
    key = next(k for s, k in SETTINGS if s == section)
    config = tmp_path / "coalition.toml"
    config.write_text(f"[{section}]\n{typo(key)} = 1\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 2
    assert f"Configuration error: [{section}] {typo(key)} is not a setting; did you mean {key}?" in result.output
    assert "Configuration is valid" not in result.output


def test_unknown_sections_top_level_keys_and_variables_are_refused_with_a_suggestion(tmp_path, no_coalition_env,
                                                                                       monkeypatch):
    config = tmp_path / "coalition.toml"
    config.write_text('url = "sqlite:///x.db"\n[databse]\nurl = "sqlite:///x.db"\n[sneaky]\nx = 1\n'
                      '[policy]\nDefault_TLP = "red"\n')
    monkeypatch.setenv("COALITION_SLAK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("COALITION_TEST_SOMETHING", "not ours: left alone")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 2
    lines = [line.removeprefix("Configuration error: ") for line in result.output.splitlines()]
    assert lines == [
        "url at the top of the file is not a setting (settings go in sections); did you mean url under [database]?",
        "[databse] is not a section; did you mean [database]?",
        "[sneaky] is not a section; valid ones are " + ", ".join(f"[{s}]" for s in Settings.model_fields),
        "[policy] Default_TLP is not a setting; did you mean default_tlp?",
        "environment variable COALITION_SLAK_BOT_TOKEN is not a setting; did you mean COALITION_SLACK_BOT_TOKEN?",
    ]
    assert "xoxb-secret-value" not in result.output


@pytest.mark.parametrize("command", ["run", "console"])
def test_run_and_console_refuse_to_start_on_a_mistyped_key(command, tmp_path, no_coalition_env, monkeypatch):
    (tmp_path / "coalition.toml").write_text("[policy]\ndefualt_confidence = 70\n")
    monkeypatch.chdir(tmp_path)  # the default ./coalition.toml, as an operator would start it
    result = CliRunner().invoke(app, [command], input="/ioc whoami\n", env={
        "COALITION_DISCORD_ENABLED": "true", "COALITION_DISCORD_TOKEN": "x", "COALITION_DISCORD_APPLICATION_ID": "1"})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("Configuration error: [policy] defualt_confidence is not a setting; "
                                     "did you mean default_confidence?")
    assert not (tmp_path / "coalition.db").exists()  # it stopped before touching anything


def test_a_file_that_is_not_toml_is_explained(tmp_path, no_coalition_env):
    config = tmp_path / "coalition.toml"
    config.write_text("[policy\n")
    result = CliRunner().invoke(app, ["config", "check", "--config", str(config)])
    assert result.exit_code == 2 and f"Configuration error: {config} is not valid TOML" in result.output
