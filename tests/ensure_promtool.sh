#!/bin/sh
# Make sure promtool (Debian's 'prometheus' package) exists for tests/deploy/test_monitoring.py,
# which checks and unit-tests deploy/monitoring/alerts.yml. Installs it with apt-get as root
# (no daemon is started: policy-rc.d / no init); otherwise only warns -- the test then fails.
set -eu

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: promtool is missing (install Debian's 'prometheus' package);" \
        "tests/deploy/test_monitoring.py will fail" >&2
    exit 0
fi
echo "installing promtool (apt-get install prometheus)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends prometheus
