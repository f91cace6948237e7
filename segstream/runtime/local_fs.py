"""A local file system for Spark that forks no shell commands (`java/segstream/hadoop/`).

Without Hadoop's native library, which pyspark does not ship, Hadoop's local file system runs
`chmod` for every file it creates and `readlink` for both ends of every rename. Spark's
checkpoint (offsets, commits, state changelogs) and Delta's log write that way, so every
micro-batch forked ~26 processes: 80-140 ms per commit on a loaded 2-core machine, several
commits in a row per batch (bench/RESULTS.md). The classes here answer with Java's file API
instead; they are compiled once into the jar cache, like the Maven jars.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from segstream.config import Settings
from segstream.runtime.errors import RuntimeSetupError
from segstream.runtime.jars import pyspark_jar_dir

log = logging.getLogger(__name__)

_SOURCES = Path(__file__).parent / "java"
_JAR = "segstream-local-fs.jar"

# Hadoop settings (spark.hadoop.*) that put the classes in place of Hadoop's own.
HADOOP_CONF = {
    "fs.file.impl": "segstream.hadoop.ForklessLocalFileSystem",
    "fs.AbstractFileSystem.file.impl": "segstream.hadoop.ForklessLocalFs",
}


def _javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "javac").is_file():
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def _hadoop_api() -> Path:
    found = sorted(pyspark_jar_dir().glob("hadoop-client-api-*.jar"))
    if not found:
        raise RuntimeSetupError(f"no hadoop-client-api jar inside pyspark at {pyspark_jar_dir()}")
    return found[-1]


def jar(settings: Settings) -> Path | None:
    """The compiled jar, built on first use; None (with a warning) when no Java compiler is
    installed, in which case Spark keeps Hadoop's own local file system."""
    sources = sorted(_SOURCES.rglob("*.java"))
    api = _hadoop_api()
    digest = hashlib.sha256(api.name.encode())
    for source in sources:
        digest.update(source.read_bytes())
    folder = settings.jars / f"local-fs-{digest.hexdigest()[:10]}"
    target = folder / _JAR
    if target.is_file():
        return target
    javac = _javac()
    if javac is None:
        log.warning(
            "no Java compiler (javac) found: Spark uses Hadoop's local file system, which forks "
            "chmod/readlink for every checkpoint and Delta commit (slower micro-batches); "
            "install a JDK (e.g. apt-get install openjdk-17-jdk-headless) to avoid it"
        )
        return None
    settings.jars.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.jars, prefix=".local-fs-") as staging:
        classes = Path(staging) / "classes"
        cmd = [javac, "--release", "17", "-cp", str(api), "-d", str(classes)]
        proc = subprocess.run(
            [*cmd, *map(str, sources)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeSetupError(
                f"compiling the local file system classes failed:\n{proc.stderr.strip()}"
            )
        built = Path(staging) / "out"
        built.mkdir()
        with zipfile.ZipFile(built / _JAR, "w", zipfile.ZIP_DEFLATED) as out:
            for cls in sorted(classes.rglob("*.class")):
                out.write(cls, cls.relative_to(classes).as_posix())
        try:
            built.rename(folder)
        except OSError:
            # Another process built the same jar meanwhile: keep theirs.
            if not target.is_file():
                raise
    log.info("built %s", target)
    return target
