#!/bin/sh
# Make sure Debian's chromium exists for the Playwright browser tests (pytest -m browser).
# Installs it with apt-get when running as root; otherwise only warns -- the browser
# tests then fail loudly on their own.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: /usr/bin/chromium is missing (install Debian's 'chromium' package);" \
        "browser tests will fail" >&2
    exit 0
fi
echo "installing chromium (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
