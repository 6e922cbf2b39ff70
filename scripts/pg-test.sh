#!/usr/bin/env bash
# Runs postel-queue's PostgreSQL tests (queue/tests/postgres.rs) against a
# throwaway server: a new cluster in a temporary directory, listening on a
# free loopback port, stopped and removed on exit.
#
#   scripts/pg-test.sh [extra cargo test arguments, e.g. a test name filter]
#
# Uses /usr/lib/postgresql/15/bin if present, else the newest installed
# version; installs Debian's `postgresql` when none is (as root). As root,
# the server runs as the `postgres` user (PostgreSQL refuses to run as
# root). CARGO_TARGET_DIR and other cargo settings pass through.
set -euo pipefail
cd "$(dirname "$0")/.."

find_bindir() {
    if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq postgresql >/dev/null
        bindir=$(find_bindir)
    fi
    if [ -z "$bindir" ]; then
        echo "error: no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb); install Debian's postgresql package" >&2
        exit 1
    fi
fi

as_pg=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    as_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/postel-pg.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
server_pid=

cleanup() {
    local rc=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        "${as_pg[@]}" "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null 2>&1 \
            || kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$rc" != 0 ] && [ -f "$dir/server.log" ]; then
        echo "--- server log (last 30 lines) ---" >&2
        tail -n 30 "$dir/server.log" >&2 || true
    fi
    rm -rf "$dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A random free port; another program can take it between the check and the
# server's bind, so a server that exits at once is retried on another port.
port=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    candidate=$((20000 + RANDOM % 40000))
    port_in_use "$candidate" && continue
    "${as_pg[@]}" "$bindir/postgres" -D "$dir/data" -k "$dir" -p "$candidate" -h 127.0.0.1 \
        >>"$dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 300); do
        if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$candidate"; then
            port=$candidate
            break
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && break
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
done
if [ -z "$port" ]; then
    echo "error: the PostgreSQL server did not start" >&2
    exit 1
fi
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir"

export POSTEL_PG_URL="host=127.0.0.1 port=$port user=postgres dbname=postgres"
cargo test -p postel-queue --features postgres --test postgres "$@"
