#!/usr/bin/env bash
# Installs the Debian packages eosim's build needs. Idempotent: does nothing when all are present.
set -euo pipefail

packages=(
  g++ cmake ninja-build
  libboost-context-dev
  librapidcheck-dev
  libgtest-dev libgmock-dev
  libcli11-dev
  libfmt-dev
  libtomlplusplus-dev
  nlohmann-json3-dev
  libxxhash-dev
  libbenchmark-dev
  # eosim-record: the Kafka client library it records through (found with pkg-config)
  librdkafka-dev pkg-config
  # tests of the reports: the JUnit XML schema check (xmllint), JSON summaries (jq)
  libxml2-utils jq
  # tests of sharded sweeps: a one-node Slurm cluster (tests/scale), and GNU parallel where it cannot start
  slurm-wlm munge parallel
  # the HTML report's test: headless Chromium renders it (tests/reports/html_test.sh)
  chromium
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: apt-get not found; eosim needs Debian 12 (missing: ${missing[*]})" >&2
  exit 2
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "bootstrap: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get update -qq >&2; then
  echo "bootstrap: apt-get update failed; check the network or the apt sources" >&2
  exit 2
fi
if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  echo "bootstrap: apt-get install failed for: ${missing[*]}" >&2
  exit 2
fi
echo "bootstrap: done" >&2
