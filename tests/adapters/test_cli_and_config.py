"""The command line and the settings, through the installed `coalition-bot` command and typer's runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app
from adapters.config import load_settings
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
    bad.write_text('[policy]\ndefault_confidence = 250\n[sneaky]\nx = 1\n')
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


def test_db_upgrade_current_and_bootstrap_an_admin(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert "none (run: coalition-bot db upgrade)" in run("db", "current", "--database", url, cwd=tmp_path).stdout
    assert run("db", "upgrade", "--database", url, cwd=tmp_path).returncode == 0
    current = run("db", "current", "--database", url, cwd=tmp_path).stdout
    assert current.startswith("current ") and current.split()[1].rstrip(";") == current.split()[-1]  # the latest
    done = run("bootstrap", "--org", "Coalition Secretariat", "--database", url, cwd=tmp_path)
    code = done.stdout.split("/ioc join ")[1].split("`")[0]
    script = f"/as root\n/ioc join {code}\n/ioc whoami\n/ioc admin org list\n/as eve\n/ioc join {code}\n"
    out = run("console", "--database", url, cwd=tmp_path, stdin=script).stdout
    assert "Welcome, root: you are now an admin of Coalition Secretariat." in out
    assert "Coalition Secretariat · sector" in out
    assert out.split("eve> ")[-1].count("unknown, used up or expired") == 1  # the code worked once only


def test_run_refuses_to_start_without_credentials(tmp_path):
    done = run("run", cwd=tmp_path, env={"COALITION_DISCORD_ENABLED": "true"})
    assert done.returncode == 2 and "discord.token" in done.stderr


def test_extract_command(tmp_path):
    done = run("extract", cwd=tmp_path, stdin="C2 at hxxp://evil[.]example/x and 198.51.100[.]7")
    assert '"url": ["http://evil.example/x"]' in done.stdout and '"ipv4": ["198.51.100.7"]' in done.stdout


def test_the_readme_carries_the_whole_configuration_reference():
    from adapters.config import DESCRIPTIONS, Settings, reference

    keys = {f"{s}.{k}" for s, f in Settings.model_fields.items() for k in type(f.default_factory()).model_fields}
    assert keys == set(DESCRIPTIONS)  # every setting is described, nothing described is gone
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert reference() in readme  # regenerate with `coalition-bot config reference` when settings change
