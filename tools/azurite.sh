#!/usr/bin/env bash
# Azurite, the Azure Storage emulator the end-to-end tests start on 127.0.0.1, from the npm
# registry: installed into tools/azurite/node_modules/ when missing or older than the lock
# (tools/azurite/package-lock.json pins it and everything it needs). Node.js and npm come from
# Debian's packages when the machine has none.
set -euo pipefail

dir="$(cd "$(dirname "$0")" && pwd)/azurite"
installed="$dir/node_modules/.package-lock.json"
if [ -x "$dir/node_modules/.bin/azurite-blob" ] && [ "$installed" -nt "$dir/package-lock.json" ]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "npm is missing: install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    echo "installing nodejs and npm with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "installing Azurite with npm into tools/azurite/" >&2
# --ignore-scripts: nothing in Azurite's tree needs an install script to run.
npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error
touch "$installed"
