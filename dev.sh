#!/usr/bin/env bash
# glasswatch bootstrap: installs what the project needs, then runs a `just` recipe.
#
#   ./dev.sh demo     local demo: trains the example model, Kafka, worker, router and a local Slack
#                     sink; simulated traffic with drift midway: the alert fires, reaches Slack, resolves
#   ./dev.sh test     the whole test suite (unit, contract, integration on a real Kafka and MLflow)
#   ./dev.sh <recipe> any recipe of the justfile (`./dev.sh --list` shows them)
#
# Needs only Python >= 3.11 and Java 17+ on the machine. Installs uv and just from PyPI when they
# are missing, the Python packages from uv.lock (frozen), and, as root on Debian, Java and Maven
# from Debian's packages when they are missing (and, for `test`, Debian's chromium for the browser
# tests, prometheus and prometheus-alertmanager for the monitoring tests). The Kafka jars are
# fetched by Maven on first use.
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION="0.13.8"
JUST_VERSION="1.59.0"

say() { echo "[dev.sh] $*" >&2; }

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { say "python3 is required (>= 3.11)"; exit 2; }
SCRIPTS=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$SCRIPTS:$HOME/.local/bin:$PATH"

if ! command -v uv >/dev/null; then
  say "installing uv $UV_VERSION from PyPI"
  "$PY" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
if ! command -v just >/dev/null; then
  say "installing just $JUST_VERSION from PyPI (rust-just)"
  "$PY" -m pip install --quiet --disable-pip-version-check "rust-just==$JUST_VERSION"
fi
hash -r

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    say "missing $*: please install it (Kafka runs on Java 17+, its jars are fetched with Maven)"
    exit 2
  fi
}
command -v java >/dev/null || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null || apt_install maven
if [ "${1:-}" = "test" ]; then
  # the web pages are tested in a real headless browser: Debian's chromium (never a downloaded one);
  # the Prometheus and Alertmanager tests run Debian's real binaries (the tests start their own)
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
fi

uv sync --frozen --quiet
exec just "$@"
