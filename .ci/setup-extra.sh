#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python. Idempotent; one package per line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends prometheus   # promtool: tests/ops alert rules
