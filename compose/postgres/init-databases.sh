#!/usr/bin/env bash
# One database and one login role per Skyport service instance, each database owned by its role and
# closed to everyone else, so no service can reach another's data. Run once by the postgres image's
# entrypoint, on an empty data directory, from /docker-entrypoint-initdb.d/ (see compose/compose.yaml).
#
# Each role's password is read from /run/secrets/<db>_db_password (a compose secret, the same file the
# service itself is given). Names and passwords reach SQL only as psql variables quoted by format()
# with %I (identifier) and %L (literal); the password travels in psql's environment, not on its command
# line, so it never shows in a process list.
#
# tests: Tests/Compose/check_compose.py reads the DATABASES line below; keep it one line.
set -euo pipefail

DATABASES=(entitlement redemption hostmgr_dc1 hostmgr_dc2 streamhost_dc1 streamhost_dc2 forecast distribution billing)

fail() {
    echo "init-databases: $*" >&2
    exit 1
}

for db in "${DATABASES[@]}"; do
    [[ "$db" =~ ^[a-z][a-z0-9_]*$ ]] || fail "bad database name '$db'"
    secret="/run/secrets/${db}_db_password"
    [[ -r "$secret" ]] || fail "$secret is missing or unreadable (see compose/README.md, Secrets)"
    password="$(<"$secret")" # $(<file) drops the trailing newline(s) an editor or echo leaves
    [[ -n "$password" ]] || fail "$secret is empty"

    SKYPORT_INIT_DB="$db" SKYPORT_INIT_PASSWORD="$password" \
        psql --no-psqlrc --set=ON_ERROR_STOP=1 --quiet \
        --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv db SKYPORT_INIT_DB
\getenv password SKYPORT_INIT_PASSWORD
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'db', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'db', :'db', 'UTF8')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
-- PUBLIC may connect to every new database by default; only the owner (and superusers) may now.
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'db') \gexec
SQL
    echo "init-databases: database and role $db ready"
done

# The maintenance database too: service roles have no business there (pg_isready needs no login).
psql --no-psqlrc --set=ON_ERROR_STOP=1 --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --command 'REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC'
