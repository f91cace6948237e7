"""The Spark UI, when enabled, listens on the loopback address only and offers no kill links."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_settings

pytestmark = pytest.mark.spark

# A session of its own (the suite's shared one has no UI): what its UI port listens on.
_PROBE = """
import ipaddress
import json
from urllib.parse import urlparse

import psutil

from segstream.config import load_settings
from segstream.spark_session import get_spark

settings = load_settings()
spark = get_spark(settings, "ui-probe")
port = urlparse(spark.sparkContext.uiWebUrl).port

def v4(ip):
    # Java listens on IPv6 sockets: 127.0.0.1 shows as ::ffff:127.0.0.1, any address as ::.
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


listening = sorted(
    {v4(c.laddr.ip) for c in psutil.net_connections("tcp")
     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
)
kill = spark.conf.get("spark.ui.killEnabled")
spark.stop()
print(json.dumps({"listening": listening, "kill": kill}))
"""


def test_the_ui_listens_on_loopback_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, spark_ui=True)
    env = settings.to_env()
    env.pop("SPARK_LOCAL_IP", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe == {"listening": ["127.0.0.1"], "kill": "false"}
