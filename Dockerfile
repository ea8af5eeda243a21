# syntax=docker/dockerfile:1.7
# glasswatch worker image. Dependencies come from uv.lock only (`--frozen`: the lock is never
# re-resolved in the build); the project itself is installed as a regular wheel (`--no-editable`),
# so the final stage needs no source tree.
#
#   docker build -t glasswatch .
#   docker run --rm glasswatch --help
#   docker compose up            # kafka, mlflow, worker, router, prometheus: docker-compose.yml

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.8

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- builder: resolve nothing, install the locked dependencies, then the project -----------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# 1) dependencies only: this layer is reused until pyproject.toml or uv.lock change
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project

# 2) the project: hatchling needs README.md, and the wheel force-includes docs/playbooks as
#    glasswatch/playbooks (pyproject.toml); .dockerignore lets exactly these paths in.
#    tests/unit/deploy/test_dockerfile.py parses these COPY lines and
#    tests/integration/test_docker_context_build.py builds the wheel from what they copy.
COPY pyproject.toml uv.lock README.md ./
COPY glasswatch ./glasswatch
COPY docs/playbooks ./docs/playbooks
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- runtime: same Python as the builder (the venv's interpreter path must match) -----------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="glasswatch" \
      org.opencontainers.image.description="Kafka-native glass-box monitor for ML models in production" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 glasswatch \
 && useradd --system --uid 10001 --gid glasswatch --home-dir /home/glasswatch --create-home \
        --shell /usr/sbin/nologin glasswatch \
 && mkdir -p /var/lib/glasswatch \
 && chown glasswatch:glasswatch /var/lib/glasswatch

COPY --from=builder --chown=root:root /app/.venv /app/.venv

# NUMBA_CACHE_DIR: numba (via shap/river) caches compiled functions next to their source by
# default, which is read-only here ("cannot cache function ... no locator available").
# WEB_HOST=0.0.0.0: the web server must bind every interface for a published port to reach it;
# alert links keep http://127.0.0.1:<port> unless GLASSWATCH_WORKER__PUBLIC_URL is set.
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GLASSWATCH_ENV=docker \
    GLASSWATCH_WORKER__DATA_DIR=/var/lib/glasswatch/worker \
    GLASSWATCH_WORKER__WEB_HOST=0.0.0.0 \
    GLASSWATCH_NOTIFY__DESKTOP=false \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    EVIDENTLY_DISABLE_TELEMETRY=1

WORKDIR /var/lib/glasswatch
USER glasswatch
VOLUME ["/var/lib/glasswatch"]
# worker web (dashboard, /metrics, /healthz): GLASSWATCH_WORKER__WEB_PORT. No HEALTHCHECK here:
# the image also runs `router run`, which serves no web port; compose probes the worker's /healthz.
EXPOSE 6066

ENTRYPOINT ["glasswatch"]
CMD ["worker"]
