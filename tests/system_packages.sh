#!/usr/bin/env bash
# Debian packages the suite drives for real: headless Chromium (+ its WebDriver) for the
# browser end-to-end test and Prometheus for the canary metric source. Installed only when
# missing; a machine without apt (or not root) skips, and the tests needing them say so.
set -uo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v prometheus >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system_packages: cannot install ${missing[*]} (need root and apt-get)" >&2
  exit 0
fi
echo "system_packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
