#!/usr/bin/env bash
# Record each fixture's expected output from the Linux kernel: for every fixtures/<name>/ (or
# the names given), run its input.pcapng through a kernel in a throwaway network namespace
# configured from its router.toml (`router diff-kernel --record`), and write expected.pcapng.
# Needs user namespaces (or root) and /dev/net/tun; iptables-restore when a fixture has rules.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p router
bin=target/release/router
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in fixtures/*/; do
    [ -f "$d/router.toml" ] && [ -f "$d/input.pcapng" ] && names+=("$(basename "$d")")
  done
fi
status=0
for n in "${names[@]}"; do
  d="fixtures/$n"
  echo "== $n"
  # diff-kernel exits 1 when the router disagrees; the recording is made either way.
  "$bin" diff-kernel -c "$d/router.toml" -i "$d/input.pcapng" --record "$d" || status=$?
  [ -f "$d/expected.pcapng" ] || { echo "no expected.pcapng written for $n" >&2; exit 2; }
done
exit "$status"
