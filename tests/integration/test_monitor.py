"""`segstream monitor` over a lake with known tables, driven by a real headless Chromium: the
Overview shows the segments and their counts, the Drift page the alert, the stream-health page
the feed's latency now (from known `customer-scores` records on the real broker) and the
latest latency to Delta; SIGTERM stops it with exit code 0. Without a broker, the feed's
latency is the lake's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from playwright.sync_api import Page, sync_playwright

from segstream.config import LOOPBACK, Settings, load_settings
from segstream.runtime.processes import free_port, port_in_use, wait_for
from tests import monitor_lake
from tests.conftest import make_settings, on_broker
from viz import feed

pytestmark = pytest.mark.integration

# Debian's package (`make setup` installs it): Playwright's own browser download is not
# assumed to be reachable.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_WAIT_MS = 30_000


def table_rows(page: Page) -> list[list[str]]:
    """The cells of every row of every table on the page, as text."""
    return [
        [cell.strip() for cell in row.inner_text().split("\t") if cell.strip()]
        for row in page.locator("table tr").all()
    ]


# Purchase records 0.8 s and 2.6 s after their event was produced (p50 0.8 s and p95 2.6 s
# however the percentile is interpolated), and re-scores, whose latency is not the feed's.
_PURCHASE_LATENCIES = [0.8] * 60 + [2.6] * 40
_AGING_LATENCY = 50.0


def publish_scores(settings: Settings) -> None:
    topic = settings.topic_customer_scores
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **settings.kafka_client_options()
    )
    try:
        admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, **settings.kafka_client_options()
    )
    produced = time.time() - 600
    causes = [("purchase", s) for s in _PURCHASE_LATENCIES] + [("aging", _AGING_LATENCY)] * 5
    for n, (cause, latency) in enumerate(causes):
        body = {
            "customer_id": f"c{n}",
            "n_inputs": 1,
            "cause": cause,
            "produced_at": datetime.fromtimestamp(produced + n, UTC).isoformat(),
        }
        producer.send(
            topic,
            key=body["customer_id"].encode(),
            value=json.dumps(body).encode(),
            timestamp_ms=round((produced + n + latency) * 1000),
        )
    producer.flush()
    producer.close()


def test_feed_latency_is_none_without_a_broker(tmp_path: Path) -> None:
    nowhere = make_settings(tmp_path, kafka_bootstrap=f"{LOOPBACK}:{free_port(LOOPBACK)}")
    started = time.monotonic()
    assert feed.recent_latency(nowhere, timeout_s=1.0) is None
    assert time.monotonic() - started < 30


def test_monitor_shows_segments_and_drift_alert_then_stops(
    monitor_lake_settings: Settings, broker_settings: Settings
) -> None:
    settings = load_settings(
        **{
            **monitor_lake_settings.model_dump(),
            "monitor_refresh_s": 2.0,
            **on_broker(broker_settings),
            "topic_customer_scores": "monitor-scores",
        }
    )
    publish_scores(settings)
    # A demo whose stream failed twice in a row and waits to restart (this test plays its
    # supervisor).
    settings.demo_status_path().parent.mkdir(parents=True, exist_ok=True)
    settings.demo_status_path().write_text(
        json.dumps(
            {
                "supervisor_pid": os.getpid(),
                "processes": {
                    "stream": {
                        "state": "restarting",
                        "failures_in_a_row": 2,
                        "last_failure": "exited with code 1",
                        "restart_in_s": 2.0,
                    },
                    "monitor": {"state": "running", "failures_in_a_row": 0},
                },
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "monitor"],
        env=settings.to_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: port_in_use(LOOPBACK, settings.monitor_port), 60), "not serving"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://{LOOPBACK}:{settings.monitor_port}/")
                page.get_by_text("At Risk").first.wait_for(timeout=_WAIT_MS)
                page.get_by_text(
                    "stream exited with code 1: restarting in 2 s (failure 2 in a row"
                ).wait_for(timeout=_WAIT_MS)
                assert page.get_by_text("monitor exited").count() == 0
                shown = {row[1]: int(row[2]) for row in table_rows(page) if row[0].isdigit()}
                assert shown == monitor_lake.EXPECTED_SIZES
                page.get_by_role("link", name="Drift").click()
                alert = page.get_by_text("feature_psi: recency_days = 0.432")
                alert.wait_for(timeout=_WAIT_MS)
                assert "model v2" in alert.inner_text()
                page.get_by_role("link", name="Stream health").click()
                page.get_by_text("To the feed p50 / p95").wait_for(timeout=_WAIT_MS)
                page.get_by_text("0.8 / 2.6 s").wait_for(timeout=_WAIT_MS)
                assert page.get_by_text("1.2 / 3.4 s").count() == 0
                page.get_by_text("4.5 / 6.7 s").wait_for(timeout=_WAIT_MS)
                # Streamlit renders a page's parts one after the other: wait, then count.
                page.get_by_text("Customer state").first.wait_for(timeout=_WAIT_MS)
                assert page.get_by_text("Customer state").count() == 1
            finally:
                browser.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert f"monitor at http://{LOOPBACK}:{settings.monitor_port}" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
