"""infra/grafana/corridor.json: a valid dashboard whose every query names metrics that /metrics really exposes."""

import json
import re
from typing import Any

from django.test import Client, override_settings

from tests.infra.settings_read import ROOT

DASHBOARD = ROOT / "infra" / "grafana" / "corridor.json"
# The metrics a query may name: Corridor's own and the client library's process metrics.
METRIC = re.compile(r"\b((?:corridor|process|python)_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}


def exposed_names() -> set[str]:
    with override_settings(DEBUG=True):
        response = Client().get("/metrics")
    assert response.status_code == 200
    names: set[str] = set()
    for line in response.content.decode().splitlines():
        if match := re.match(r"# TYPE (\S+) (\S+)", line):
            name, kind = match.groups()
            base = name.removesuffix("_total") if kind == "counter" else name
            names |= {base, *(base + suffix for suffix in SUFFIXES.get(kind, ()))}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found += [target["expr"] for target in inner.get("targets", [])]
    return found


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])


def test_every_query_names_metrics_that_metrics_exposes() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = exposed_names()
    expressions = queries(dashboard)
    assert len(expressions) >= 15
    used: set[str] = set()
    for expression in expressions:
        names = set(METRIC.findall(expression))
        assert names, f"no Corridor or process metric in {expression!r}"
        missing = names - exposed
        assert not missing, f"{expression!r} names {sorted(missing)}, which /metrics does not expose"
        used |= names
    # The dashboard covers what operations watch.
    for name in (
        "corridor_live_sockets",
        "corridor_live_participants",
        "corridor_live_joins_total",
        "corridor_live_fanout_seconds_bucket",
        "corridor_sfu_publishers",
        "corridor_sfu_subscribers",
        "corridor_sfu_link_kbps",
        "corridor_sfu_link_loss_percent",
        "corridor_celery_queue_length",
        "corridor_celery_task_failures_total",
    ):
        assert name in used, name


def test_a_misspelt_metric_would_be_caught() -> None:
    assert "corridor_live_sockets" in exposed_names()
    assert "corridor_live_socket" not in exposed_names()
