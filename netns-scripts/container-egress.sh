#!/usr/bin/env bash
# Egress NAT for a container: attach a network namespace (a container's) to the router as
# its LAN side, with an address and a default route, and masquerade its traffic out of the
# router's uplink interface.
#
#        container netns                router process                  uplink netns
#   ┌────────────────────┐      ┌──────────────────────────────┐      ┌──────────────────┐
#   │ lan0 10.88.0.2/24  │ TUN  │ lan0 10.88.0.1/24            │ TUN  │ wan0 (router's)  │
#   │ default via        │◄────►│  FORWARD: out, and replies   │◄────►│ WAN_ADDR         │
#   │   10.88.0.1        │  fd  │  nat: MASQUERADE -o wan0     │  fd  │ gateway WAN_GW   │
#   └────────────────────┘      │ wan0 WAN_ADDR, default via   │      └──────────────────┘
#                               │   WAN_GW                     │
#                               └──────────────────────────────┘
#
# The router creates both TUN devices itself, each inside its namespace, and keeps their
# descriptors; the container only sees `lan0`. What leaves the container comes out of the
# uplink with the router's WAN address as its source; replies find their way back through
# the connection table; nothing from outside gets in unless it answers the container.
#
# Usage:
#   container-egress.sh demo [--keep]
#       Self-contained, no root needed where user namespaces and /dev/net/tun are usable:
#       creates a `container` and an `uplink` namespace (the uplink's host, 198.51.100.1, runs
#       a small TCP server), attaches the container, and shows ping, a TCP request (the
#       server sees the router's address), the connection table and the rule counters.
#       `--keep` leaves it up with a shell in the container.
#   container-egress.sh attach TARGET --uplink UPLINK --wan-addr A.B.C.D/N --wan-gw G
#                       [--lan 10.88.0.0/24] [--no-default-route]
#       Attach an existing namespace: TARGET is a name under /run/netns or a PID (its
#       /proc/PID/ns/net), UPLINK likewise. Runs the router in the foreground until Ctrl-C;
#       its devices, and the addresses and routes on them, go away when it stops. Needs the
#       right to enter both namespaces (root, usually).
# Environment: ROUTER_BIN=path  use this router binary instead of building one.
set -euo pipefail

die() { echo "container-egress.sh: $*" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

root="$(cd "$(dirname "$0")/.." && pwd)"

router_bin() {
  if [ -n "${ROUTER_BIN:-}" ]; then
    realpath "$ROUTER_BIN"
  else
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed (or set ROUTER_BIN to a built router)"
    (cd "$root" && cargo build --quiet --release -p router) >&2 || die "the build failed (see above)"
    echo "$root/target/release/router"
  fi
}

# The namespace reference the router's `netns =` takes, and the path nsenter takes.
ns_ref() {
  case "$1" in
    ''|*/*) die "namespace '$1': give a name under /run/netns or a PID" ;;
    *[!0-9]*) [ -e "/run/netns/$1" ] || die "no network namespace /run/netns/$1 (ip netns list)"; echo "$1" ;;
    *) [ -e "/proc/$1/ns/net" ] || die "no process $1"; echo "/proc/$1/ns/net" ;;
  esac
}
ns_path() { case "$1" in /*) echo "$1" ;; *) echo "/run/netns/$1" ;; esac; }

# Writes router.toml and rules.v4 into $1 for LAN ($2 net, $3 router address), WAN ($4
# address, $5 gateway), namespaces $6 (container) and $7 (uplink).
write_config() {
  local dir=$1 lan_net=$2 lan_addr=$3 wan_addr=$4 wan_gw=$5 cns=$6 uns=$7
  cat >"$dir/router.toml" <<EOF
[[interface]]
name = "lan0"
addresses = ["$lan_addr"]
netns = "$cns"

[[interface]]
name = "wan0"
addresses = ["$wan_addr"]
netns = "$uns"

[[route]]
to = "0.0.0.0/0"
via = "$wan_gw"
dev = "wan0"

[sysctl]
"net.ipv4.ip_forward" = 1

[netfilter]
rules = "rules.v4"
EOF
  cat >"$dir/rules.v4" <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s $lan_net -o wan0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -i lan0 -o wan0 -j ACCEPT
COMMIT
EOF
}

# Starts the router on $1/router.toml with socket $2; sets router_pid.
start_router() {
  local dir=$1 sock=$2 bin=$3
  "$bin" run -c "$dir/router.toml" --socket "$sock" >"$dir/router.log" 2>&1 &
  router_pid=$!
  for _ in $(seq 100); do
    [ -S "$sock" ] && return 0
    kill -0 "$router_pid" 2>/dev/null || die "the router exited during start-up: $(tail -n 3 "$dir/router.log")"
    sleep 0.1
  done
  die "the router did not come up within 10 s: $(tail -n 3 "$dir/router.log")"
}

# Stops the router (its devices go with it) and removes $work; on failure shows the log.
cleanup() {
  status=$?
  if [ -n "${router_pid:-}" ] && kill -0 "$router_pid" 2>/dev/null; then
    kill -TERM "$router_pid" 2>/dev/null || true
    wait "$router_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "${work:-}/router.log" ]; then
    echo "--- router log ---" >&2
    tail -n 20 "$work/router.log" >&2
  fi
  [ -n "${work:-}" ] && rm -rf "$work"
  exit "$status"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  -h|--help|help|'') usage; [ -n "$cmd" ] && exit 0; exit 2 ;;
  demo|attach) ;;
  *) die "unknown command '$cmd' (demo or attach; try --help)" ;;
esac

if [ "$cmd" = attach ]; then
  target="${1:-}"; [ -n "$target" ] && shift || die "attach: which namespace? (a name under /run/netns or a PID)"
  uplink="" wan_addr="" wan_gw="" lan="10.88.0.0/24" default_route=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --uplink) uplink="${2:-}"; shift 2 ;;
      --wan-addr) wan_addr="${2:-}"; shift 2 ;;
      --wan-gw) wan_gw="${2:-}"; shift 2 ;;
      --lan) lan="${2:-}"; shift 2 ;;
      --no-default-route) default_route=0; shift ;;
      *) die "attach: unknown argument '$1' (try --help)" ;;
    esac
  done
  [ -n "$uplink" ] && [ -n "$wan_addr" ] && [ -n "$wan_gw" ] || die "attach needs --uplink, --wan-addr and --wan-gw"
  [[ "$lan" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || die "--lan must be a /24 ending in .0 (e.g. 10.88.0.0/24)"
  base="${BASH_REMATCH[1]}"
  cref="$(ns_ref "$target")"; uref="$(ns_ref "$uplink")"
  command -v nsenter >/dev/null || die "nsenter (util-linux) is needed"
  bin="$(router_bin)"
  work="$(mktemp -d /tmp/container-egress.XXXXXX)"
  router_pid=""
  trap cleanup EXIT INT TERM
  write_config "$work" "$lan" "$base.1/24" "$wan_addr" "$wan_gw" "$cref" "$uref"
  start_router "$work" "$work/router.sock" "$bin"
  in_c() { nsenter --net="$(ns_path "$cref")" "$@"; }
  in_c ip addr add "$base.2/24" dev lan0 || die "cannot configure lan0 in $target"
  if [ "$default_route" = 1 ]; then
    in_c ip route replace default via "$base.1" dev lan0 || die "cannot set the default route in $target"
  fi
  echo "attached: $target has $base.2/24 on lan0$( [ "$default_route" = 1 ] && echo ", default via $base.1"); masqueraded out of wan0 ($wan_addr) in $uplink"
  echo "control: $bin ctl --socket $work/router.sock conntrack -L   (Ctrl-C stops and detaches)"
  wait "$router_pid"
  exit $?
fi

# ---- demo ----
keep=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    *) die "demo: unknown argument '$a' (try --help)" ;;
  esac
done

if [ -z "${EGRESS_DEMO_INSIDE:-}" ]; then
  for c in ip:iproute2 unshare:util-linux ping:iputils-ping nc:netcat-openbsd; do
    command -v "${c%%:*}" >/dev/null 2>&1 || die "missing ${c%%:*}; install ${c##*:}"
  done
  { nc -h 2>&1 || true; } | grep -q 'OpenBSD netcat' || die "nc is not OpenBSD netcat; install netcat-openbsd"
  [ -c /dev/net/tun ] || die "/dev/net/tun is missing: modprobe tun"
  unshare -Urn true 2>/dev/null || die "cannot create a user+network namespace (unshare -Urn); enable unprivileged user namespaces or run as root"
  bin="$(router_bin)"
  exec unshare -Urn --mount --propagation private --pid --fork --kill-child -- \
    env EGRESS_DEMO_INSIDE=1 ROUTER_BIN="$bin" DEMO_KEEP="$keep" bash "$0" demo
fi

bin="$ROUTER_BIN"
work="$(mktemp -d /tmp/container-egress.XXXXXX)"
router_pid=""
trap cleanup EXIT
mount -t tmpfs -o mode=0755 tmpfs /run || die "cannot mount a private /run"
ip link set lo up
for ns in container uplink; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
done

say "attaching the 'container' namespace; uplink 198.51.100.0/24 in 'uplink'"
write_config "$work" "10.88.0.0/24" "10.88.0.1/24" "198.51.100.2/24" "198.51.100.1" container uplink
start_router "$work" /run/router.sock "$bin"
ip -n container addr add 10.88.0.2/24 dev lan0
ip -n container route add default via 10.88.0.1
ip -n uplink addr add 198.51.100.1/24 dev wan0
ctl() { "$bin" ctl --socket /run/router.sock "$@"; }

say "ping from the container to the uplink's host (198.51.100.1)"
ip netns exec container ping -c 2 -i 0.2 -W 2 198.51.100.1

say "TCP from the container to 198.51.100.1:8080"
ip netns exec uplink nc -v -n -l 198.51.100.1 8080 >"$work/tcp.out" 2>"$work/tcp.err" &
nc_pid=$!
for _ in $(seq 50); do
  ip netns exec uplink ss -Hltn 2>/dev/null | grep -q '198.51.100.1:8080' && break
  sleep 0.1
done
echo "GET / from the container" | ip netns exec container nc -N -w 3 198.51.100.1 8080
wait "$nc_pid" || true
echo "the uplink host received: $(cat "$work/tcp.out")"
echo "and saw: $(grep -i 'received' "$work/tcp.err" || cat "$work/tcp.err")"
grep -q "198.51.100.2" "$work/tcp.err" || die "the uplink host did not see the router's address 198.51.100.2"

say "from outside, nothing new gets in"
if ip netns exec uplink ping -c 1 -W 1 10.88.0.2 >/dev/null 2>&1; then
  die "a new connection from outside reached the container"
fi
echo "ping 10.88.0.2 from the uplink: no answer (FORWARD drops it)"

say "router ctl conntrack -L"
ctl conntrack -L
say "router ctl iptables -t nat -nvxL"
ctl iptables -t nat -nvxL

if [ "${DEMO_KEEP:-0}" = 1 ]; then
  say "up; a shell in the container (exit it to tear down)"
  ip netns exec container env PS1='(container) \w\$ ' bash --norc -i || true
fi
say "tearing down"
