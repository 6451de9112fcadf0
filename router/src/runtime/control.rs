//! The runtime's answers to control requests: counters, routing tables, live route changes,
//! hook listings, and trace/capture subscriptions. Runs on the datapath's thread between
//! batches, so every answer is a consistent snapshot.

use super::datapath::State;
use crate::config::{mask, Config};
use crate::ctl::server::Handler;
use crate::ctl::{Request, STREAM_QUEUE};
use crate::netfilter::conntrack::CtFilter;
use crate::netfilter::hooks::Family;
use crate::netfilter::tables::ast::TableName;
use crate::netfilter::tables::eval::Tables;
use crate::packet::IfIndex;
use crate::route::{Fib, Proto, Route, RouteType, Scope, Table};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use tokio::sync::mpsc;

/// The handler the control socket calls.
pub struct Control {
    state: Rc<RefCell<State>>,
}

impl Control {
    /// A handler over the running state.
    pub fn new(state: Rc<RefCell<State>>) -> Control {
        Control { state }
    }
}

fn ok(mut v: Value) -> Value {
    v["ok"] = Value::Bool(true);
    v
}

fn err(e: impl std::fmt::Display) -> Value {
    crate::ctl::error_response(e)
}

/// `A.B.C.D/LEN`, `A.B.C.D` (/32) or `default`, host bits zero.
pub fn parse_prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    if s == "default" {
        return Ok((Ipv4Addr::UNSPECIFIED, 0));
    }
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
    let len: u8 = match l.parse() {
        Ok(n) if n <= 32 => n,
        _ => return Err(format!("`{l}` is not a prefix length (0-32)")),
    };
    if mask(addr, len) != addr {
        return Err(format!(
            "`{s}`: Invalid prefix for given prefix length (did you mean {}/{len}?)",
            mask(addr, len)
        ));
    }
    Ok((addr, len))
}

fn iface_index(cfg: &Config, name: &str) -> Result<IfIndex, String> {
    cfg.interface_by_name(name).map(|i| i.index).ok_or_else(|| {
        let known: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
        format!(
            "no interface named `{name}` (interfaces: {})",
            known.join(", ")
        )
    })
}

/// Is there a main-table route for this prefix with this metric (the kernel's `File exists`
/// for `ip route add`: same prefix, TOS and priority)?
fn main_has(fib: &Fib, cfg: &Config, dst: Ipv4Addr, len: u8, metric: u32) -> bool {
    let want = match len {
        0 => "default".to_string(),
        32 => dst.to_string(),
        _ => format!("{dst}/{len}"),
    };
    fib.format_ip_route(cfg)
        .lines()
        .filter(|l| !l.contains(" table local"))
        .any(|l| {
            let mut words = l.split_whitespace();
            if words.next() != Some(want.as_str()) {
                return false;
            }
            let m = l
                .split_whitespace()
                .skip_while(|w| *w != "metric")
                .nth(1)
                .and_then(|w| w.parse::<u32>().ok())
                .unwrap_or(0);
            m == metric
        })
}

/// Build the route `ip route add` would: a gateway must be on a connected network (of `dev`
/// when given).
fn route_from(
    cfg: &Config,
    to: &str,
    via: Option<&str>,
    dev: Option<&str>,
    metric: u32,
) -> Result<Route, String> {
    let (dst, prefix_len) = parse_prefix(to)?;
    let dev = dev.map(|d| iface_index(cfg, d)).transpose()?;
    let gateway = via
        .map(|v| {
            v.parse::<Ipv4Addr>()
                .map_err(|_| format!("via: `{v}` is not an IPv4 address"))
        })
        .transpose()?;
    let dev = match (gateway, dev) {
        (None, None) => return Err("a route needs `via GATEWAY` or `dev IFACE`".into()),
        (None, Some(d)) => d,
        (Some(gw), d) => cfg
            .interfaces
            .iter()
            .find(|i| {
                d.is_none_or(|d| d == i.index)
                    && i.addresses.iter().any(|a| {
                        let (n, l) = a.network();
                        mask(gw, l) == n && a.local != gw
                    })
            })
            .map(|i| i.index)
            .ok_or_else(|| {
                format!("Nexthop has invalid gateway: {gw} is not on a connected network")
            })?,
    };
    Ok(Route {
        dst,
        prefix_len,
        kind: RouteType::Unicast,
        gateway,
        dev,
        metric,
        scope: if gateway.is_some() {
            Scope::Universe
        } else {
            Scope::Link
        },
        proto: Proto::Boot,
        prefsrc: None,
        table: Table::Main,
    })
}

impl Control {
    fn stats(&self) -> Value {
        let st = self.state.borrow();
        let s = &st.router.stats;
        let interfaces: Vec<Value> = st
            .ports
            .iter()
            .map(|p| {
                let i = s
                    .interfaces
                    .get(p.index.0 as usize)
                    .copied()
                    .unwrap_or_default();
                json!({
                    "name": p.name, "index": p.index.0, "netns": p.netns,
                    "state": if p.dev.is_some() { "up" } else { "gone" },
                    "mtu": p.mtu,
                    "rx_packets": i.rx_packets, "rx_bytes": i.rx_bytes,
                    "tx_packets": i.tx_packets, "tx_bytes": i.tx_bytes,
                    "tx_queue_drops": p.counters.tx_queue_drops,
                    "tx_errors": p.counters.tx_errors,
                    "tx_gone": p.counters.tx_gone,
                    "tx_queued": p.txq.len(),
                })
            })
            .collect();
        let drops: serde_json::Map<String, Value> = s
            .drop_counts()
            .into_iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
        ok(json!({
            "interfaces": interfaces,
            "forwarded": s.forwarded, "delivered": s.delivered, "originated": s.originated,
            "drops": drops, "stream_lost": st.taps.lost, "received": st.packets,
        }))
    }

    fn route_add(&self, to: &str, via: Option<&str>, dev: Option<&str>, metric: u32) -> Value {
        let mut st = self.state.borrow_mut();
        let r = &mut st.router;
        let route = match route_from(&r.config, to, via, dev, metric) {
            Ok(x) => x,
            Err(e) => return err(e),
        };
        if main_has(&r.fib, &r.config, route.dst, route.prefix_len, metric) {
            return err("File exists: a route to this prefix with this metric is already in the main table (delete it first, or use another metric)");
        }
        tracing::info!(
            "ctl: route add {to}{}{} metric {metric}",
            via.map(|v| format!(" via {v}")).unwrap_or_default(),
            format!(" dev {}", r.config.if_name(route.dev)),
        );
        r.fib.insert(route);
        ok(json!({}))
    }

    fn route_del(
        &self,
        to: &str,
        via: Option<&str>,
        dev: Option<&str>,
        metric: Option<u32>,
    ) -> Value {
        let mut st = self.state.borrow_mut();
        let r = &mut st.router;
        let (dst, len) = match parse_prefix(to) {
            Ok(x) => x,
            Err(e) => return err(e),
        };
        let gw = match via.map(|v| v.parse::<Ipv4Addr>()).transpose() {
            Ok(g) => g,
            Err(_) => {
                return err(format!(
                    "via: `{}` is not an IPv4 address",
                    via.unwrap_or("")
                ))
            }
        };
        let dev = match dev.map(|d| iface_index(&r.config, d)).transpose() {
            Ok(d) => d,
            Err(e) => return err(e),
        };
        let n = r.fib.remove(dst, len, gw, dev, metric);
        if n == 0 {
            return err("No such process: no route in the main table matches");
        }
        tracing::info!("ctl: route del {to}: {n} route(s) removed");
        ok(json!({"removed": n}))
    }
}

/// The filters of a `conntrack` request.
fn ct_filter(
    proto: Option<&str>,
    addrs: [&Option<String>; 4],
    sport: Option<u16>,
    dport: Option<u16>,
    mark: Option<u32>,
) -> Result<CtFilter, String> {
    let proto = proto
        .map(|p| match p {
            "tcp" => Ok(6),
            "udp" => Ok(17),
            "icmp" => Ok(1),
            "gre" => Ok(47),
            n => n
                .parse::<u8>()
                .map_err(|_| format!("unknown protocol `{n}` (tcp, udp, icmp, gre or a number)")),
        })
        .transpose()?;
    let addr = |a: &Option<String>| -> Result<Option<Ipv4Addr>, String> {
        a.as_deref()
            .map(|s| {
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("`{s}` is not an IPv4 address"))
            })
            .transpose()
    };
    if (sport.is_some() || dport.is_some()) && !matches!(proto, Some(6) | Some(17)) {
        return Err("ports need the protocol: proto tcp or udp".into());
    }
    Ok(CtFilter {
        proto,
        src: addr(addrs[0])?,
        dst: addr(addrs[1])?,
        sport,
        dport,
        reply_src: addr(addrs[2])?,
        reply_dst: addr(addrs[3])?,
        mark,
    })
}

impl Control {
    fn conntrack(&self, op: &str, filter: &CtFilter) -> Value {
        let mut st = self.state.borrow_mut();
        let now = super::clock::monotonic_ns();
        let ct = &mut st.router.conntrack;
        match op {
            "list" => {
                let text = ct.listing_filtered(now, filter);
                let count = text.lines().count();
                ok(json!({"text": text, "count": count}))
            }
            "count" => ok(json!({"count": ct.count()})),
            "delete" => {
                let n = ct.delete_matching(filter);
                tracing::info!("ctl: conntrack -D: {n} flow entries deleted");
                ok(json!({"deleted": n}))
            }
            "flush" => {
                if *filter != CtFilter::default() {
                    return err("flush takes no filters (use delete)");
                }
                let n = ct.flush();
                tracing::info!("ctl: conntrack -F: {n} flow entries flushed");
                ok(json!({"deleted": n}))
            }
            other => err(format!(
                "unknown conntrack op `{other}` (list, count, delete, flush)"
            )),
        }
    }

    fn iptables(&self, op: &str, table: Option<&str>) -> Value {
        let table = match table.map(|t| TableName::from_name(t).ok_or(t)).transpose() {
            Ok(t) => t,
            Err(t) => {
                return err(format!(
                    "can't initialize iptables table `{t}`: Table does not exist (raw, mangle, nat, filter, security)"
                ))
            }
        };
        let mut st = self.state.borrow_mut();
        let tables = &mut st.router.tables;
        match op {
            "list" => ok(json!({"text": tables.listing(table.unwrap_or(TableName::Filter))})),
            "save" => ok(json!({"text": tables.save_table(table, true)})),
            "zero" => {
                tables.zero_table(table);
                ok(json!({}))
            }
            other => err(format!("unknown iptables op `{other}` (list, save, zero)")),
        }
    }

    fn iptables_restore(&self, rules: &str, counters: bool) -> Value {
        let rs = match crate::netfilter::tables::parse::parse_str(rules, "<iptables-restore>") {
            Ok(rs) => rs,
            Err(e) => return err(format!("iptables-restore: {e}; the old rules stay")),
        };
        let tables = match Tables::load(&rs, crate::pipeline::DEFAULT_SEED) {
            Ok(t) => t,
            Err(e) => {
                return err(format!(
                    "iptables-restore: rules the router cannot run as the kernel would (the old rules stay):\n{e}"
                ))
            }
        };
        let replaced: Vec<TableName> = rs.tables.iter().map(|t| t.name).collect();
        let names: Vec<&str> = replaced.iter().map(|t| t.as_str()).collect();
        let mut st = self.state.borrow_mut();
        let mut merged = std::mem::take(&mut st.router.tables);
        merged.restore(&replaced, tables, counters);
        st.router.set_tables(merged);
        tracing::info!(
            "ctl: iptables-restore: table(s) {} replaced; other tables and connections kept",
            names.join(", ")
        );
        ok(json!({}))
    }
}

impl Handler for Control {
    fn handle(&self, req: &Request) -> Value {
        match req {
            Request::Stats => self.stats(),
            Request::Routes => {
                let st = self.state.borrow();
                let r = &st.router;
                let text = format!(
                    "{}\n{}",
                    r.fib.format_ip_route(&r.config),
                    r.fib.format_route_n(&r.config)
                );
                ok(json!({ "text": text }))
            }
            Request::Hooks => {
                let st = self.state.borrow();
                ok(json!({"text": st.router.hooks.listing(Family::Ipv4)}))
            }
            Request::RouteAdd {
                to,
                via,
                dev,
                metric,
            } => self.route_add(to, via.as_deref(), dev.as_deref(), metric.unwrap_or(0)),
            Request::RouteDel {
                to,
                via,
                dev,
                metric,
            } => self.route_del(to, via.as_deref(), dev.as_deref(), *metric),
            Request::Conntrack {
                op,
                proto,
                src,
                dst,
                sport,
                dport,
                reply_src,
                reply_dst,
                mark,
            } => {
                let filter = match ct_filter(
                    proto.as_deref(),
                    [src, dst, reply_src, reply_dst],
                    *sport,
                    *dport,
                    *mark,
                ) {
                    Ok(f) => f,
                    Err(e) => return err(e),
                };
                self.conntrack(op, &filter)
            }
            Request::Iptables { op, table } => self.iptables(op, table.as_deref()),
            Request::IptablesRestore { rules, counters } => self.iptables_restore(rules, *counters),
            Request::Sysctl { name, value } => {
                let mut st = self.state.borrow_mut();
                let r = &mut st.router;
                match value {
                    Some(v) => match r.set_sysctl(name, v) {
                        Ok((n, v)) => ok(json!({"name": n, "value": v})),
                        Err(e) => err(e),
                    },
                    None => {
                        let want = name.trim().replace('/', ".");
                        let v = r.sysctl_value(&want);
                        if v.is_empty() {
                            err(format!(
                                "sysctl: cannot stat /proc/sys/{}: No such file or directory",
                                want.replace('.', "/")
                            ))
                        } else {
                            ok(json!({"name": want, "value": v}))
                        }
                    }
                }
            }
            Request::Trace { .. } | Request::Capture { .. } | Request::ConntrackEvents => {
                err("this request starts a stream; it is not answered here")
            }
        }
    }

    fn trace(&self, iface: Option<&str>) -> Result<mpsc::Receiver<String>, String> {
        let mut st = self.state.borrow_mut();
        let iif = iface
            .map(|n| iface_index(&st.router.config, n))
            .transpose()?;
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        st.taps.add_trace(iif, tx);
        Ok(rx)
    }

    fn conntrack_events(&self) -> Result<mpsc::Receiver<String>, String> {
        let mut st = self.state.borrow_mut();
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        st.taps.add_events(tx);
        st.router.conntrack.watch_events(true);
        Ok(rx)
    }

    fn capture(&self, iface: &str) -> Result<mpsc::Receiver<String>, String> {
        let mut st = self.state.borrow_mut();
        let idx = iface_index(&st.router.config, iface)?;
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        st.taps.add_capture(idx, tx);
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg() -> Config {
        Config::parse(
            "[[interface]]\nname = \"lan0\"\naddresses = [\"10.1.0.1/24\"]\n[[interface]]\nname = \"wan0\"\naddresses = [\"10.2.0.1/24\"]\n[[route]]\nto = \"198.18.0.0/15\"\nvia = \"10.2.0.9\"\nmetric = 7\n",
            Path::new("t.toml"),
        )
        .unwrap()
    }

    #[test]
    fn prefixes() {
        assert_eq!(parse_prefix("default").unwrap(), (Ipv4Addr::UNSPECIFIED, 0));
        assert_eq!(
            parse_prefix("10.0.0.7").unwrap(),
            (Ipv4Addr::new(10, 0, 0, 7), 32)
        );
        assert!(parse_prefix("10.0.0.7/24")
            .unwrap_err()
            .contains("10.0.0.0/24"));
        assert!(parse_prefix("10.0.0.0/40").is_err());
        assert!(parse_prefix("banana").is_err());
    }

    #[test]
    fn routes_like_ip_route_add() {
        let c = cfg();
        let r = route_from(&c, "198.51.100.0/24", Some("10.2.0.2"), None, 0).unwrap();
        assert_eq!(r.dev, IfIndex(3));
        let e = route_from(&c, "198.51.100.0/24", Some("192.0.2.1"), None, 0).unwrap_err();
        assert!(e.contains("Nexthop has invalid gateway"), "{e}");
        let e = route_from(&c, "198.51.100.0/24", Some("10.2.0.2"), Some("lan0"), 0).unwrap_err();
        assert!(e.contains("invalid gateway"), "{e}");
        assert!(route_from(&c, "198.51.100.0/24", None, None, 0).is_err());
        assert!(route_from(&c, "198.51.100.0/24", None, Some("eth9"), 0)
            .unwrap_err()
            .contains("lan0, wan0"));
        let fib = Fib::from_config(&c);
        assert!(main_has(&fib, &c, Ipv4Addr::new(198, 18, 0, 0), 15, 7));
        assert!(!main_has(&fib, &c, Ipv4Addr::new(198, 18, 0, 0), 15, 0));
        assert!(main_has(&fib, &c, Ipv4Addr::new(10, 1, 0, 0), 24, 0));
        assert!(!main_has(&fib, &c, Ipv4Addr::UNSPECIFIED, 0, 0));
    }
}
