#!/usr/bin/env bash
# Prepares a Debian 12 host to build and test the images, and stops what it started.
#
#   ./setup-host.sh          install (once) and start the engine, QEMU and the tools (as root)
#   ./setup-host.sh stop     stop the engine this script started
#
# Idempotent: a host that already runs a suitable engine is left as it is.
set -euo pipefail

readonly ENGINE_SUITE=trixie            # Debian 13: Docker 26 with the containerd image store
readonly STATE_DIR=/run/uvicorn-gunicorn
readonly DOCKERD_PIDFILE=$STATE_DIR/dockerd.pid
readonly DOCKERD_LOG=/var/log/uvicorn-gunicorn-dockerd.log
readonly TOOLS_VENV=/opt/uvicorn-gunicorn/tools
readonly HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# From the host's own suite: arm64 emulation, the stand-in bootstrapper, the tools' venv,
# openssl for the build-secret test's canary certificate, docker-registry for the publishing test.
readonly HOST_PACKAGES=(qemu-user-static binfmt-support mmdebstrap arch-test python3-venv ca-certificates openssl docker-registry wrk)
readonly ENGINE_PACKAGES=(docker.io containerd docker-buildx)

say() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"

engine_is_suitable() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter' \
        && docker buildx version >/dev/null 2>&1
}

stop_engine() {
    if [ ! -f "$DOCKERD_PIDFILE" ]; then
        say "no engine started by this script is running"
        return 0
    fi
    local pid
    pid=$(cat "$DOCKERD_PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        timeout 60 tail --pid="$pid" -f /dev/null || die "dockerd (pid $pid) did not stop within 60 s"
    fi
    rm -f "$DOCKERD_PIDFILE"
}

# The host's own Debian archive entry, re-suited: no mirror name is written in the repository.
add_engine_suite() {
    local list=/etc/apt/sources.list.d/uvicorn-gunicorn-$ENGINE_SUITE.sources
    [ -f "$list" ] && return 0
    (cd "$HERE" && python3 -m bake.debian_sources "$ENGINE_SUITE") >"$list.new"
    mv "$list.new" "$list"
    cat >/etc/apt/preferences.d/uvicorn-gunicorn-$ENGINE_SUITE <<EOF
Package: *
Pin: release n=$ENGINE_SUITE
Pin-Priority: 100
EOF
    say "added apt suite $ENGINE_SUITE (pinned at priority 100)"
}

apt_updated=no
apt_install() {
    [ $# -eq 0 ] && return 0
    if [ "$apt_updated" = no ]; then
        apt-get update -q
        apt_updated=yes
    fi
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
    done
}

install_host_packages() {
    local missing
    mapfile -t missing < <(missing_packages "${HOST_PACKAGES[@]}")
    apt_install "${missing[@]}"
}

engine_is_installed() {
    dpkg-query -W -f='${Version}' docker.io 2>/dev/null | grep -q '^2[6-9]\.' \
        && [ -z "$(missing_packages "${ENGINE_PACKAGES[@]}")" ]
}

# Only the engine's own packages come from the newer suite: `apt-get -t` would also take
# its runc and tini, which need a newer libc and would upgrade the host's C library.
install_engine() {
    engine_is_installed && return 0
    local pkg pinned=()
    for pkg in "${ENGINE_PACKAGES[@]}"; do
        pinned+=("$pkg/$ENGINE_SUITE")
    done
    apt_install "${pinned[@]}"
}

configure_engine() {
    mkdir -p /etc/docker
    python3 - <<'PY'
import json, pathlib
path = pathlib.Path("/etc/docker/daemon.json")
config = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
if config.get("features", {}).get("containerd-snapshotter") is not True:
    config.setdefault("features", {})["containerd-snapshotter"] = True
    path.write_text(json.dumps(config, indent=2) + "\n")
    print("setup-host: enabled the containerd image store in", path)
PY
}

enable_arm64_emulation() {
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64
    fi
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || die "qemu-aarch64 is registered without the F flag; containers cannot use it"
}

start_engine() {
    mkdir -p "$STATE_DIR"
    say "starting dockerd (log: $DOCKERD_LOG)"
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    echo $! >"$DOCKERD_PIDFILE"
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null || die "dockerd exited; see $DOCKERD_LOG"
        [ $SECONDS -lt $deadline ] || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
        sleep 0.5
    done
}

install_tools() {
    local requirements=$HERE/requirements/host-tools.txt
    local stamp=$TOOLS_VENV/.requirements
    if [ -x "$TOOLS_VENV/bin/nox" ] && cmp -s "$requirements" "$stamp"; then
        return 0
    fi
    say "installing the project's host tools into $TOOLS_VENV"
    /usr/bin/python3 -m venv --clear "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q --upgrade pip
    "$TOOLS_VENV/bin/pip" install -q -r "$requirements"
    cp "$requirements" "$stamp"
    ln -sf "$TOOLS_VENV/bin/nox" /usr/local/bin/nox
}

main() {
    case "${1:-start}" in
        stop) stop_engine; return ;;
        start) ;;
        *) die "unknown command '$1' (expected: start or stop)" ;;
    esac
    engine_is_suitable || engine_is_installed || add_engine_suite
    install_host_packages
    if engine_is_suitable; then
        say "a suitable engine is already running"
    else
        install_engine
        configure_engine
        if docker info >/dev/null 2>&1; then
            die "a running engine lacks the containerd image store or buildx; restart it with /etc/docker/daemon.json applied"
        fi
        start_engine
        engine_is_suitable || die "the engine started without the containerd image store; see $DOCKERD_LOG"
    fi
    enable_arm64_emulation
    install_tools
    say "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker buildx version | cut -d' ' -f1-2), nox $(nox --version 2>&1)"
}

main "$@"
