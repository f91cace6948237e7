"""The one place a SparkSession is built: Delta enabled, sized for the machine.

Locally it runs `spark_master` with the cached Kafka-source and Delta jars and never touches
the network; a local master also gets the local file system that forks no shell commands
(`segstream.runtime.local_fs`). Under `spark-submit` the master, jars and packages given
there are respected.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from segstream.config import LOOPBACK, Settings
from segstream.runtime import jars, local_fs

log = logging.getLogger(__name__)

_SPARK_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.kafka.name = org.apache.kafka
logger.kafka.level = error
logger.netutil.name = org.apache.hadoop.util.NativeCodeLoader
logger.netutil.level = error
"""


def under_spark_submit() -> bool:
    # spark-submit starts the Python driver with the JVM gateway already running.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _log4j_file(settings: Settings) -> Path:
    path = (settings.home / "spark-log4j2.properties").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != _SPARK_LOG4J2:
        path.write_text(_SPARK_LOG4J2)
    return path


def get_spark(settings: Settings, app_name: str, cores: int | None = None) -> SparkSession:
    """Returns the process's SparkSession, creating it on first use.

    Args:
        cores: the most cores the application takes of a cluster (`spark.cores.max`); a
            standalone master gives an application every free core otherwise, and a second
            application then waits for cores for ever. None: no bound.
    """
    logging.getLogger("py4j").setLevel(logging.WARNING)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        # Delta rebuilds a table's snapshot with 50 partitions by default: on a small machine
        # that made every read of a small table cost seconds; follow the shuffle setting.
        .config("spark.databricks.delta.snapshotPartitions", str(settings.spark_shuffle_partitions))
        # VACUUM lists a table's files in as many tasks as this says (10,000 by default): that
        # made compacting a 30-row table take 35 s here instead of 5 s.
        .config(
            "spark.sql.sources.parallelPartitionDiscovery.parallelism",
            str(settings.spark_shuffle_partitions),
        )
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "true")
        # Concurrent queries of one application then share the task slots by pool (each
        # query names its own) instead of queueing behind the first job submitted: the
        # stream's lake part runs a quick query beside two that write every event.
        .config("spark.scheduler.mode", "FAIR")
        .config(
            "spark.sql.streaming.stateStore.providerClass",
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        )
        # Each batch then uploads a changelog of the keys it touched instead of a RocksDB
        # checkpoint: the de-duplication state's commit took 112-142 ms instead of 314-560
        # ms per batch here (bench/RESULTS.md, design study).
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        .config("spark.sql.warehouse.dir", str((settings.home / "spark-warehouse").resolve()))
        # Python workers, where an executor needs one, run this interpreter and its packages.
        .config("spark.pyspark.python", sys.executable)
    )
    if cores is not None:
        builder = builder.config("spark.cores.max", str(cores))
    if not under_spark_submit():
        # Spark's web UI binds to SPARK_LOCAL_IP, else to every interface, whatever the
        # driver's bind address; the JVM started below inherits this environment.
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
        spark_jars = jars.resolve(settings, jars.spark_jars())
        log4j = f"-Dlog4j2.configurationFile={_log4j_file(settings).as_uri()}"
        builder = (
            builder.master(settings.spark_master)
            .config("spark.jars", ",".join(str(j) for j in spark_jars))
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.driver.host", LOOPBACK)
            .config("spark.driver.bindAddress", LOOPBACK)
            .config("spark.ui.enabled", str(settings.spark_ui).lower())
            .config("spark.ui.showConsoleProgress", "false")
            # No links that kill jobs or stages from a browser.
            .config("spark.ui.killEnabled", "false")
            .config("spark.driver.extraJavaOptions", log4j)
            .config("spark.local.dir", str((settings.home / "spark-tmp").resolve()))
        )
        fs_jar = local_fs.jar(settings) if settings.spark_master.startswith("local") else None
        if fs_jar is not None:
            # On the JVM's own classpath, where Hadoop's class loading finds it (spark.jars are
            # added later, to another class loader).
            builder = builder.config("spark.driver.extraClassPath", str(fs_jar))
            for key, value in local_fs.HADOOP_CONF.items():
                builder = builder.config(f"spark.hadoop.{key}", value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
