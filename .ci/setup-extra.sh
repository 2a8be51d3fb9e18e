#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python. Idempotent; one package per line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends prometheus   # promtool: tests/ops alert rules
# Postfix and swaks: tests/smtp (relayhost and client interop). Preseed so Postfix installs
# without asking and without configuring the machine's own mail system.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get install -y --no-install-recommends postfix
apt-get install -y --no-install-recommends libsasl2-modules   # Postfix SASL client: PLAIN/LOGIN
apt-get install -y --no-install-recommends swaks
apt-get install -y --no-install-recommends libnet-ssleay-perl   # swaks --tls
apt-get install -y --no-install-recommends chromium   # tests/e2e: Playwright drives Debian's Chromium
apt-get install -y --no-install-recommends postgresql   # tests/store: server binaries; each test run starts its own cluster
apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng   # OCR of images and scanned PDFs (guard/inspection/ocr.py)
apt-get install -y --no-install-recommends fonts-dejavu-core   # tests draw card images with a TrueType font for OCR
