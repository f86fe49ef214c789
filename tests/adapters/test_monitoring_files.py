"""deploy/ (issue 14): the Grafana dashboard queries only metrics the bot exposes, under the names Prometheus
gives them, and the files compose.yaml mounts for monitoring exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import generate_latest

from adapters.ops import Metrics
from bot.dispatcher import Handled
from bot.domain import OutboxEvent, Platform

ROOT = Path(__file__).resolve().parents[2]


def exposed() -> set[str]:
    """Every series name /metrics serves once each metric has a sample."""
    metrics = Metrics()
    metrics.command_handled(Handled("lookup", Platform.SLACK, "ok", 0.01))
    metrics.delivery("delivered", OutboxEvent(1, "indicator.approved", {}, Platform.SLACK, datetime.now(UTC)))
    metrics.outbox_depth.labels("slack").set(1)
    metrics.outbox_age.labels("slack").set(1)
    text = generate_latest(metrics.registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_the_dashboard_queries_only_what_the_bot_exposes() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bcoalition_[a-z_]+", target["expr"])}
    names = exposed()
    assert queried and queried <= names, sorted(queried - names)
    assert {"coalition_outbox_oldest_seconds", "coalition_deliveries_total"} <= queried  # the alerts README names
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_mounts_files_that_exist() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    mounted = re.findall(r"- \./([^:]+):", compose)
    assert "deploy/grafana-dashboard.json" in mounted and "deploy/prometheus.yml" in mounted
    for path in mounted:
        if path != "coalition.toml":  # the operator's own settings, never committed
            assert (ROOT / path).exists(), path
