#!/usr/bin/env bash
# The router lab, in one command: build the router, put it between a `client` and a `server`
# network namespace, show traffic crossing it, and tear everything down.
#
#      client ns                      router process                      server ns
#   ┌─────────────┐            ┌──────────────────────────┐            ┌─────────────┐
#   │ lan0        │  TUN fd    │ lan0 10.1.0.1/24         │  TUN fd    │ wan0        │
#   │ 10.1.0.2/24 │◄──────────►│ pipeline, MASQUERADE out │◄──────────►│ 10.2.0.2/24 │
#   │ default via │            │ wan0 10.2.0.1/24         │            │ default via │
#   │   10.1.0.1  │            │ ctl /run/router.sock     │            │   10.2.0.1  │
#   └─────────────┘            └──────────────────────────┘            └─────────────┘
#
# The router runs in the namespace `unshare` creates; it creates lan0 inside `client` and wan0
# inside `server` (`netns = ...` in router.toml) and keeps their descriptors. The kernel side
# of each TUN device is the host in that namespace; the script gives it its address and
# default route.
#
# The router masquerades the client's traffic out of wan0 (the server sees 10.2.0.1) and
# runs a stateful FORWARD policy: connections from the client are let out, their replies
# back in, and nothing new from the server side gets through. The script shows it working,
# then the connection table (`ctl conntrack -L`) and the rule counters (`ctl iptables -nvxL`).
#
# Needs: user namespaces (`unshare -Urn`) or root, /dev/net/tun usable by you, iproute2,
# util-linux, iputils-ping, netcat-openbsd, and cargo to build. Everything runs inside a
# throwaway `unshare -Urn --mount --pid`: nothing on the host changes, and every process and
# namespace is gone when the script exits, however it exits. Running it again starts afresh.
#
# Usage: netns-scripts/lab.sh [--keep]
#   --keep   leave the lab up and open a shell in `client` (exit the shell to tear down)
# Environment: ROUTER_BIN=path  use this router binary instead of building one.
set -euo pipefail

keep=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "lab.sh: $*" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -z "${ROUTER_LAB_INSIDE:-}" ]; then
  # ---- outside: check, build, then re-run this script inside fresh namespaces ----
  root="$(cd "$(dirname "$0")/.." && pwd)"
  missing=()
  for c in ip:iproute2 unshare:util-linux ping:iputils-ping nc:netcat-openbsd; do
    command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c##*:}")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing programs; install: ${missing[*]} (e.g. apt-get install ${missing[*]})"
  { nc -h 2>&1 || true; } | grep -q 'OpenBSD netcat' || die "nc is not OpenBSD netcat (needed for -N); install netcat-openbsd"
  [ -c /dev/net/tun ] || die "/dev/net/tun is missing: load the tun module (modprobe tun) or create it (mknod /dev/net/tun c 10 200; chmod 0666 /dev/net/tun)"
  if ! unshare -Urn true 2>/dev/null; then
    die "cannot create a user+network namespace (unshare -Urn). Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 23.10+ also kernel.apparmor_restrict_unprivileged_userns=0), or run as root"
  fi
  if [ -n "${ROUTER_BIN:-}" ]; then
    bin="$(realpath "$ROUTER_BIN")"
  else
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed (or set ROUTER_BIN to a built router)"
    say "building the router (release)"
    (cd "$root" && cargo build --release -p router) || die "the build failed (see above)"
    bin="$root/target/release/router"
  fi
  [ -x "$bin" ] || die "no router binary at $bin"
  # --pid --fork --kill-child: when this script ends, everything started inside dies with it.
  exec unshare -Urn --mount --propagation private --pid --fork --kill-child -- \
    env ROUTER_LAB_INSIDE=1 ROUTER_BIN="$bin" LAB_KEEP="$keep" bash "$0"
fi

# ---- inside the throwaway user, mount, pid and network namespace ----
bin="$ROUTER_BIN"
work="$(mktemp -d /tmp/router-lab.XXXXXX)"
router_pid=""
cleanup() {
  status=$?
  if [ -n "$router_pid" ] && kill -0 "$router_pid" 2>/dev/null; then
    kill -TERM "$router_pid" 2>/dev/null || true
    wait "$router_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$work/router.log" ]; then
    echo "--- router log ($work/router.log) ---" >&2
    tail -n 20 "$work/router.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "lab.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# A private /run so that `ip netns add` works without root on the host.
mount -t tmpfs -o mode=0755 tmpfs /run || die "cannot mount a private /run inside the namespace"
ip link set lo up
for ns in client server; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Keep the hosts' own IPv6 chatter (router solicitations, MLD) off the links.
  ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
done

cat >"$work/router.toml" <<'EOF'
[[interface]]
name = "lan0"
addresses = ["10.1.0.1/24"]
netns = "client"

[[interface]]
name = "wan0"
addresses = ["10.2.0.1/24"]
netns = "server"

[sysctl]
"net.ipv4.ip_forward" = 1

[netfilter]
rules = "rules.v4"
EOF
cat >"$work/rules.v4" <<'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -i lan0 -o wan0 -m conntrack --ctstate NEW -j ACCEPT
COMMIT
EOF

say "starting the router"
sock=/run/router.sock
"$bin" run -c "$work/router.toml" --socket "$sock" >"$work/router.log" 2>&1 &
router_pid=$!
for _ in $(seq 100); do
  [ -S "$sock" ] && break
  kill -0 "$router_pid" 2>/dev/null || die "the router exited during start-up: $(tail -n 3 "$work/router.log")"
  sleep 0.1
done
[ -S "$sock" ] || die "the router did not come up within 10 s"
cat "$work/router.log"

ip -n client addr add 10.1.0.2/24 dev lan0
ip -n client route add default via 10.1.0.1
ip -n server addr add 10.2.0.2/24 dev wan0
ip -n server route add default via 10.2.0.1

ctl() { "$bin" ctl --socket "$sock" "$@"; }

say "ping client → server (10.2.0.2)"
ip netns exec client ping -c 3 -i 0.2 -W 2 10.2.0.2
say "ping server → client (10.1.0.2): new from outside, the FORWARD policy drops it"
if ip netns exec server ping -c 2 -i 0.2 -W 1 10.1.0.2; then
  die "the stateful FORWARD policy let a new connection in from the server side"
fi
say "ping the router itself (10.1.0.1)"
ip netns exec client ping -c 1 -W 2 10.1.0.1
say "ping with TTL 1: the router answers time exceeded"
out="$(ip netns exec client ping -c 1 -t 1 -W 2 10.2.0.2 2>&1 || true)"
echo "$out"
grep -q "Time to live exceeded" <<<"$out" || die "expected 'Time to live exceeded' from 10.1.0.1"

say "TCP: client → nc listening on 10.2.0.2:8080 in server"
ip netns exec server nc -v -n -l 10.2.0.2 8080 >"$work/tcp.out" 2>"$work/tcp.err" &
nc_pid=$!
for _ in $(seq 50); do
  ip netns exec server ss -Hltn 2>/dev/null | grep -q '10.2.0.2:8080' && break
  sleep 0.1
done
echo "hello through the router" | ip netns exec client nc -N -w 3 10.2.0.2 8080
wait "$nc_pid" || true
echo "server received: $(cat "$work/tcp.out")"
grep -q "hello through the router" "$work/tcp.out" || die "the TCP message did not arrive"
echo "server saw: $(cat "$work/tcp.err")"
grep -q "10.2.0.1" "$work/tcp.err" || die "the server did not see the masqueraded address 10.2.0.1"

say "router ctl conntrack -L (the translated connections; replies go to 10.2.0.1)"
ctl conntrack -L
say "router ctl iptables -t nat -nvxL (one packet per connection traverses nat)"
ctl iptables -t nat -nvxL
say "router ctl iptables -nvxL"
ctl iptables -nvxL

say "router ctl stats"
ctl stats
say "router ctl routes"
ctl routes

if [ "${LAB_KEEP:-0}" = 1 ]; then
  say "the lab is up; a shell in 'client' (exit it to tear everything down)"
  cat <<EOF
  try:  ping 10.2.0.2    ip route    $bin ctl --socket $sock stats
        $bin ctl --socket $sock conntrack -L      $bin ctl --socket $sock iptables -nvxL
        $bin ctl --socket $sock trace        (Ctrl-C stops)
        $bin ctl --socket $sock capture lan0 -w /tmp/lan0.pcapng -c 10
  the server side, from this shell: ip netns exec server bash
  router log: $work/router.log
EOF
  ip netns exec client env PS1='(client) \w\$ ' bash --norc -i || true
fi
say "tearing down"
