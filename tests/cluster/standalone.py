"""A real Spark standalone cluster for tests: one master and one worker from pyspark's own
distribution, bound to 127.0.0.1 on free ports, with their folders under a temporary root.
Executors run in JVMs of their own, started by the worker."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyspark

from segstream.config import LOOPBACK
from segstream.runtime.processes import free_port, terminate_group, wait_for

_MASTER = "org.apache.spark.deploy.master.Master"
_WORKER = "org.apache.spark.deploy.worker.Worker"


def _env(root: Path) -> dict[str, str]:
    home = Path(pyspark.__file__).parent
    return {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": LOOPBACK,
        "SPARK_LOG_DIR": str(root / "logs"),
        # No REST submission server: it would take the fixed port 6066.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@contextmanager
def standalone_cluster(root: Path, cores: int = 2, memory: str = "4g") -> Iterator[str]:
    """Yields the master URL of a running cluster with one worker of `cores` cores; every
    process of it is stopped afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    env = _env(root)
    spark_class = str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")
    port = free_port(LOOPBACK)
    url = f"spark://{LOOPBACK}:{port}"
    master_log, worker_log = root / "master.log", root / "worker.log"
    master = _start(
        [
            spark_class,
            _MASTER,
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--webui-port",
            str(free_port(LOOPBACK)),
        ],
        env,
        master_log,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(
            lambda: "Successfully started service 'sparkMaster'" in master_log.read_text(), 60
        ), master_log.read_text()
        worker = _start(
            [
                spark_class,
                _WORKER,
                url,
                "--host",
                LOOPBACK,
                "--cores",
                str(cores),
                "--memory",
                memory,
                "--webui-port",
                str(free_port(LOOPBACK)),
                "--work-dir",
                str(root / "work"),
            ],
            env,
            worker_log,
        )
        assert wait_for(
            lambda: "Successfully registered with master" in worker_log.read_text(), 60
        ), worker_log.read_text()
        yield url
    finally:
        for proc in (worker, master):
            if proc is not None:
                terminate_group(proc.pid, 30)
                proc.wait()
