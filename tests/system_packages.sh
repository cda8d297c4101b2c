#!/usr/bin/env bash
# Debian packages the suite drives for real: headless Chromium (+ its WebDriver) for the
# browser end-to-end test, Prometheus for the canary metric source, PostgreSQL for the system
# test (tests/system). Installed only when missing; a machine without apt (or not root)
# skips, and the tests needing them say so.
set -uo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v prometheus >/dev/null || missing+=(prometheus)
# Debian keeps initdb/postgres off PATH, in /usr/lib/postgresql/<major>/bin.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null \
  || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system_packages: cannot install ${missing[*]} (need root and apt-get)" >&2
  exit 0
fi
echo "system_packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The system test starts its own throwaway cluster: the package must not create and start a
# system-wide one on port 5432 (read by pg_createcluster when postgresql-<major> installs).
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/mlops-tests.conf
fi
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
