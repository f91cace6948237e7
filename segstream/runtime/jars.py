"""Resolves the JVM dependencies once into the jar cache (`SEGSTREAM_JARS`).

Two classpaths: `broker` (the Kafka broker with a log4j2 backend) and `spark` (Spark's Kafka
source and Delta). Resolution uses the Ivy jar that ships inside pyspark, so users need
Java and Python but not Maven. Ivy looks in `~/.m2/repository` first, so a machine that
reaches Maven Central only through `mvn` can pre-fetch there; an entry there without its POM
is passed over (Ivy would take the jar without its dependencies). Once a set is cached and
verified, nothing touches the network again.

The cache is safe to share: resolutions take turns (a file lock), each in a folder of its
own that is moved into place whole, and a cached set is used only when every jar recorded at
its resolution is still there, with its size, and the artifacts the set needs are among them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pyspark

from segstream.config import Settings
from segstream.runtime.errors import RuntimeSetupError

log = logging.getLogger(__name__)

SPARK_VERSION = pyspark.__version__
SCALA = "2.13"
DELTA_VERSION = "4.4.0"
LOG4J_VERSION = "2.25.4"
_DONE = ".resolved"
_LOCK = ".lock"


@dataclass(frozen=True)
class JarSet:
    """A named list of Maven coordinates resolved together into one folder."""

    name: str
    coordinates: tuple[str, ...]
    drop_spark_provided: bool
    # Artifacts (names without version) that must be among the jars: what the classpath
    # cannot work without, dependencies included.
    required: tuple[str, ...]

    @property
    def key(self) -> str:
        digest = hashlib.sha256("\n".join(self.coordinates).encode()).hexdigest()[:10]
        return f"{self.name}-{digest}"


def broker_jars(settings: Settings) -> JarSet:
    return JarSet(
        "broker",
        (
            f"org.apache.kafka:kafka_{SCALA}:{settings.kafka_version}",
            f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
            f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_VERSION}",
        ),
        drop_spark_provided=False,
        required=(
            f"kafka_{SCALA}",
            "kafka-clients",
            "kafka-server",
            "kafka-metadata",
            "kafka-raft",
            "kafka-storage",
            "scala-library",
            "log4j-api",
            "log4j-core",
            "log4j-slf4j2-impl",
            "slf4j-api",
        ),
    )


def spark_jars() -> JarSet:
    spark_minor = ".".join(SPARK_VERSION.split(".")[:2])
    return JarSet(
        "spark",
        (
            f"org.apache.spark:spark-sql-kafka-0-10_{SCALA}:{SPARK_VERSION}",
            f"io.delta:delta-spark_{spark_minor}_{SCALA}:{DELTA_VERSION}",
        ),
        # Spark already ships Jackson, Hadoop, Parquet, log4j...: a second, older copy on
        # the classpath would only invite version clashes.
        drop_spark_provided=True,
        required=(
            f"spark-sql-kafka-0-10_{SCALA}",
            f"spark-token-provider-kafka-0-10_{SCALA}",
            "kafka-clients",
            "commons-pool2",
            f"delta-spark_{spark_minor}_{SCALA}",
            "delta-storage",
        ),
    )


def pyspark_jar_dir() -> Path:
    return Path(pyspark.__file__).parent / "jars"


def java_executable() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeSetupError(
            "Java was not found on PATH: segstream needs a Java 17+ runtime "
            "(e.g. apt-get install openjdk-17-jre-headless) for Kafka and Spark"
        )
    return java


def _missing(jar_set: JarSet, jars: list[Path]) -> list[str]:
    def present(artifact: str) -> bool:
        prefix = f"{artifact}-"
        return any(j.name.startswith(prefix) and j.name[len(prefix) :][:1].isdigit() for j in jars)

    return [a for a in jar_set.required if not present(a)]


def cached(settings: Settings, jar_set: JarSet) -> list[Path] | None:
    """The set's jars if its folder holds a complete, verified resolution, else None."""
    folder = settings.jars / jar_set.key
    try:
        record = json.loads((folder / _DONE).read_text())
        sizes: dict[str, int] = record["jars"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    jars = sorted(folder.glob("*.jar"))
    found = {j.name: j.stat().st_size for j in jars}
    changed = sorted(n for n, size in sizes.items() if found.get(n) != size)
    missing = _missing(jar_set, jars)
    if changed or missing:
        log.warning(
            "the cached %s jars in %s are incomplete (%s): resolving them again",
            jar_set.name,
            folder,
            ", ".join([*(f"{n} missing or changed" for n in changed), *missing]),
        )
        return None
    return jars


@contextmanager
def _turn(settings: Settings) -> Iterator[None]:
    """One resolution at a time per jar cache (Ivy's own cache is not safe to share)."""
    settings.jars.mkdir(parents=True, exist_ok=True)
    with (settings.jars / _LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def resolve(settings: Settings, jar_set: JarSet) -> list[Path]:
    """Returns the jars of a set, resolving them first if they are not cached yet.

    Raises:
        RuntimeSetupError: Java is missing, a coordinate cannot be downloaded, or the
            resolution lacks an artifact the set needs.
    """
    hit = cached(settings, jar_set)
    if hit is not None:
        return hit
    with _turn(settings):
        # Another process may have resolved the set while this one waited.
        hit = cached(settings, jar_set)
        if hit is not None:
            return hit
        staging = Path(tempfile.mkdtemp(prefix=f".{jar_set.key}.", dir=settings.jars))
        try:
            return _resolve_into(settings, jar_set, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _resolve_into(settings: Settings, jar_set: JarSet, staging: Path) -> list[Path]:
    ivy_file = staging / "ivy.xml"
    ivy_file.write_text(_ivy_module(jar_set))
    settings_file = staging / "ivysettings.xml"
    settings_file.write_text(_ivy_settings(settings.maven_repo))
    ivy_jar = next(pyspark_jar_dir().glob("ivy-*.jar"), None)
    if ivy_jar is None:
        raise RuntimeSetupError(f"no Ivy jar inside pyspark at {pyspark_jar_dir()}")
    cmd = [
        java_executable(),
        "-jar",
        str(ivy_jar),
        "-settings",
        str(settings_file),
        "-ivy",
        str(ivy_file),
        "-cache",
        str(settings.jars / "ivy-cache"),
        "-retrieve",
        str(staging / "[artifact]-[revision](-[classifier]).[ext]"),
        "-confs",
        "default",
        "-types",
        "jar",
        "bundle",
    ]
    log.info("resolving %s jars: %s", jar_set.name, ", ".join(jar_set.coordinates))
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or "UNRESOLVED DEPENDENCIES" in proc.stdout:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeSetupError(
            f"could not resolve the {jar_set.name} jars from {settings.maven_repo} "
            f"(is the repository reachable? set SEGSTREAM_MAVEN_REPO for a mirror):\n{tail}"
        )
    if jar_set.drop_spark_provided:
        _drop_provided(staging)
    jars = sorted(staging.glob("*.jar"))
    missing = _missing(jar_set, jars)
    if missing:
        raise RuntimeSetupError(
            f"the {jar_set.name} jars resolved without {', '.join(missing)}: a dependency "
            f"was not found. An entry in {_local_m2()} may be incomplete (delete it), or "
            f"{settings.maven_repo} lacks it (set SEGSTREAM_MAVEN_REPO for a mirror)"
        )
    record = {
        "coordinates": list(jar_set.coordinates),
        "jars": {j.name: j.stat().st_size for j in jars},
    }
    (staging / _DONE).write_text(json.dumps(record, indent=1) + "\n")
    folder = settings.jars / jar_set.key
    if folder.exists():
        # Moved aside, not deleted in place: a reader never sees half a folder.
        old = Path(tempfile.mkdtemp(prefix=f".{jar_set.key}.old.", dir=settings.jars))
        folder.rename(old / "set")
        shutil.rmtree(old, ignore_errors=True)
    staging.rename(folder)
    jars = sorted(folder.glob("*.jar"))
    log.info("resolved %d %s jars in %.1f s", len(jars), jar_set.name, time.monotonic() - started)
    return jars


def _artifact_name(jar: Path) -> str:
    # "jackson-core-2.13.5.jar" -> "jackson-core": the name ends where a version starts.
    parts = jar.stem.split("-")
    for i, part in enumerate(parts):
        if part[:1].isdigit() and i > 0:
            return "-".join(parts[:i])
    return jar.stem


def _drop_provided(folder: Path) -> None:
    provided = {_artifact_name(j) for j in pyspark_jar_dir().glob("*.jar")}
    for jar in folder.glob("*.jar"):
        if _artifact_name(jar) in provided:
            jar.unlink()


def _ivy_module(jar_set: JarSet) -> str:
    deps = []
    for coord in jar_set.coordinates:
        org, name, rev = (escape(p) for p in coord.split(":"))
        deps.append(
            f'    <dependency org="{org}" name="{name}" rev="{rev}" conf="default->default"/>'
        )
    return (
        '<ivy-module version="2.0">\n'
        f'  <info organisation="segstream" module="{jar_set.name}"/>\n'
        "  <dependencies>\n" + "\n".join(deps) + "\n  </dependencies>\n</ivy-module>\n"
    )


def _local_m2() -> Path:
    return Path.home() / ".m2" / "repository"


def _ivy_settings(maven_repo: str) -> str:
    # descriptor="required": a local entry without its POM is not taken (with its jar alone
    # the dependencies would silently be missing); the chain goes on to the repository.
    return f"""<ivysettings>
  <settings defaultResolver="chain"/>
  <resolvers>
    <chain name="chain" returnFirst="true">
      <ibiblio name="local-m2" m2compatible="true" descriptor="required"
               root="{escape(_local_m2().as_uri())}"/>
      <ibiblio name="central" m2compatible="true" root="{escape(maven_repo)}"/>
    </chain>
  </resolvers>
</ivysettings>
"""


def resolve_all(settings: Settings) -> dict[str, list[Path]]:
    return {s.name: resolve(settings, s) for s in (broker_jars(settings), spark_jars())}
