# glasswatch task runner (https://just.systems). `just --list` shows every recipe.
#
# Recipes
#   kafka-up       start a local single-node KRaft Kafka on 127.0.0.1:${KAFKA_PORT:-9092}
#                  (first run fetches the broker jars with Maven into .cache/kafka/); prints the bootstrap
#   kafka-status   is it running and answering? (exit 1 when not)
#   kafka-down     stop it (SIGTERM, then SIGKILL after 30 s); topics survive in .cache/kafka-run/
#   kafka-reset    stop it and delete its topics and offsets
#
# Environment: KAFKA_PORT (default 9092), KAFKA_VERSION (default 4.1.1, see deploy/kafka/pom.xml).
# Other engineers: append your recipes below and list them here.

set shell := ["bash", "-euo", "pipefail", "-c"]

kafka_port := env_var_or_default("KAFKA_PORT", "9092")
kafka_dir := ".cache/kafka-run"
# deploy/local_kafka/ is a stdlib-only package run as a directory (its __main__.py; or
# `PYTHONPATH=deploy python -m local_kafka`): --no-project runs it without syncing (or needing) the venv
kafka := "uv run --no-project python deploy/local_kafka"

# list the recipes
default:
    @just --list

# start the local Kafka broker (KRaft, 127.0.0.1 only) and wait until it answers
kafka-up:
    {{kafka}} up --port {{kafka_port}} --dir {{kafka_dir}}

# show whether the local Kafka broker is running and answering
kafka-status:
    {{kafka}} status --dir {{kafka_dir}}

# stop the local Kafka broker started by kafka-up
kafka-down:
    {{kafka}} down --dir {{kafka_dir}}

# stop the local Kafka broker and delete its data
kafka-reset: kafka-down
    rm -rf {{kafka_dir}}

# --- project recipes -------------------------------------------------------------------------
#   test           lint, then the whole suite: doctests, unit, contract and integration (real Kafka, real MLflow)
#   lint           ruff, mypy --strict and the import-linter layer contracts
#   demo           local demo on embedded defaults (starts and stops its own Kafka)
#   bench          throughput benchmark (JSON); bench-detection for detection quality

# static checks, then every test (starts the Kafka and MLflow servers the tests need, stops them after)
test *ARGS: lint
    uv run --frozen pytest {{ARGS}}

# static checks: ruff, mypy --strict, import-linter
lint:
    uv run --frozen ruff check glasswatch tests bench deploy
    uv run --frozen mypy
    uv run --frozen lint-imports

# the local demo: trains the example model; Kafka, worker, router and a local Slack sink; traffic
# with drift midway: the alert fires, reaches Slack and resolves (--keep leaves it running)
demo *ARGS:
    uv run --frozen glasswatch demo {{ARGS}}

# ingest throughput benchmark, printed as JSON (ratios against raw aiokafka and a trivial Faust agent)
bench *ARGS:
    uv run --frozen python bench/throughput.py {{ARGS}}

# --- reproducible wheel (training / lineage work) -----------------------------------------------
#   build          wheel of the working tree into dist/, timestamps from the last commit, pinned backend
#   verify-build   snapshot HEAD (git archive), build its wheel twice into two clean temp folders,
#                  print both sha256, fail when they differ. Building a snapshot, not the working tree,
#                  keeps edits made meanwhile (a shared checkout) from faking a difference.

# build the wheel reproducibly (SOURCE_DATE_EPOCH = last commit time, pinned hatchling)
build:
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) uv build --wheel --build-constraint deploy/build-constraints.txt -o dist/

# build HEAD's wheel twice into fresh temp dirs, print both sha256, exit 1 when they differ
verify-build:
    #!/usr/bin/env bash
    set -euo pipefail
    epoch=$(git log -1 --format=%ct)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir "$work/src" "$work/one" "$work/two"
    git archive HEAD | tar -x -C "$work/src"
    for out in "$work/one" "$work/two"; do
        SOURCE_DATE_EPOCH=$epoch uv build --quiet --wheel --build-constraint deploy/build-constraints.txt \
            -o "$out" "$work/src"
    done
    a=$(sha256sum "$work"/one/*.whl | cut -d' ' -f1)
    b=$(sha256sum "$work"/two/*.whl | cut -d' ' -f1)
    echo "commit:  $(git rev-parse --short HEAD)"
    echo "build 1: $a  $(basename "$work"/one/*.whl)"
    echo "build 2: $b  $(basename "$work"/two/*.whl)"
    if [ "$a" != "$b" ]; then echo "verify-build: wheels differ" >&2; exit 1; fi
    echo "verify-build: identical"

# --- decoder fuzzing (issue 9) ------------------------------------------------------------------
#   fuzz           long mutation fuzz of the decoder (default 100,000 messages), JSON; exit 1 on a crash

# long mutation fuzz of decode(): never raises, known reasons, every item accounted once (JSON)
fuzz *ARGS:
    uv run --frozen python bench/fuzz.py {{ARGS}}

# detection quality: delay, misses, false alarms per 100k and Evidently beside ours (JSON lines)
bench-detection *ARGS:
    uv run --frozen python bench/detection.py {{ARGS}}

# CLI start-up: glasswatch --help against python -c "import typer", as a ratio (JSON)
bench-cli *ARGS:
    uv run --frozen python bench/cli.py {{ARGS}}
