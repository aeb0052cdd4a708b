#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, from Debian's `postgresql` package binaries.
#
#   Tests/Support/postgres.sh start DIR   create a cluster in DIR (a fresh or empty directory), start it
#                                         listening only on a unix socket in DIR, create the database
#                                         `skyport_test` owned by the user `skyport` (random password), and
#                                         print its URL: postgres://skyport:PW@/skyport_test?host=DIR
#   Tests/Support/postgres.sh url DIR     print that URL again
#   Tests/Support/postgres.sh stop DIR    stop the server and delete DIR
#
# initdb refuses to run as root, so as root the server runs as the `postgres` user (DIR is handed to
# it); as any other user it runs as that user. Password authentication (SCRAM) is required even on the
# socket, so tests exercise real credentials. Progress goes to stderr; stdout carries only the URL.
set -euo pipefail

usage() { echo "usage: $0 start|stop|url DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
marker="$dir/.skyport-postgres"

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "postgres.sh: installing Debian's postgresql package" >&2
      apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
      found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    else
      echo "postgres.sh: no /usr/lib/postgresql/*/bin/initdb; install the postgresql package" >&2
      exit 1
    fi
  fi
  echo "$found"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  bin=$(bindir)
  mkdir -p "$dir"
  if [ -n "$(ls -A "$dir")" ]; then echo "postgres.sh: $dir is not empty" >&2; exit 1; fi
  if [ ${#dir} -gt 80 ]; then echo "postgres.sh: $dir is too long for a unix socket path" >&2; exit 1; fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "postgres.sh: no postgres user (install postgresql)" >&2; exit 1; }
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  touch "$marker"
  superpass=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$superpass" > "$dir/superpass"
  chmod 600 "$dir/superpass"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/superpass" "$marker"

  as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/superpass" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # No TCP listener: only the socket in $dir, so parallel runs never fight over a port. The parallel Swift
  # tests hold up to ~90 connections at once (measured), hence 300 rather than PostgreSQL's default 100.
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c port=5432 -c fsync=off -c max_connections=300" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }

  as_owner env PGPASSWORD="$superpass" "$bin/psql" -h "$dir" -p 5432 -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -q >&2 <<SQL
CREATE ROLE skyport LOGIN PASSWORD '$password';
CREATE DATABASE skyport_test OWNER skyport;
SQL
  url="postgres://skyport:$password@/skyport_test?host=$dir"
  printf '%s\n' "$url" > "$dir/url"
  echo "$url"
  ;;
url)
  [ -f "$dir/url" ] || { echo "postgres.sh: no server in $dir" >&2; exit 1; }
  cat "$dir/url"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  # Only ever delete a directory this script created.
  [ -f "$marker" ] || { echo "postgres.sh: $dir was not made by postgres.sh; not touching it" >&2; exit 1; }
  if [ -f "$dir/data/postmaster.pid" ]; then
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
*)
  usage
  ;;
esac
