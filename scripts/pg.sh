#!/usr/bin/env bash
# Throwaway PostgreSQL server for the tests: start it, print the URL to export; `stop` removes it.
#
#   eval "$(scripts/pg.sh)"      # installs PostgreSQL if needed, starts a cluster, exports
#                                #   VRU_TEST_POSTGRES_URL=postgresql+psycopg://...
#   scripts/pg.sh status         # is it running? prints the export line again
#   scripts/pg.sh stop           # stops the cluster and deletes its directory
#
# The cluster lives in a temp dir, listens on 127.0.0.1 on a free port and on a unix socket in
# that dir, trusts local connections (it holds nothing but test data) and runs without fsync.
# Only the export line goes to stdout; everything else goes to stderr, so `eval` is safe.
set -euo pipefail

STATE="${VRU_PG_STATE:-${TMPDIR:-/tmp}/vru-pg.state}"
DB_NAME="vru_test"
DB_USER="vru"

say() { echo "pg.sh: $*" >&2; }
die() { say "$*"; exit 1; }

find_bindir() {
    local candidate
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    # Debian keeps the server binaries off PATH, one folder per major version: take the newest.
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and I am not root: run 'sudo apt-get install -y postgresql' first."
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get: install PostgreSQL's server binaries (initdb, pg_ctl)."
    say "installing the postgresql Debian package (apt-get install -y postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || say "apt-get update failed; trying the install anyway"
    apt-get install -y -qq postgresql >&2
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return 0
    fi
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port between 54320 and 54420"
}

# Run a command as the cluster's owner: initdb and postgres refuse to run as root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$OWNER" -- "$@"
    else
        "$@"
    fi
}

pick_owner() {
    if [ "$(id -u)" -ne 0 ]; then
        OWNER="$(id -un)"
        return 0
    fi
    if id postgres >/dev/null 2>&1; then
        OWNER=postgres
    else
        OWNER=vru-pg
        id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
    fi
}

read_state() {
    [ -f "$STATE" ] || return 1
    # shellcheck disable=SC1090
    . "$STATE"
    [ -n "${PGDIR_:-}" ] && [ -d "$PGDIR_" ]
}

export_line() {
    echo "export VRU_TEST_POSTGRES_URL=postgresql+psycopg://$DB_USER@127.0.0.1:$PORT_/$DB_NAME"
}

start() {
    if read_state && as_owner_from_state "$BINDIR_/pg_ctl" -D "$PGDIR_/data" status >/dev/null 2>&1; then
        say "already running in $PGDIR_ (port $PORT_)"
        export_line
        return 0
    fi
    rm -f "$STATE"

    local bindir
    if ! bindir="$(find_bindir)"; then
        install_postgres
        bindir="$(find_bindir)" || die "installed postgresql but cannot find initdb under /usr/lib/postgresql/*/bin"
    fi
    pick_owner

    local dir port
    dir="$(mktemp -d "${TMPDIR:-/tmp}/vru-pg.XXXXXX")"
    chmod 0700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$OWNER" "$dir"
    port="$(free_port)"

    say "initdb in $dir/data (owner $OWNER, $("$bindir/postgres" --version))"
    as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    # A test server: durability is worth nothing here, speed is.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2 || { cat "$dir/server.log" >&2; die "the server did not start"; }

    as_owner "$bindir/createdb" -h "$dir" -p "$port" -U "$DB_USER" "$DB_NAME"

    printf 'PGDIR_=%q\nPORT_=%q\nBINDIR_=%q\nOWNER_=%q\n' "$dir" "$port" "$bindir" "$OWNER" >"$STATE"
    PORT_="$port"
    say "running: 127.0.0.1:$port and socket in $dir; stop it with scripts/pg.sh stop"
    export_line
}

as_owner_from_state() {
    OWNER="${OWNER_:-$(id -un)}"
    as_owner "$@"
}

stop() {
    if ! read_state; then
        say "no throwaway cluster is recorded in $STATE"
        rm -f "$STATE"
        return 0
    fi
    as_owner_from_state "$BINDIR_/pg_ctl" -D "$PGDIR_/data" -m fast -w stop >&2 || say "pg_ctl stop failed (already stopped?)"
    rm -rf "$PGDIR_"
    rm -f "$STATE"
    say "stopped and removed $PGDIR_"
}

status() {
    if read_state && as_owner_from_state "$BINDIR_/pg_ctl" -D "$PGDIR_/data" status >/dev/null 2>&1; then
        say "running in $PGDIR_ (port $PORT_)"
        export_line
    else
        say "not running"
        return 1
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: scripts/pg.sh [start|stop|status]" ;;
esac
