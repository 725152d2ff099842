#!/bin/sh
# First start of the compose cluster (docker-compose.yml's `init` service): the cluster CA and
# the node and client certificates into /certs, an admin access key, its policy and client.env
# into /auth. Each step keeps what is already there, so running this again changes nothing.
# SLUICE_INIT_NODES (default 3) and SLUICE_INIT_HOSTS (extra certificate names, space-separated,
# default localhost) shape the certificates.
set -eu
hosts=""
for host in ${SLUICE_INIT_HOSTS:-localhost}; do hosts="$hosts --host $host"; done
# shellcheck disable=SC2086 # one --host per name
node /app/dist/main.js certs init --out /certs --nodes "${SLUICE_INIT_NODES:-3}" $hosts
node /app/dist/main.js auth init --out /auth
