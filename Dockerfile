# syntax=docker/dockerfile:1
# One image for every segstream process; the command picks the role (see docker-compose.yml):
#   docker run --rm segstream:local config
FROM python:3.11-slim-bookworm

# Spark and the jar resolver need Java 17 (the JDK: `segstream jars` compiles the local file
# system classes with javac); Spark's launch scripts call `ps`.
# Slim images lack the man directory the JRE's post-install script links into.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jdk-headless procps \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SEGSTREAM_JARS=/opt/segstream/jars \
    SEGSTREAM_LAKE=/var/lib/segstream/lake \
    SEGSTREAM_HOME=/var/lib/segstream/home

WORKDIR /src

# Dependencies first, in their own layer: a code change then rebuilds only what follows.
COPY pyproject.toml README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY segstream ./segstream
COPY producers ./producers
COPY streaming ./streaming
COPY batch ./batch
COPY viz ./viz
COPY cli ./cli
RUN --mount=type=cache,target=/root/.cache/pip pip install --no-deps .

# The jar cache is part of the image, so containers start without reaching Maven Central.
# Ivy's download cache stays in a build cache: rebuilds resolve offline, the image keeps
# only the retrieved jars. The broker's jars are included so `segstream demo` also runs in
# a single container.
RUN --mount=type=cache,target=/opt/segstream/jars/ivy-cache segstream jars

# The lake and home folders exist, owned by the user, so that named volumes mounted on them
# start with that owner.
RUN groupadd --gid 10001 segstream \
    && useradd --uid 10001 --gid segstream --create-home --shell /usr/sbin/nologin segstream \
    && mkdir -p /var/lib/segstream/lake /var/lib/segstream/home \
    && chown -R segstream:segstream /var/lib/segstream

USER segstream
WORKDIR /var/lib/segstream
EXPOSE 8501
ENTRYPOINT ["segstream"]
CMD ["--help"]
