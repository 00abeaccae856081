#!/usr/bin/env bash
# Starts or stops two throwaway PostgreSQL clusters on loopback: a source and a target.
#
#   scripts/clusters.sh start [DIR] [SOURCE_PORT] [TARGET_PORT]   (defaults /tmp/pgblit-clusters 5433 5434)
#   scripts/clusters.sh stop  [DIR]
#
# The clusters run as the non-root user postgres (initdb refuses root), trust local
# connections, and live only in DIR. PGBLIT_CLUSTER_FSYNC=off makes them faster and
# crash-unsafe, which is right for tests and wrong for anything else.
set -euo pipefail
cmd=${1:-start}; dir=${2:-/tmp/pgblit-clusters}
source_port=${3:-5433}; target_port=${4:-5434}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_one() {
  local data=$dir/$1 port=$2
  if [ ! -f "$data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    # One role must really authenticate, so tests can check that a wrong password fails cleanly.
    sed -i '1i host all pgblit_password_check 127.0.0.1/32 scram-sha-256' "$data/pg_hba.conf"
    cat >>"$data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
maintenance_work_mem = 256MB
max_connections = 100
fsync = ${PGBLIT_CLUSTER_FSYNC:-on}
full_page_writes = ${PGBLIT_CLUSTER_FSYNC:-on}
CONF
  fi
  # copy --follow: logical decoding on the source, subscriptions' apply workers on the target.
  # Clusters made before this get it appended, and a running one restarts to take it.
  if ! grep -q '^wal_level' "$data/postgresql.conf"; then
    cat >>"$data/postgresql.conf" <<CONF
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_logical_replication_workers = 8
max_worker_processes = 16
CONF
    if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_postgres "$bin/pg_ctl" -D "$data" -l "$data.log" -w -t 60 restart >/dev/null
    fi
  fi
  # A subscription's apply worker that stopped (disabled, or its connection lost) starts again
  # after wal_retrieve_retry_interval: 5 s by default, a long wait for a test. Reloaded live.
  if ! grep -q '^wal_retrieve_retry_interval' "$data/postgresql.conf"; then
    echo "wal_retrieve_retry_interval = 200ms" >>"$data/postgresql.conf"
    if as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_postgres "$bin/pg_ctl" -D "$data" reload >/dev/null
    fi
  fi
  as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 && return 0   # already running
  as_postgres "$bin/pg_ctl" -D "$data" -l "$data.log" -w -t 60 start >/dev/null
}

case $cmd in
start)
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
  start_one source "$source_port"
  start_one target "$target_port"
  echo "source: postgresql://postgres@127.0.0.1:$source_port/postgres"
  echo "target: postgresql://postgres@127.0.0.1:$target_port/postgres";;
stop)
  for side in source target; do
    [ -d "$dir/$side" ] && as_postgres "$bin/pg_ctl" -D "$dir/$side" -m fast -w stop >/dev/null 2>&1 || true
  done;;
*) echo "usage: $0 start|stop [DIR] [SOURCE_PORT] [TARGET_PORT]" >&2; exit 2;;
esac
