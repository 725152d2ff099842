# shellcheck shell=bash
# Sourced by the scripts in scripts/: `usage_if_asked SCRIPT "$@"` prints SCRIPT's header comment
# (its usage) and exits 0 when the arguments include -h or --help, before anything is installed.
usage_if_asked() {
  local script="$1"
  shift
  local arg
  for arg in "$@"; do
    if [ "$arg" = "-h" ] || [ "$arg" = "--help" ]; then
      sed -n '2,/^set -euo pipefail/p' "$script" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
    fi
  done
}
