#!/usr/bin/env bash
# Servers and programs the tests run against, from Debian's packages, installed when missing:
# PostgreSQL (the postgres source's tests start their own throwaway server from its binaries)
# and Chromium (Lens's `inspect --html` page is rendered headless and screenshotted).
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing system packages: ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster of its own on install; the tests never use it.
if command -v pg_ctlcluster >/dev/null; then
    for cluster in /etc/postgresql/*/main; do
        [ -d "$cluster" ] && pg_ctlcluster "$(basename "$(dirname "$cluster")")" main stop 2>/dev/null || true
    done
fi
