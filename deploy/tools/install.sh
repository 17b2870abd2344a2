#!/usr/bin/env bash
# Installs the tools the deploy checks need, once: promtool (Debian's prometheus package),
# kustomize (built with `go install` into the cache) and a compose validator (the docker compose
# plugin when present, else Debian's docker-compose); and Debian's Chromium for the browser tests
# (Playwright drives it; no browser is ever downloaded). Idempotent: a tool already there is kept.
#
#   deploy/tools/install.sh          # then tests find the tools in $NORTHSTAR_CACHE/bin or on PATH
set -euo pipefail

CACHE="${NORTHSTAR_CACHE:-$HOME/.cache/northstar}"
BIN="$CACHE/bin"
KUSTOMIZE_VERSION="v5.8.1"
mkdir -p "$BIN"

say() { printf 'deploy tools: %s\n' "$*"; }

apt_packages=()
command -v promtool >/dev/null 2>&1 || apt_packages+=(prometheus)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    apt_packages+=(docker-compose)
fi
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
if ((${#apt_packages[@]})); then
    say "installing ${apt_packages[*]} with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d 101: the prometheus package must not start its daemon, only promtool is wanted
    policy=/usr/sbin/policy-rc.d
    created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        created_policy=1
    fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
    [ -z "$created_policy" ] || $sudo rm -f "$policy"
fi
ln -sf "$(command -v promtool)" "$BIN/promtool"

if [ -x "$BIN/kustomize" ] && [ "$("$BIN/kustomize" version 2>/dev/null)" = "$KUSTOMIZE_VERSION" ]; then
    :
else
    command -v go >/dev/null 2>&1 || { say "go is needed to build kustomize" >&2; exit 1; }
    say "building kustomize $KUSTOMIZE_VERSION into $BIN"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

say "promtool: $("$BIN/promtool" --version 2>&1 | head -n1)"
say "kustomize: $("$BIN/kustomize" version)"
say "chromium: $(chromium --version 2>/dev/null | head -n1)"
if docker compose version >/dev/null 2>&1; then
    say "compose: $(docker compose version)"
else
    say "compose: $(docker-compose version --short 2>/dev/null || docker-compose version | head -n1)"
fi
