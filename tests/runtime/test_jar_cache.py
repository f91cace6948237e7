"""The jar cache against a poisoned `~/.m2` (a jar without its POM) and a cache that lost a
jar: each time a complete set, or an error naming what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from segstream.config import Settings
from segstream.runtime import jars
from segstream.runtime.errors import RuntimeSetupError
from tests.conftest import make_settings

pytestmark = pytest.mark.jars


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The spark set as resolved in the shared cache, with the real `~/.m2`."""
    return jars.resolve(make_settings(tmp_path_factory.mktemp("shared")), jars.spark_jars())


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, shared: list[Path]) -> Iterator[Settings]:
    """Settings with a jar cache of their own (one download for the module's tests), and a
    home whose `~/.m2` holds the jar of delta-spark without its POM."""
    root = tmp_path_factory.mktemp("fresh")
    home = root / "user"
    org, name, rev = jars.spark_jars().coordinates[1].split(":")
    entry = home / ".m2" / "repository" / Path(*org.split(".")) / name / rev
    entry.mkdir(parents=True)
    [delta] = [j for j in shared if j.name == f"{name}-{rev}.jar"]
    shutil.copy(delta, entry / delta.name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        yield make_settings(root, jars=root / "jars")


def test_a_jar_without_its_pom_in_m2_does_not_drop_its_dependencies(
    fresh: Settings, shared: list[Path]
) -> None:
    got = jars.resolve(fresh, jars.spark_jars())

    assert {j.name for j in got} == {j.name for j in shared}
    assert "delta-storage-4.4.0.jar" in {j.name for j in got}
    assert jars.cached(fresh, jars.spark_jars()) == got


def test_a_cached_set_that_lost_a_jar_is_resolved_again(fresh: Settings) -> None:
    got = jars.resolve(fresh, jars.spark_jars())
    [storage] = [j for j in got if j.name.startswith("delta-storage-")]
    storage.unlink()

    assert jars.cached(fresh, jars.spark_jars()) is None
    again = jars.resolve(fresh, jars.spark_jars())
    assert again == got and storage.is_file()


def test_a_resolution_without_a_needed_artifact_names_it(fresh: Settings) -> None:
    spark = jars.spark_jars()
    needs_more = jars.JarSet("spark", spark.coordinates, True, (*spark.required, "delta-nope"))

    with pytest.raises(RuntimeSetupError, match=r"resolved without delta-nope: ") as err:
        jars.resolve(fresh, needs_more)
    assert ".m2" in str(err.value)
    assert jars.cached(fresh, needs_more) is None
