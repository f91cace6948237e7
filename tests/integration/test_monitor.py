"""`segstream monitor` over a lake with known tables, driven by a real headless Chromium: the
Overview shows the segments and their counts, the Drift page the alert, the stream-health page
the latest latencies to the feed and to Delta; SIGTERM stops it with exit code 0."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from segstream.config import LOOPBACK, Settings, load_settings
from segstream.runtime.processes import port_in_use, wait_for
from tests import monitor_lake

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


def test_monitor_shows_segments_and_drift_alert_then_stops(
    monitor_lake_settings: Settings,
) -> None:
    settings = load_settings(**{**monitor_lake_settings.model_dump(), "monitor_refresh_s": 2.0})
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
                shown = {row[1]: int(row[2]) for row in table_rows(page) if row[0].isdigit()}
                assert shown == monitor_lake.EXPECTED_SIZES
                page.get_by_role("link", name="Drift").click()
                alert = page.get_by_text("feature_psi: recency_days = 0.432")
                alert.wait_for(timeout=_WAIT_MS)
                assert "model v2" in alert.inner_text()
                page.get_by_role("link", name="Stream health").click()
                page.get_by_text("To the feed p50 / p95").wait_for(timeout=_WAIT_MS)
                page.get_by_text("1.2 / 3.4 s").wait_for(timeout=_WAIT_MS)
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
