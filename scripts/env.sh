# shellcheck shell=bash
# Source this file (`source scripts/env.sh`) to put the project's Node.js and pnpm on PATH.
# It does not install anything; ./scripts/bootstrap does that.
_sluice_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export SLUICE_ROOT="$_sluice_root"
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
