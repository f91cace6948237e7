"""The monitor's entry point: `streamlit run viz/app.py` (which `segstream monitor` starts).

Settings come from the SEGSTREAM_* environment, like every other segstream process. Each
page body runs in a fragment that re-runs every `monitor_refresh_s`, so the page follows the
tables without reloading the browser.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from segstream.config import ConfigError, Settings, load_settings
from viz import pages

_PAGES: tuple[tuple[str, str, Callable[[Settings], None]], ...] = (
    ("Overview", "overview", pages.overview),
    ("Drift", "drift", pages.drift),
    ("Stream health", "stream", pages.stream_health),
    ("Models", "models", pages.models),
)


def _page(settings: Settings, title: str, url: str, render: Callable[[Settings], None]) -> st.Page:
    def body() -> None:
        pages.process_warnings(settings)
        render(settings)

    def run() -> None:
        st.fragment(body, run_every=settings.monitor_refresh_s, key=url)()

    return st.Page(run, title=title, url_path=url, default=url == _PAGES[0][1])


def main() -> None:
    st.set_page_config(page_title="segstream monitor", layout="wide")
    try:
        settings = load_settings()
    except ConfigError as exc:
        st.error(str(exc))
        st.stop()
    st.sidebar.caption(f"lake: {settings.lake.resolve()}")
    st.sidebar.caption(f"refresh every {settings.monitor_refresh_s:g} s")
    st.navigation([_page(settings, *spec) for spec in _PAGES]).run()


main()
