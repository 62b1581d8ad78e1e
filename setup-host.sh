#!/usr/bin/env bash
# Prepares a host to build and test the images, and stops what it started. As root (or sudo).
# Debian 12 or later and Ubuntu 24.04, with or without systemd, with or without an engine.
#
#   ./setup-host.sh [start] [--no-emulation] [--vms]
#                                              install what is missing; start the engine, QEMU for
#                                              arm64 (not with --no-emulation) and the tools; with
#                                              --vms also QEMU for the guests of `nox -s vms`
#   ./setup-host.sh --release-only             for a job that only reads and writes a registry
#                                              (imagetools, cosign): the tools and cosign, with the
#                                              engine's buildx as it is; nothing to build or test
#   ./setup-host.sh stop                       stop only what this script started
#
# Idempotent: on a ready host it changes nothing and says so. It never removes or replaces an
# installed Docker engine: every apt install is simulated first and refused if it would remove
# a package. An engine without the containerd image store gets it merged into its daemon.json
# and is restarted by whatever runs it (systemd, or this script); any other engine is left as
# it is, with one line saying what to change.
set -euo pipefail

readonly ENGINE_SUITE=trixie            # Debian 13: Docker 26 with the containerd image store
readonly MIN_ENGINE=26                  # the oldest engine the images are built and tested with
readonly STATE_DIR=/run/uvicorn-gunicorn
readonly DOCKERD_PIDFILE=$STATE_DIR/dockerd.pid           # "PID STARTTIME" of the dockerd started here
readonly UNITS_FILE=$STATE_DIR/systemd-units              # systemd units this script started
readonly DOCKERD_LOG=/var/log/uvicorn-gunicorn-dockerd.log
readonly DAEMON_JSON=/etc/docker/daemon.json
readonly TOOLS_VENV=/opt/uvicorn-gunicorn/tools
readonly ENGINE_UNITS=(containerd.service docker.socket docker.service)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# From the host's own suites: the stand-in bootstrapper, the tools' venv (and with it python3),
# openssl for the build-secret test's canary certificate, docker-registry for the publishing
# test, wrk for the benchmarks; QEMU for arm64 unless --no-emulation. cosign: see install_cosign.
readonly HOST_PACKAGES=(mmdebstrap arch-test python3-venv ca-certificates openssl docker-registry wrk)
readonly RELEASE_PACKAGES=(python3-venv ca-certificates)
readonly EMULATION_PACKAGES=(qemu-user-static binfmt-support)
readonly VM_PACKAGES=(qemu-system-x86 qemu-utils openssh-client)
readonly APT_OPTIONS=(-q -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive

changes=()
say() { printf 'setup-host: %s\n' "$*"; }
did() { changes+=("$1"); say "$1"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }
usage() { printf 'usage: %s [start] [--no-emulation] [--vms] | --release-only | stop\n' "$0"; }

systemd_runs() { [ -d /run/systemd/system ]; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The package-owned client (/usr/bin/docker) where there is one, else whatever is on PATH.
docker() {
    local client=/usr/bin/docker
    [ -x "$client" ] || client=$(type -P docker) || return 127
    "$client" "$@"
}

# Fields of /proc/PID/stat after the command name: 1 is the state, 20 the start time.
stat_field() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"; }
start_time() { stat_field "$1" 20; }
# Gone, or a zombie: an init that does not reap (a container's `sleep`) leaves one behind.
has_exited() { [ ! -e "/proc/$1" ] || [ "$(stat_field "$1" 1)" = Z ]; }
same_mount_namespace() { [ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" = "$(readlink /proc/self/ns/mnt)" ]; }
is_dockerd() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ] && ! has_exited "$1"; }

# The pid of the engine this host's clients reach: a dockerd in this mount namespace (engines
# nested in containers show in /proc too), the one named by its own pid file if there are several.
engine_pid() {
    local dir pid candidates=()
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        if is_dockerd "$pid" && same_mount_namespace "$pid"; then candidates+=("$pid"); fi
    done
    [ ${#candidates[@]} -gt 0 ] || return 0
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -n "$pid" ] && printf '%s\n' "${candidates[@]}" | grep -qx "$pid"; then
        printf '%s\n' "$pid"
    else
        printf '%s\n' "${candidates[0]}"
    fi
}

# systemd (docker.service), script (the dockerd this script started) or other.
engine_owner() {
    if systemd_runs && [ "$(systemctl show -p MainPID --value docker.service 2>/dev/null)" = "$1" ]; then
        echo systemd
    elif is_own_dockerd "$1"; then
        echo script
    else
        echo other
    fi
}

# True when the pid file names a live dockerd started by this script: same pid, still a dockerd,
# and (for pid files that record it) the same start time, so a reused pid is never signalled.
is_own_dockerd() {
    local pid started
    [ -f "$DOCKERD_PIDFILE" ] || return 1
    read -r pid started <"$DOCKERD_PIDFILE" || [ -n "${pid:-}" ] || return 1
    [ -n "$pid" ] && [ "$pid" = "$1" ] && is_dockerd "$pid" && same_mount_namespace "$pid" || return 1
    [ -z "${started:-}" ] || [ "$(start_time "$pid")" = "$started" ]
}

engine_version_ok() { dpkg --compare-versions "$1" ge "$MIN_ENGINE~"; }
installed_engine_version() { dockerd --version 2>/dev/null | sed -n 's/^Docker version \([^,]*\),.*/\1/p'; }
engine_packages() {
    local pkg found=()
    for pkg in docker-ce docker.io moby-engine; do installed "$pkg" && found+=("$pkg"); done
    printf '%s' "${found[*]:-not from a package}"
}

apt_updated=no
apt_update() {
    [ "$apt_updated" = yes ] && return 0
    say "updating apt's package lists"
    apt-get "${APT_OPTIONS[@]}" update >/dev/null
    apt_updated=yes
}

# Installs packages once an apt simulation shows that the install removes nothing.
apt_install() {
    [ $# -gt 0 ] || return 0
    apt_update
    local simulation removed
    simulation=$(apt-get -s install --no-install-recommends "$@" 2>&1) \
        || die "apt cannot install $*: $(grep -E '^(E|W): ' <<<"$simulation" | head -1)"
    removed=$(awk '/^Remv /{printf "%s ", $2}' <<<"$simulation")
    [ -z "$removed" ] || die "installing $* would remove ${removed% }; refused, nothing was removed"
    say "installing $*"
    apt-get "${APT_OPTIONS[@]}" install -y --no-install-recommends "$@"
    changes+=("installed $*")
}

missing_packages() {
    local pkg
    for pkg in "$@"; do installed "$pkg" || printf '%s\n' "$pkg"; done
}

install_host_packages() {
    local missing packages=("${HOST_PACKAGES[@]}")
    [ "$emulation" = no ] || packages+=("${EMULATION_PACKAGES[@]}")
    [ "$vms" = no ] || packages+=("${VM_PACKAGES[@]}")
    mapfile -t missing < <(missing_packages "${packages[@]}")
    apt_install "${missing[@]}"
    # Its package starts a registry open on every interface; the tests start their own on loopback.
    if printf '%s\n' "${missing[@]}" | grep -qx docker-registry && systemd_runs; then
        systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
        did "disabled the docker-registry service its package started (the tests run their own on loopback)"
    fi
}

# The host's own Debian archive entry, re-suited: no mirror name is written in the repository.
add_engine_suite() {
    local list=/etc/apt/sources.list.d/uvicorn-gunicorn-$ENGINE_SUITE.sources
    local pin=/etc/apt/preferences.d/uvicorn-gunicorn-$ENGINE_SUITE
    [ -f "$list" ] && [ -f "$pin" ] && return 0
    printf 'Package: *\nPin: release n=%s\nPin-Priority: 100\n' "$ENGINE_SUITE" >"$pin"
    (cd "$HERE" && /usr/bin/python3 -B -m bake.core.debian_sources "$ENGINE_SUITE") >"$list.new"
    mv "$list.new" "$list"
    apt_updated=no
    did "added apt suite $ENGINE_SUITE (pinned at priority 100: only the engine's packages come from it)"
}

# "/trixie" when the installed docker.io is the engine suite's, so that its client and
# buildx come from the same suite; nothing when it came from the host's own suites.
engine_suite_suffix() {
    local version
    version=$(dpkg-query -W -f='${Version}' docker.io 2>/dev/null) || return 0
    if apt-cache madison docker.io 2>/dev/null | grep -F " $version " | grep -qF " $ENGINE_SUITE/"; then
        printf '/%s' "$ENGINE_SUITE"
    fi
}

candidate_version() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

active_units() {
    systemd_runs || return 0
    local unit
    for unit in "${ENGINE_UNITS[@]}"; do
        if systemctl is-active --quiet "$unit"; then echo "$unit"; fi
    done
}

# Records the engine units active now that were not before ($1), for `stop`.
remember_started_units() {
    local unit
    mkdir -p "$STATE_DIR"
    for unit in $(active_units); do
        grep -qx "$unit" <<<"$1" || grep -qsx "$unit" "$UNITS_FILE" || echo "$unit" >>"$UNITS_FILE"
    done
}

enable_containerd_store() {
    local result
    mkdir -p "$(dirname "$1")"
    result=$(cd "$HERE" && /usr/bin/python3 -B -m bake.core.daemon_json "$1" 2>&1) || die "${result#error: }"
    [ "$result" = unchanged ] || did "$result"
}

# The daemon.json the engine with this pid reads: its --config-file, else the default.
daemon_json_of() {
    local path
    path=$(tr '\0' '\n' <"/proc/$1/cmdline" | sed -n 's/^--config-file=//p; /^--config-file$/{n;p;}' | tail -1)
    printf '%s\n' "${path:-$DAEMON_JSON}"
}

install_engine() {
    local before packages=() suffix="" candidate
    enable_containerd_store "$DAEMON_JSON"      # first, so that a service apt starts comes up right
    apt_update
    candidate=$(candidate_version docker.io)
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && engine_version_ok "$candidate"; then
        say "the host's own suites have docker.io $candidate"
    elif grep -qx 'ID=debian' /etc/os-release; then
        add_engine_suite
        apt_update
        suffix=/$ENGINE_SUITE
    else
        die "no Docker engine is installed and this host's apt sources have none of version $MIN_ENGINE or newer: install Docker Engine $MIN_ENGINE or newer with its buildx plugin, then rerun"
    fi
    packages=("docker.io$suffix" "containerd$suffix" "docker-buildx$suffix")
    candidate=$(candidate_version docker-cli)
    if [ -n "$suffix" ] || { [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; }; then
        packages+=("docker-cli$suffix")
    fi
    before=$(active_units)
    apt_install "${packages[@]}"
    remember_started_units "$before"            # under systemd, apt starts the engine's units
}

# The client and buildx that go with the installed engine's packages.
ensure_client_and_buildx() {
    local suffix client=""
    suffix=$(engine_suite_suffix)
    if installed docker-ce; then
        installed docker-ce-cli || client=docker-ce-cli
    elif installed docker.io && ! dpkg -L docker.io | grep -qx /usr/bin/docker; then
        installed docker-cli || client=docker-cli$suffix    # Docker 26 and later: the client is apart
    fi
    [ -z "$client" ] || apt_install "$client"
    docker --version >/dev/null 2>&1 || die "no docker client found; install the one that goes with the engine, then rerun"
    if ! docker buildx version >/dev/null 2>&1; then
        if installed docker-ce; then apt_install docker-buildx-plugin; else apt_install "docker-buildx$suffix"; fi
    fi
}

has_containerd_store() {
    docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'
}

wait_for_engine() {
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            die "the engine did not answer within 60 s; see $1"
        fi
        sleep 0.5
    done
}

start_with_systemd() {
    local before
    before=$(active_units)
    say "starting docker.service"
    systemctl start docker.service || die "docker.service did not start; see: journalctl -u docker.service"
    remember_started_units "$before"
    changes+=("started docker.service")
    wait_for_engine "journalctl -u docker.service"
}

start_own_dockerd() {
    local pid
    mkdir -p "$STATE_DIR"
    say "starting dockerd in the background (log: $DOCKERD_LOG)"
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
    printf '%s %s\n' "$pid" "$(start_time "$pid")" >"$DOCKERD_PIDFILE"
    changes+=("started dockerd (pid $pid)")
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        if has_exited "$pid"; then
            rm -f "$DOCKERD_PIDFILE"
            die "dockerd exited; see $DOCKERD_LOG"
        fi
        [ $SECONDS -lt $deadline ] || die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
        sleep 0.5
    done
}

start_engine() {
    if systemd_runs && systemctl cat docker.service >/dev/null 2>&1; then
        start_with_systemd
    else
        start_own_dockerd
    fi
}

stop_own_dockerd() {
    local pid
    read -r pid _ <"$DOCKERD_PIDFILE"
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 60))
    until has_exited "$pid"; do
        [ $SECONDS -lt $deadline ] || die "dockerd (pid $pid) did not stop within 60 s"
        sleep 0.2
    done
    rm -f "$DOCKERD_PIDFILE"
}

# An engine runs without the containerd image store: merge it into the engine's daemon.json and
# restart the engine through whatever started it, if that is systemd or this script.
restart_with_containerd_store() {
    local pid=$1 config
    config=$(daemon_json_of "$pid")
    case $(engine_owner "$pid") in
        systemd)
            enable_containerd_store "$config"
            say "restarting docker.service to apply it"
            systemctl restart docker.service || die "docker.service did not restart; see: journalctl -u docker.service"
            changes+=("restarted docker.service")
            wait_for_engine "journalctl -u docker.service"
            ;;
        script)
            enable_containerd_store "$config"
            stop_own_dockerd
            start_own_dockerd
            ;;
        *)
            die "the running Docker engine (dockerd pid $pid) lacks the containerd image store and was not started by systemd or this script: add \"features\": {\"containerd-snapshotter\": true} to $config, restart that engine, then rerun"
            ;;
    esac
}

# Stops before anything is installed when the installed engine can never be used.
check_installed_engine() {
    local version
    type -P dockerd >/dev/null || return 0
    version=$(installed_engine_version)
    [ -n "$version" ] && engine_version_ok "$version" && return 0
    die "the installed Docker engine ${version:-of unknown version} ($(engine_packages)) is too old for the containerd image store (needs $MIN_ENGINE or newer); upgrade it to $MIN_ENGINE or newer yourself, then rerun (this script never replaces an installed engine)"
}

ensure_engine() {
    local pid
    pid=$(engine_pid)
    if [ -z "$pid" ] && ! type -P dockerd >/dev/null; then
        install_engine
        pid=$(engine_pid)
    fi
    ensure_client_and_buildx
    if [ -z "$pid" ]; then
        enable_containerd_store "$DAEMON_JSON"
        start_engine
    else
        wait_for_engine "the engine's log"
        has_containerd_store || restart_with_containerd_store "$pid"
    fi
    has_containerd_store || die "the engine runs without the containerd image store although its daemon.json enables it; see the engine's log"
}

enable_arm64_emulation() {
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64
        did "registered QEMU for arm64"
    fi
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || die "qemu-aarch64 is registered without the F flag; containers cannot use it"
}

# cosign signs and verifies published images. Debian 13 ships it; on Debian 12 it comes from the
# Debian 13 suite where this script configured that suite for the engine. Elsewhere (Ubuntu 24.04)
# one line says so: publishing then says cosign is missing, and the workflow installs its own.
install_cosign() {
    local candidate
    type -P cosign >/dev/null && return 0
    apt_update
    candidate=$(candidate_version cosign)
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        say "cosign: not in this host's apt suites (Debian 13 ships it); signing at publish needs it"
        return 0
    fi
    apt_install cosign
}

install_tools() {
    local requirements=$HERE/requirements/host-tools.txt
    local stamp=$TOOLS_VENV/.requirements
    if [ -x "$TOOLS_VENV/bin/nox" ] && cmp -s "$requirements" "$stamp" \
        && [ "$(readlink /usr/local/bin/nox)" = "$TOOLS_VENV/bin/nox" ]; then
        return 0
    fi
    say "installing the project's host tools into $TOOLS_VENV"
    /usr/bin/python3 -m venv --clear "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q --upgrade pip
    "$TOOLS_VENV/bin/pip" install -q -r "$requirements"
    cp "$requirements" "$stamp"
    ln -sf "$TOOLS_VENV/bin/nox" /usr/local/bin/nox
    changes+=("installed nox into $TOOLS_VENV")
}

stop_started() {
    local stopped=no units pid
    if [ -s "$UNITS_FILE" ]; then
        mapfile -t units <"$UNITS_FILE"
        if systemd_runs; then
            say "stopping ${units[*]} (started by this script)"
            systemctl stop "${units[@]}"
            stopped=yes
        fi
        rm -f "$UNITS_FILE"
    fi
    if [ -f "$DOCKERD_PIDFILE" ]; then
        read -r pid _ <"$DOCKERD_PIDFILE" || true
        if is_own_dockerd "${pid:-none}"; then
            stop_own_dockerd
            stopped=yes
        else
            say "removed a stale pid file: pid ${pid:-(none)} is not the dockerd this script started"
            rm -f "$DOCKERD_PIDFILE"
        fi
    fi
    [ "$stopped" = yes ] || say "no engine started by this script is running"
}

main() {
    local command=start arg
    emulation=yes vms=no
    for arg in "$@"; do
        case $arg in
            start | stop) command=$arg ;;
            --release-only) command=release ;;
            --no-emulation) emulation=no ;;
            --vms) vms=yes ;;
            -h | --help) usage; return 0 ;;
            *) die "unknown argument '$arg' ($(usage))" ;;
        esac
    done
    [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0 $*)"
    if [ "$command" = stop ]; then
        stop_started
        return
    fi
    if [ "$command" = release ]; then
        docker buildx version >/dev/null 2>&1 || die "--release-only needs a docker client with buildx; run without it"
        local missing
        mapfile -t missing < <(missing_packages "${RELEASE_PACKAGES[@]}")
        apt_install "${missing[@]}"
        install_cosign
        install_tools
        say "ready for releasing: $(docker buildx version | cut -d' ' -f1-2), nox $("$TOOLS_VENV/bin/nox" --version 2>&1)"
        return
    fi
    check_installed_engine
    install_host_packages
    ensure_engine
    local emulated="no arm64 emulation (--no-emulation)"
    if [ "$emulation" = yes ]; then
        enable_arm64_emulation
        emulated="QEMU for arm64"
    fi
    install_cosign
    install_tools
    local summary
    summary="engine $(docker version --format '{{.Server.Version}}') with the containerd image store"
    summary+=", $(docker buildx version | cut -d' ' -f1-2), $emulated, nox $("$TOOLS_VENV/bin/nox" --version 2>&1)"
    if [ ${#changes[@]} -eq 0 ]; then
        say "ready, nothing changed: $summary"
    else
        say "ready: $summary"
    fi
}

main "$@"
