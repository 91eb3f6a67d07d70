#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 and lets user postgres in without a
# password over TCP (trust), as the tests expect. Starts the Debian cluster if it is down.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null && exit 0
fi
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [ -z "$ver" ]; then
  echo "PostgreSQL is not installed" >&2; exit 1
fi
conf=/etc/postgresql/$ver/main
# trust for local TCP connections (test machine only)
if ! grep -qE '^host\s+all\s+all\s+127.0.0.1/32\s+trust' "$conf/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf/pg_hba.conf"
fi
grep -qE "^listen_addresses" "$conf/postgresql.conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf/postgresql.conf"
pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null
echo "PostgreSQL is up on 127.0.0.1:5432"
