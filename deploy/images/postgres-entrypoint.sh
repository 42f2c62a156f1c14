#!/bin/sh
# PostgreSQL of the Compose deployment: create the cluster in the data volume on first start
# (user and database POSTGRES_USER, password POSTGRES_PASSWORD), then run the server.
set -eu

user="${POSTGRES_USER:-servelab}"
database="${POSTGRES_DB:-servelab}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set for the first start}"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  # Inside this container the socket trusts (only postgres runs here); other containers of
  # the Compose network connect over TCP, always with the password.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  createdb -U "$user" -h /var/run/postgresql "$database"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
