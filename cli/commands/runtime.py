"""`segstream config | jars | kafka | topics`: settings, jar cache, embedded broker, topics."""

from __future__ import annotations

import argparse
import json
import time

from cli.commands import Add
from segstream.config import Settings


def register(add: Add) -> None:
    add("config", cmd_config, "print the effective settings (secrets masked)", "segstream config")
    add(
        "jars",
        cmd_jars,
        "resolve the Kafka broker, Kafka source and Delta jars into the cache and build the "
        "local file system jar",
        "segstream jars",
    )
    p = add(
        "kafka",
        cmd_kafka,
        "start, stop or inspect the embedded single-node KRaft broker",
        "segstream kafka start --kafka-port 19092 --kafka-controller-port 19093",
    )
    p.add_argument("action", choices=["start", "stop", "status"])
    add(
        "topics",
        cmd_topics,
        "create the transactions and customers topics if missing",
        "SEGSTREAM_KAFKA_BOOTSTRAP=broker1:9092 segstream topics",
    )


def cmd_config(settings: Settings, _args: argparse.Namespace) -> int:
    print(json.dumps(settings.masked(), indent=2))
    return 0


def cmd_jars(settings: Settings, _args: argparse.Namespace) -> int:
    from segstream.runtime import jars, local_fs

    started = time.monotonic()
    resolved = jars.resolve_all(settings)
    for name, paths in resolved.items():
        print(f"{name}: {len(paths)} jars in {settings.jars}")
    fs_jar = local_fs.jar(settings)
    print(f"local file system: {fs_jar or 'Hadoop default (no javac to build it)'}")
    print(f"ready in {time.monotonic() - started:.1f} s")
    return 0


def cmd_kafka(settings: Settings, args: argparse.Namespace) -> int:
    from segstream.runtime import kafka_broker, topics

    if args.action == "start":
        already = kafka_broker.status(settings).running
        started = time.monotonic()
        st = kafka_broker.start(settings)
        created = topics.ensure_topics(settings)
        verb = "already running" if already else f"started in {time.monotonic() - started:.1f} s"
        print(f"kafka {verb}: {st.bootstrap} (pid {st.pid}), log {st.log_file}")
        if created:
            print(f"created topics: {', '.join(created)}")
        return 0
    if args.action == "stop":
        print("kafka stopped" if kafka_broker.stop(settings) else "kafka was not running")
        return 0
    st = kafka_broker.status(settings)
    state = f"running (pid {st.pid})" if st.running else "stopped"
    print(f"kafka {state}: {st.bootstrap}")
    return 0 if st.running else 3


def cmd_topics(settings: Settings, _args: argparse.Namespace) -> int:
    from segstream.runtime import topics

    created = topics.ensure_topics(settings)
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0
