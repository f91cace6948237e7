"""docker-compose.yml and the Dockerfile, checked statically against the settings and the CLI.

No Docker engine is needed (nor available in CI): these tests catch what would otherwise only
show when the containers start, such as a misspelt SEGSTREAM_* variable (which the settings
would reject at start), a command that is not a segstream command, a `depends_on` on a missing
service, the monitor published on another port than it serves on, or services writing to
different lakes.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import build_parser
from segstream.config import Settings, load_settings

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("no_segstream_env")]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

PREFIX = "SEGSTREAM_"
LONG_RUNNING = ("simulator", "stream", "scheduler", "monitor")
SHARED_LAKE = ("stream", "scheduler", "monitor")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _segstream_services() -> dict[str, dict[str, Any]]:
    """The services that run the image built from the Dockerfile."""
    return {name: svc for name, svc in _services().items() if "build" in svc}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "ENV":
            for token in shlex.split(rest):
                name, sep, value = token.partition("=")
                assert sep, f"ENV {token!r}: use the NAME=value form"
                env[name] = value
    return env


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as compose hands it to the container."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _container_env(service: dict[str, Any]) -> dict[str, str]:
    """The image's ENV overridden by the service's environment."""
    return {**_dockerfile_env(), **_environment(service)}


def _settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in _container_env(service).items():
        if name.startswith(PREFIX):
            monkeypatch.setenv(name, value)
    return load_settings()


def _seconds(duration: str) -> float:
    """A compose duration ("150s", "1m30s") in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_the_deployment_has_the_broker_and_every_process() -> None:
    assert set(_services()) == {"kafka", "topics", *LONG_RUNNING}
    assert set(_segstream_services()) == {"topics", *LONG_RUNNING}
    images = {svc["image"] for svc in _segstream_services().values()}
    assert len(images) == 1, "one image, built once, for every segstream service"


def test_every_segstream_variable_is_a_setting() -> None:
    fields = set(Settings.model_fields)
    sources = {"Dockerfile": _dockerfile_env()} | {
        f"service {name}": _environment(svc) for name, svc in _services().items()
    }
    for source, env in sources.items():
        for name in env:
            if name.startswith(PREFIX):
                assert name[len(PREFIX) :].lower() in fields, f"{source}: {name} is no setting"
    for name in _segstream_services():
        assert not any(k.startswith("KAFKA_") for k in _environment(_services()[name]))


@pytest.mark.parametrize("name", ["topics", *LONG_RUNNING])
def test_each_service_environment_gives_valid_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_of(_services()[name], monkeypatch)
    assert settings.kafka_bootstrap == "kafka:9092"
    assert not settings.embedded_kafka
    assert settings.jars == Path("/opt/segstream/jars")
    assert settings.lake == Path("/var/lib/segstream/lake")
    assert settings.home == Path("/var/lib/segstream/home") / name


def test_the_bootstrap_address_is_advertised_by_the_broker() -> None:
    kafka = _environment(_services()["kafka"])
    advertised = kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for name, svc in _segstream_services().items():
        for server in _environment(svc)["SEGSTREAM_KAFKA_BOOTSTRAP"].split(","):
            assert any(a.endswith(f"://{server}") for a in advertised), (name, server)
    listeners = {entry.split("://")[0] for entry in kafka["KAFKA_LISTENERS"].split(",")}
    assert {entry.split("://")[0] for entry in advertised} <= listeners
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert listeners <= set(protocols)
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners


def test_the_broker_is_the_version_segstream_is_tested_with() -> None:
    image = _services()["kafka"]["image"]
    assert image == f"apache/kafka:{Settings().kafka_version}"


def test_every_command_is_a_segstream_command() -> None:
    parser = build_parser()
    for name, svc in _segstream_services().items():
        command = svc["command"]
        assert isinstance(command, list), f"{name}: exec form, so no shell sits between"
        assert "entrypoint" not in svc, name
        try:
            args = parser.parse_args(command)
        except SystemExit:
            pytest.fail(f"{name}: `segstream {' '.join(command)}` does not parse")
        assert callable(args.func), name


def test_the_image_runs_the_segstream_console_script() -> None:
    instructions = dict(_instructions())
    assert json.loads(instructions["ENTRYPOINT"]) == ["segstream"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "segstream" in scripts
    assert instructions["USER"] not in ("root", "0")


def test_the_image_resolves_the_jars_at_build_time() -> None:
    # Containers then start without Maven Central, and as a user who cannot write the cache.
    instructions = _instructions()
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert any(rest.endswith(" segstream jars") for rest in runs)
    user_at = [keyword for keyword, _ in instructions].index("USER")
    assert all(
        keyword != "RUN" or "segstream jars" not in rest for keyword, rest in instructions[user_at:]
    )


def test_the_image_holds_every_package_and_the_build_context_sends_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        source
        for keyword, rest in _instructions()
        if keyword == "COPY"
        for source in [t for t in shlex.split(rest) if not t.startswith("--")][:-1]
    }
    assert packages | {"pyproject.toml", "README.md"} <= copied
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    ignored = {line for line in lines if line and not line.startswith("#")}
    assert not ignored & copied, "the build needs these in its context"
    assert {".venv", "lake", ".segstream", ".git"} <= ignored


def test_depends_on_names_existing_services_with_sound_conditions() -> None:
    services = _services()
    for name, svc in services.items():
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on with conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (name, target)
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (name, target)
            else:
                assert condition == "service_started", (name, condition)


def test_long_running_services_restart_and_stop_gracefully() -> None:
    from streaming import job

    services = _services()
    for name in [*LONG_RUNNING, "kafka"]:
        assert services[name]["restart"] == "unless-stopped", name
    # SIGTERM makes the stream wait for its running batch; the grace period must cover it.
    assert _seconds(services["stream"]["stop_grace_period"]) > job._STOP_WAIT_S
    assert _seconds(services["scheduler"]["stop_grace_period"]) >= 60
    assert "healthcheck" in services["kafka"]


def test_the_monitor_serves_on_the_port_it_publishes(monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = _services()["monitor"]
    settings = _settings_of(monitor, monkeypatch)
    # Loopback inside the container is unreachable through a published port.
    assert settings.monitor_host == "0.0.0.0"
    (published,) = monitor["ports"]
    container_port = int(str(published).split(":")[-1].split("/")[0])
    assert container_port == settings.monitor_port
    health = " ".join(monitor["healthcheck"]["test"])
    assert f":{settings.monitor_port}/" in health


def test_stream_scheduler_and_monitor_share_one_lake() -> None:
    compose = _compose()
    mounts = {}
    for name in SHARED_LAKE:
        svc = compose["services"][name]
        lake = _container_env(svc)["SEGSTREAM_LAKE"]
        (source,) = [v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == lake]
        mounts[name] = source
    (volume,) = set(mounts.values())
    assert volume in compose["volumes"], "a named volume, not a folder of one container"
    homes = [_container_env(compose["services"][n])["SEGSTREAM_HOME"] for n in SHARED_LAKE]
    assert len(set(homes)) == len(homes), "each service has its own home"
