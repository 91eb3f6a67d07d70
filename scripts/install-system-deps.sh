#!/usr/bin/env bash
# Debian packages gpureport's tests (and its PDF output) need. Idempotent.
# chromium: the web page of `gpureport serve` is tested in it (tests/test_serve_browser.py).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  postgresql postgresql-client \
  prometheus prometheus-alertmanager \
  fonts-noto-cjk fonts-dejavu-core \
  poppler-utils \
  chromium \
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 \
  openssl ca-certificates
