#!/usr/bin/env bash
# Installs Debian's PostgreSQL server, once, for the local document store (FerretDB on
# PostgreSQL, see deploy/local/servers.py). The package's own cluster is not started: the
# project's scripts run a private server on loopback under .run/ and stop it with the stack.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package must not start its own cluster on 5432
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
[ -z "$created_policy" ] || $sudo rm -f "$policy"
