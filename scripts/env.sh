# shellcheck shell=bash
# Source this file (`source scripts/env.sh`) to put the project's Node.js and pnpm on PATH.
# It does not install anything; ./scripts/bootstrap does that.
_sluice_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export SLUICE_ROOT="$_sluice_root"
# Machines that reach the registry through a TLS-inspecting proxy configure npm with a CA file;
# give the same CA to every Node process (pnpm included, which reads no npm configuration). Ask
# the machine's npm before PATH changes: npm reads its global npmrc next to the node it runs on.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && command -v npm >/dev/null 2>&1; then
  _sluice_cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$_sluice_cafile" ] && [ "$_sluice_cafile" != "null" ] && [ -f "$_sluice_cafile" ]; then
    export NODE_EXTRA_CA_CERTS="$_sluice_cafile"
  fi
  unset _sluice_cafile
fi
if [ -x "$_sluice_root/.tools/node/bin/node" ]; then
  export PATH="$_sluice_root/.tools/node/bin:$PATH"
fi
if [ -x "$_sluice_root/.tools/pnpm/node_modules/.bin/pnpm" ]; then
  export PATH="$_sluice_root/.tools/pnpm/node_modules/.bin:$PATH"
fi
export PATH="$_sluice_root/node_modules/.bin:$PATH"
# pnpm must not try to download another Node or pnpm of its own.
export COREPACK_ENABLE_STRICT=0
export PNPM_HOME="${PNPM_HOME:-$_sluice_root/.tools/pnpm-home}"
unset _sluice_root
