//! The forwarding information base: the kernel's `local` and `main` tables, longest prefix
//! first, then lowest metric; connected, local and broadcast routes derived from interface
//! addresses exactly as the kernel installs them; and the `ip route` / `route -n` listings.
//!
//! Lookup consults `local` before `main`, as the kernel's default policy rules do
//! (`0: from all lookup local`, `32766: from all lookup main`). Each prefix keeps its routes
//! sorted by metric, so a lookup is one longest-prefix match and a slice head: no allocation.

use crate::config::{mask, Config};
use crate::packet::IfIndex;
use ip_network::Ipv4Network;
use ip_network_table::IpNetworkTable;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Route types (`rtm_type`) the router uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteType {
    /// A gateway or direct route.
    Unicast,
    /// One of our own addresses.
    Local,
    /// A broadcast address of one of our networks.
    Broadcast,
}

/// Route scope (`rtm_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere (gateway routes).
    Universe,
    /// On-link.
    Link,
    /// This host.
    Host,
}

/// Who installed the route (`rtm_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Derived from an address (`proto kernel`).
    Kernel,
    /// Configured (`proto boot`, the default of `ip route add`).
    Boot,
}

/// The two tables of the default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Table 255.
    Local,
    /// Table 254.
    Main,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination network address.
    pub dst: Ipv4Addr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Type.
    pub kind: RouteType,
    /// Gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Output device.
    pub dev: IfIndex,
    /// Metric (priority).
    pub metric: u32,
    /// Scope.
    pub scope: Scope,
    /// Protocol.
    pub proto: Proto,
    /// Preferred source address.
    pub prefsrc: Option<Ipv4Addr>,
    /// Table.
    pub table: Table,
}

/// A lookup result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Route type.
    pub kind: RouteType,
    /// Output device (the device owning the address, for local routes).
    pub dev: IfIndex,
    /// Next hop: the gateway, or the destination itself when on-link.
    pub nexthop: Ipv4Addr,
    /// Preferred source for packets we originate along this route.
    pub prefsrc: Option<Ipv4Addr>,
    /// Directly connected (no gateway): the kernel's `nhc_scope >= RT_SCOPE_HOST`.
    pub onlink: bool,
}

/// The routing tables.
pub struct Fib {
    local: IpNetworkTable<Vec<Route>>,
    main: IpNetworkTable<Vec<Route>>,
    /// Interface addresses: (dev, local, prefix_len), in configuration order, for source
    /// selection (`inet_select_addr`).
    addrs: Vec<(IfIndex, Ipv4Addr, u8, Option<Ipv4Addr>)>,
}

impl Default for Fib {
    fn default() -> Self {
        Fib::new()
    }
}

impl Fib {
    /// Empty tables.
    pub fn new() -> Self {
        Fib {
            local: IpNetworkTable::new(),
            main: IpNetworkTable::new(),
            addrs: Vec::new(),
        }
    }

    /// Build the tables for a configuration: loopback, interface addresses, static routes.
    pub fn from_config(cfg: &Config) -> Fib {
        let mut fib = Fib::new();
        let lo = Ipv4Addr::LOCALHOST;
        fib.add_address(IfIndex::LOOPBACK, lo, 8, None);
        for i in &cfg.interfaces {
            for a in &i.addresses {
                fib.add_address(i.index, a.local, a.prefix_len, a.peer);
            }
        }
        for r in &cfg.routes {
            let scope = if r.via.is_some() {
                Scope::Universe
            } else {
                Scope::Link
            };
            fib.insert(Route {
                dst: r.to.0,
                prefix_len: r.to.1,
                kind: RouteType::Unicast,
                gateway: r.via,
                dev: r.dev,
                metric: r.metric,
                scope,
                proto: Proto::Boot,
                prefsrc: None,
                table: Table::Main,
            });
        }
        fib
    }

    /// Add an address and its routes as `fib_add_ifaddr` does: a local /32, the connected
    /// network (unless /32 without peer), and the directed broadcast (prefix < 31).
    pub fn add_address(
        &mut self,
        dev: IfIndex,
        local: Ipv4Addr,
        prefix_len: u8,
        peer: Option<Ipv4Addr>,
    ) {
        self.addrs.push((dev, local, prefix_len, peer));
        let kernel = |dst, prefix_len, kind, scope, table| Route {
            dst,
            prefix_len,
            kind,
            gateway: None,
            dev,
            metric: 0,
            scope,
            proto: Proto::Kernel,
            prefsrc: Some(local),
            table,
        };
        if dev == IfIndex::LOOPBACK {
            // lo: `local 127.0.0.0/8` plus `local 127.0.0.1`.
            self.insert(kernel(
                mask(local, prefix_len),
                prefix_len,
                RouteType::Local,
                Scope::Host,
                Table::Local,
            ));
        }
        self.insert(kernel(
            local,
            32,
            RouteType::Local,
            Scope::Host,
            Table::Local,
        ));
        let net_base = peer.unwrap_or(local);
        if dev != IfIndex::LOOPBACK && (peer.is_some() || prefix_len < 32) {
            self.insert(kernel(
                mask(net_base, prefix_len),
                prefix_len,
                RouteType::Unicast,
                Scope::Link,
                Table::Main,
            ));
        }
        if peer.is_none() && prefix_len < 31 {
            let b = Ipv4Addr::from(u32::from(local) | (u32::MAX >> prefix_len));
            self.insert(kernel(
                b,
                32,
                RouteType::Broadcast,
                Scope::Link,
                Table::Local,
            ));
        }
    }

    /// Insert a route, keeping each prefix's routes ordered by metric (stable for equal
    /// metrics: first added first, as the kernel appends). A duplicate is ignored.
    pub fn insert(&mut self, r: Route) {
        let net = Ipv4Network::new(r.dst, r.prefix_len).expect("masked prefix");
        let table = match r.table {
            Table::Local => &mut self.local,
            Table::Main => &mut self.main,
        };
        if let Some(v) = table.exact_match_mut(net) {
            if v.iter().any(|x| {
                x.kind == r.kind && x.gateway == r.gateway && x.dev == r.dev && x.metric == r.metric
            }) {
                return;
            }
            let pos = v
                .iter()
                .position(|x| x.metric > r.metric)
                .unwrap_or(v.len());
            v.insert(pos, r);
        } else {
            table.insert(net, vec![r]);
        }
    }

    /// Remove routes matching prefix, and gateway/dev/metric when given. Returns how many.
    pub fn remove(
        &mut self,
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        dev: Option<IfIndex>,
        metric: Option<u32>,
    ) -> usize {
        let Ok(net) = Ipv4Network::new(dst, prefix_len) else {
            return 0;
        };
        let Some(v) = self.main.exact_match_mut(net) else {
            return 0;
        };
        let before = v.len();
        v.retain(|r| {
            !(gateway.is_none_or(|g| r.gateway == Some(g))
                && dev.is_none_or(|d| r.dev == d)
                && metric.is_none_or(|m| r.metric == m))
        });
        let n = before - v.len();
        if v.is_empty() {
            self.main.remove(net);
        }
        n
    }

    /// Longest-prefix lookup, local table first, then main; lowest metric wins.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<Resolved> {
        let hit = self
            .local
            .longest_match_ipv4(dst)
            .or_else(|| self.main.longest_match_ipv4(dst))?;
        let r = hit.1.first()?;
        Some(Resolved {
            kind: r.kind,
            dev: r.dev,
            nexthop: r.gateway.unwrap_or(dst),
            prefsrc: r
                .prefsrc
                .or_else(|| self.select_addr(r.dev, r.gateway.unwrap_or(dst), r.scope)),
            onlink: r.gateway.is_none(),
        })
    }

    /// Is `a` exactly one of the addresses assigned to an interface (lo's 127.0.0.1
    /// included)? The kernel's `inet_lookup_ifaddr_rcu`: unlike [`Fib::is_local`], the rest
    /// of 127.0.0.0/8 does not count.
    pub fn is_interface_address(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|x| x.1 == a)
    }

    /// The type and device of `a` in the local table (`inet_addr_type`), if it has a local
    /// or broadcast route there.
    pub fn local_type(&self, a: Ipv4Addr) -> Option<(RouteType, IfIndex)> {
        let (_, v) = self.local.longest_match_ipv4(a)?;
        v.first().map(|r| (r.kind, r.dev))
    }

    /// The first address of `dev` (the head of its `ifa_list`: addresses in the order they
    /// were added), if it has one.
    pub fn first_addr(&self, dev: IfIndex) -> Option<Ipv4Addr> {
        self.addrs.iter().find(|a| a.0 == dev).map(|a| a.1)
    }

    /// Does interface `dev` have any address?
    pub fn has_address(&self, dev: IfIndex) -> bool {
        self.addrs.iter().any(|a| a.0 == dev)
    }

    /// Is `a` one of the router's own addresses (a `local` route)?
    pub fn is_local(&self, a: Ipv4Addr) -> bool {
        matches!(self.local.longest_match_ipv4(a), Some((_, v)) if v.first().is_some_and(|r| r.kind == RouteType::Local))
    }

    /// The kernel's `inet_select_addr`: the first address of `dev` whose network contains
    /// `dst`, else its first address of suitable scope, else any address of another device.
    pub fn select_addr(&self, dev: IfIndex, dst: Ipv4Addr, scope: Scope) -> Option<Ipv4Addr> {
        let ours = self.addrs.iter().filter(|a| a.0 == dev);
        let mut first = None;
        for &(_, local, len, peer) in ours {
            if first.is_none() {
                first = Some(local);
            }
            let base = peer.unwrap_or(local);
            if mask(dst, len) == mask(base, len) {
                return Some(local);
            }
        }
        if first.is_some() {
            return first;
        }
        // Host-scope (127/8) addresses are not used for other devices.
        let _ = scope;
        self.addrs
            .iter()
            .find(|a| a.0 != IfIndex::LOOPBACK)
            .map(|a| a.1)
    }

    fn all_routes(&self) -> Vec<&Route> {
        let mut main: Vec<&Route> = self.main.iter_ipv4().flat_map(|(_, v)| v.iter()).collect();
        let mut local: Vec<&Route> = self.local.iter_ipv4().flat_map(|(_, v)| v.iter()).collect();
        // The kernel's trie dump order: by address, longer prefixes first at the same key.
        let key = |r: &&Route| (u32::from(r.dst), std::cmp::Reverse(r.prefix_len));
        main.sort_by_key(key);
        local.sort_by_key(key);
        main.extend(local);
        main
    }

    /// `ip route show table all` (IPv4 part).
    pub fn format_ip_route(&self, cfg: &Config) -> String {
        let mut out = String::new();
        for r in self.all_routes() {
            let dst = if r.prefix_len == 0 && r.table == Table::Main {
                "default".to_string()
            } else if r.prefix_len == 32 {
                r.dst.to_string()
            } else {
                format!("{}/{}", r.dst, r.prefix_len)
            };
            match r.kind {
                RouteType::Local => out.push_str("local "),
                RouteType::Broadcast => out.push_str("broadcast "),
                RouteType::Unicast => {}
            }
            out.push_str(&dst);
            if let Some(g) = r.gateway {
                let _ = write!(out, " via {g}");
            }
            let _ = write!(out, " dev {}", cfg.if_name(r.dev));
            if r.table == Table::Local {
                out.push_str(" table local");
            }
            if r.proto == Proto::Kernel {
                out.push_str(" proto kernel");
            }
            match r.scope {
                Scope::Universe => {}
                Scope::Link if r.proto == Proto::Boot => out.push_str(" scope link"),
                Scope::Link => out.push_str(" scope link"),
                Scope::Host => out.push_str(" scope host"),
            }
            if let Some(s) = r.prefsrc {
                let _ = write!(out, " src {s}");
            }
            if r.metric != 0 {
                let _ = write!(out, " metric {}", r.metric);
            }
            out.push_str(" \n");
        }
        out
    }

    /// `route -n` (the main table).
    pub fn format_route_n(&self, cfg: &Config) -> String {
        let mut out = String::from(
            "Kernel IP routing table\nDestination     Gateway         Genmask         Flags Metric Ref    Use Iface\n",
        );
        for r in self
            .all_routes()
            .into_iter()
            .filter(|r| r.table == Table::Main)
        {
            let genmask = mask(Ipv4Addr::BROADCAST, r.prefix_len);
            let mut flags = String::from("U");
            if r.gateway.is_some() {
                flags.push('G');
            }
            if r.prefix_len == 32 {
                flags.push('H');
            }
            let _ = writeln!(
                out,
                "{:<15} {:<15} {:<15} {:<5} {:<6} {:<2} {:>7} {}",
                r.dst.to_string(),
                r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                genmask.to_string(),
                flags,
                r.metric,
                0,
                0,
                cfg.if_name(r.dev)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg() -> Config {
        Config::parse(
            r#"
[[interface]]
name = "lan0"
addresses = ["10.0.0.1/24", "10.0.0.9/8"]
[[interface]]
name = "wan0"
addresses = ["192.0.2.1 peer 192.0.2.2"]
[[route]]
to = "0.0.0.0/0"
via = "192.0.2.2"
dev = "wan0"
metric = 100
[[route]]
to = "198.18.0.0/15"
via = "10.0.0.254"
metric = 10
[[route]]
to = "198.18.0.0/15"
via = "10.0.0.253"
metric = 5
"#,
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn listing_matches_iproute2() {
        let c = cfg();
        let fib = Fib::from_config(&c);
        // Captured from `ip route show table all` in a namespace configured the same way
        // (IPv6 lines and the `linkdown` flag of unattached TUN devices removed).
        let expected = "\
default via 192.0.2.2 dev wan0 metric 100 \n\
10.0.0.0/24 dev lan0 proto kernel scope link src 10.0.0.1 \n\
10.0.0.0/8 dev lan0 proto kernel scope link src 10.0.0.9 \n\
192.0.2.2 dev wan0 proto kernel scope link src 192.0.2.1 \n\
198.18.0.0/15 via 10.0.0.253 dev lan0 metric 5 \n\
198.18.0.0/15 via 10.0.0.254 dev lan0 metric 10 \n\
local 10.0.0.1 dev lan0 table local proto kernel scope host src 10.0.0.1 \n\
local 10.0.0.9 dev lan0 table local proto kernel scope host src 10.0.0.9 \n\
broadcast 10.0.0.255 dev lan0 table local proto kernel scope link src 10.0.0.1 \n\
broadcast 10.255.255.255 dev lan0 table local proto kernel scope link src 10.0.0.9 \n\
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 \n\
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 \n\
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 \n\
local 192.0.2.1 dev wan0 table local proto kernel scope host src 192.0.2.1 \n";
        assert_eq!(fib.format_ip_route(&c), expected);
        let rn = fib.format_route_n(&c);
        assert!(
            rn.contains(
                "0.0.0.0         192.0.2.2       0.0.0.0         UG    100    0        0 wan0"
            ),
            "{rn}"
        );
        assert!(
            rn.contains(
                "192.0.2.2       0.0.0.0         255.255.255.255 UH    0      0        0 wan0"
            ),
            "{rn}"
        );
    }

    #[test]
    fn longest_prefix_then_metric() {
        let c = cfg();
        let fib = Fib::from_config(&c);
        let r = fib.lookup(Ipv4Addr::new(198, 19, 1, 1)).unwrap();
        assert_eq!(r.nexthop, Ipv4Addr::new(10, 0, 0, 253));
        let r = fib.lookup(Ipv4Addr::new(10, 0, 0, 7)).unwrap();
        assert_eq!(
            (r.kind, r.nexthop, r.prefsrc),
            (
                RouteType::Unicast,
                Ipv4Addr::new(10, 0, 0, 7),
                Some(Ipv4Addr::new(10, 0, 0, 1))
            )
        );
        let r = fib.lookup(Ipv4Addr::new(10, 1, 0, 7)).unwrap();
        assert_eq!(r.prefsrc, Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(
            fib.lookup(Ipv4Addr::new(10, 0, 0, 255)).unwrap().kind,
            RouteType::Broadcast
        );
        assert_eq!(
            fib.lookup(Ipv4Addr::new(127, 3, 3, 3)).unwrap().kind,
            RouteType::Local
        );
        assert_eq!(
            fib.lookup(Ipv4Addr::new(203, 0, 113, 5)).unwrap().dev,
            IfIndex(3)
        );
        assert!(fib.is_local(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(!fib.is_local(Ipv4Addr::new(192, 0, 2, 2)));
        let mut fib = fib;
        assert_eq!(fib.remove(Ipv4Addr::UNSPECIFIED, 0, None, None, None), 1);
        assert!(fib.lookup(Ipv4Addr::new(203, 0, 113, 5)).is_none());
    }
}
