//! `router.toml`: interfaces, static routes, sysctls and the rules file, parsed into typed
//! values with errors that name the file, the line and column, the key and what is wrong.

pub mod sysctl;

use crate::packet::IfIndex;
use indexmap::IndexMap;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use sysctl::Sysctls;
use toml::Spanned;

/// A configuration error: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when not known).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, naming the key.
    pub message: String,
}

/// A configured interface.
#[derive(Debug, Clone)]
pub struct Interface {
    /// Device name.
    pub name: String,
    /// Interface index (lo is 1; configured interfaces are 2, 3, … in file order).
    pub index: IfIndex,
    /// Addresses in the order given.
    pub addresses: Vec<IfAddr>,
    /// MTU.
    pub mtu: u32,
    /// Network namespace the live runtime creates the device in: a name (`client` for
    /// /run/netns/client) or an absolute path (/proc/PID/ns/net); None for its own.
    pub netns: Option<String>,
}

/// An interface address, as `ip addr add` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// The local address.
    pub local: Ipv4Addr,
    /// Prefix length of the connected network (of the peer for point-to-point).
    pub prefix_len: u8,
    /// Peer address for point-to-point links (`A peer B`).
    pub peer: Option<Ipv4Addr>,
    /// The text as written, for `ip addr add`.
    pub text: String,
}

impl IfAddr {
    /// The connected network this address implies (the peer's for point-to-point).
    pub fn network(&self) -> (Ipv4Addr, u8) {
        let base = self.peer.unwrap_or(self.local);
        (mask(base, self.prefix_len), self.prefix_len)
    }
    /// The directed broadcast address, if the kernel installs one (prefix < 31, no peer).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        if self.peer.is_some() || self.prefix_len >= 31 {
            return None;
        }
        let host = u32::MAX >> self.prefix_len;
        Some(Ipv4Addr::from(u32::from(self.local) | host))
    }
}

/// Mask `a` to its first `len` bits.
pub fn mask(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let m = if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    };
    Ipv4Addr::from(u32::from(a) & m)
}

/// A static route from `[[route]]`.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Destination network.
    pub to: (Ipv4Addr, u8),
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Device (resolved from the gateway when not given).
    pub dev: IfIndex,
    /// Metric.
    pub metric: u32,
}

/// The `[netfilter]` section.
#[derive(Debug, Clone, Default)]
pub struct Netfilter {
    /// Path of the iptables-save rules file, resolved against the config file's directory.
    pub rules: Option<PathBuf>,
    /// Track connections even when no rule needs it (the `nf_conntrack` module's
    /// `enable_hooks=1`).
    pub conntrack: bool,
    /// Start the rule and policy counters from the file's `[packets:bytes]`, as
    /// `iptables-restore -c` does; by default they start at zero, as plain
    /// `iptables-restore` leaves them.
    pub restore_counters: bool,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// Interfaces in file order.
    pub interfaces: Vec<Interface>,
    /// Static routes in file order.
    pub routes: Vec<RouteSpec>,
    /// Effective sysctls.
    pub sysctl: Sysctls,
    /// Netfilter settings.
    pub netfilter: Netfilter,
    /// `[control] socket`: the live runtime's control socket, resolved against the config
    /// file's directory.
    pub control_socket: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    interface: Vec<Spanned<RawInterface>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    sysctl: IndexMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    netfilter: Option<RawNetfilter>,
    #[serde(default)]
    control: Option<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    name: Spanned<String>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    mtu: Option<Spanned<i64>>,
    netns: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    to: Spanned<String>,
    via: Option<Spanned<String>>,
    dev: Option<Spanned<String>>,
    metric: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetfilter {
    rules: Option<Spanned<String>>,
    conntrack: Option<bool>,
    restore_counters: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    socket: Option<Spanned<String>>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        let (line, column) = line_col(self.text, span.start);
        ConfigError {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Parse an address as `ip addr add` takes it: `A`, `A/LEN`, `A peer B`, `A peer B/LEN`.
pub fn parse_ifaddr(s: &str) -> Result<IfAddr, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let (local_s, peer_s) = match words.as_slice() {
        [a] => (*a, None),
        [a, "peer", b] => (*a, Some(*b)),
        _ => return Err("expected \"ADDR/LEN\" or \"ADDR peer PEER\"".into()),
    };
    let (local, local_len) = parse_prefix(local_s)?;
    match peer_s {
        None => Ok(IfAddr {
            local,
            prefix_len: local_len.unwrap_or(32),
            peer: None,
            text: s.into(),
        }),
        Some(p) => {
            if local_len.is_some() {
                return Err("with `peer`, the prefix length belongs on the peer address".into());
            }
            let (peer, plen) = parse_prefix(p)?;
            Ok(IfAddr {
                local,
                prefix_len: plen.unwrap_or(32),
                peer: Some(peer),
                text: s.into(),
            })
        }
    }
}

fn parse_prefix(s: &str) -> Result<(Ipv4Addr, Option<u8>), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("`{a}` is not an IP address"))?;
    let addr = match addr {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => return Err(format!("`{a}`: IPv6 is not supported yet")),
    };
    let len = match l {
        None => None,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= 32 => Some(n),
            _ => return Err(format!("`{l}` is not a prefix length (0-32)")),
        },
    };
    Ok((addr, len))
}

impl Config {
    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, path)
    }

    /// Parse configuration text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let cx = Ctx { file: &file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let (line, column) = if e.span().is_some() {
                line_col(text, span.start)
            } else {
                (0, 0)
            };
            ConfigError {
                file: file.clone(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;

        let mut interfaces: Vec<Interface> = Vec::new();
        for (i, ri) in raw.interface.iter().enumerate() {
            let ri = ri.get_ref();
            let name = ri.name.get_ref();
            if name.is_empty()
                || name.len() > 15
                || name.contains(['/', ' ', '\0'])
                || name == "."
                || name == ".."
            {
                return Err(cx.err(
                    ri.name.span(),
                    format!("interface.name: `{name}` is not a valid device name (1-15 characters, no '/' or spaces)"),
                ));
            }
            if name == "lo" || interfaces.iter().any(|x| &x.name == name) {
                return Err(cx.err(
                    ri.name.span(),
                    format!("interface.name: `{name}` is defined twice (or is `lo`)"),
                ));
            }
            let mtu = match &ri.mtu {
                None => 1500,
                Some(m) => {
                    let v = *m.get_ref();
                    // The kernel's IPv4 minimum is 68; TUN allows up to 65535.
                    if !(68..=65535).contains(&v) {
                        return Err(cx.err(
                            m.span(),
                            format!("interface `{name}`: mtu {v} is out of range (68-65535)"),
                        ));
                    }
                    v as u32
                }
            };
            let mut addresses = Vec::new();
            for a in &ri.addresses {
                let ad = parse_ifaddr(a.get_ref())
                    .map_err(|m| cx.err(a.span(), format!("interface `{name}`: addresses: {m}")))?;
                // `ip addr add` refuses the same local address (and peer) twice on a device.
                if addresses.iter().any(|x: &IfAddr| {
                    x.local == ad.local
                        && x.peer == ad.peer
                        && (ad.peer.is_some() || x.prefix_len == ad.prefix_len)
                }) {
                    return Err(cx.err(
                        a.span(),
                        format!("interface `{name}`: address {} is given twice (the kernel says \"Address already assigned\")", ad.text),
                    ));
                }
                addresses.push(ad);
            }
            let netns = match &ri.netns {
                None => None,
                Some(n) => {
                    let v = n.get_ref();
                    if v.is_empty() || v.contains('\0') || (v.contains('/') && !v.starts_with('/'))
                    {
                        return Err(cx.err(
                            n.span(),
                            format!("interface `{name}`: netns: `{v}` is neither a namespace name (for /run/netns/NAME) nor an absolute path"),
                        ));
                    }
                    Some(v.clone())
                }
            };
            interfaces.push(Interface {
                name: name.clone(),
                index: IfIndex(i as u32 + 2),
                addresses,
                mtu,
                netns,
            });
        }

        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut writes = Vec::new();
        // `file = "sysctl.conf"` first, then the table's own settings (which win).
        if let Some((k, v)) = raw.sysctl.iter().find(|(k, _)| k.get_ref() == "file") {
            let toml::Value::String(f) = v.get_ref() else {
                return Err(cx.err(v.span(), "sysctl.file: expected a path string".into()));
            };
            let fpath = base_dir.join(f);
            let ftext = std::fs::read_to_string(&fpath).map_err(|e| {
                cx.err(
                    k.span(),
                    format!("sysctl.file: cannot read {}: {e}", fpath.display()),
                )
            })?;
            let fname = fpath.display().to_string();
            let lines =
                sysctl::parse_sysctl_conf(&ftext).map_err(|(line, message)| ConfigError {
                    file: fname.clone(),
                    line,
                    column: 1,
                    message,
                })?;
            for l in lines {
                for n in sysctl::expand_glob(&l.name, &names) {
                    // Host settings outside net.* are not the router's business.
                    let name = if !n.starts_with("net.") {
                        sysctl::Name::Other(n)
                    } else {
                        match sysctl::parse_name(&n, &names) {
                            Ok(name) => name,
                            Err(_) if l.ignore_errors => continue,
                            Err(e) => {
                                return Err(ConfigError {
                                    file: fname.clone(),
                                    line: l.line,
                                    column: 1,
                                    message: format!("sysctl: {e}"),
                                })
                            }
                        }
                    };
                    if !matches!(name, sysctl::Name::Other(_)) && l.value.parse::<i64>().is_err() {
                        if l.ignore_errors {
                            continue;
                        }
                        return Err(ConfigError {
                            file: fname.clone(),
                            line: l.line,
                            column: 1,
                            message: format!(
                                "sysctl `{}`: value must be an integer, got `{}`",
                                l.name, l.value
                            ),
                        });
                    }
                    writes.push((name, l.value.clone()));
                }
            }
        }
        for (k, v) in &raw.sysctl {
            if k.get_ref() == "file" {
                continue;
            }
            let name = sysctl::parse_name(k.get_ref(), &names)
                .map_err(|e| cx.err(k.span(), format!("sysctl: {e}")))?;
            let text = match v.get_ref() {
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(b) => i64::from(*b).to_string(),
                toml::Value::String(s) => s.trim().to_string(),
                other => {
                    return Err(cx.err(
                        v.span(),
                        format!(
                            "sysctl `{}`: expected a number or a string, got {other}",
                            k.get_ref()
                        ),
                    ))
                }
            };
            if !matches!(name, sysctl::Name::Other(_)) && text.parse::<i64>().is_err() {
                return Err(cx.err(
                    v.span(),
                    format!(
                        "sysctl `{}`: value must be an integer, got `{text}`",
                        k.get_ref()
                    ),
                ));
            }
            writes.push((name, text));
        }
        let sysctl = Sysctls::resolve(writes, &names);

        let mut routes = Vec::new();
        for rr in &raw.route {
            let rr = rr.get_ref();
            let to_s = rr.to.get_ref();
            let to = if to_s == "default" {
                (Ipv4Addr::UNSPECIFIED, 0)
            } else {
                let (a, l) = parse_prefix(to_s)
                    .map_err(|m| cx.err(rr.to.span(), format!("route.to: {m}")))?;
                let l = l.unwrap_or(32);
                if mask(a, l) != a {
                    return Err(cx.err(
                        rr.to.span(),
                        format!("route.to: `{to_s}` has host bits set (the kernel says \"Invalid prefix for given prefix length\"); did you mean {}/{l}?", mask(a, l)),
                    ));
                }
                (a, l)
            };
            let via = match &rr.via {
                None => None,
                Some(v) => {
                    let (a, l) = parse_prefix(v.get_ref())
                        .map_err(|m| cx.err(v.span(), format!("route.via: {m}")))?;
                    if l.is_some() {
                        return Err(cx.err(
                            v.span(),
                            "route.via: a gateway is an address, not a prefix".into(),
                        ));
                    }
                    Some((a, v.span()))
                }
            };
            let dev = match &rr.dev {
                Some(d) => Some(
                    interfaces
                        .iter()
                        .find(|i| &i.name == d.get_ref())
                        .ok_or_else(|| {
                            cx.err(
                                d.span(),
                                format!("route.dev: no interface named `{}`", d.get_ref()),
                            )
                        })?,
                ),
                None => None,
            };
            // As the kernel: a gateway must be on-link through a connected route of `dev`
            // ("Nexthop has invalid gateway").
            let dev = match (via.clone(), dev) {
                (None, None) => {
                    return Err(cx.err(
                        rr.to.span(),
                        format!("route to `{to_s}`: needs `via` or `dev`"),
                    ));
                }
                (None, Some(d)) => d.index,
                (Some((gw, span)), d) => {
                    let found = interfaces.iter().find(|i| {
                        d.is_none_or(|d| d.index == i.index)
                            && i.addresses.iter().any(|a| {
                                let (n, l) = a.network();
                                mask(gw, l) == n && a.local != gw
                            })
                    });
                    match found {
                        Some(i) => i.index,
                        None => {
                            return Err(cx.err(
                                span,
                                format!("route.via: gateway {gw} is not on a connected network{} (the kernel says \"Nexthop has invalid gateway\")",
                                    d.map(|d| format!(" of `{}`", d.name)).unwrap_or_default()),
                            ))
                        }
                    }
                }
            };
            let metric = match &rr.metric {
                None => 0,
                Some(m) => u32::try_from(*m.get_ref()).map_err(|_| {
                    cx.err(
                        m.span(),
                        format!(
                            "route.metric: {} is out of range (0-4294967295)",
                            m.get_ref()
                        ),
                    )
                })?,
            };
            routes.push(RouteSpec {
                to,
                via: via.map(|v| v.0),
                dev,
                metric,
            });
        }

        let (rules, conntrack, restore_counters) = match raw.netfilter {
            Some(n) => (
                n.rules,
                n.conntrack.unwrap_or(false),
                n.restore_counters.unwrap_or(false),
            ),
            None => (None, false, false),
        };
        let netfilter = Netfilter {
            rules: rules.map(|r| base_dir.join(r.get_ref())),
            conntrack,
            restore_counters,
        };
        let control_socket = raw
            .control
            .and_then(|c| c.socket)
            .map(|s| base_dir.join(s.get_ref()));
        Ok(Config {
            path: path.to_path_buf(),
            interfaces,
            routes,
            sysctl,
            netfilter,
            control_socket,
        })
    }

    /// The interface with this index.
    pub fn interface(&self, idx: IfIndex) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.index == idx)
    }

    /// The name of an interface index (`lo` for 1).
    pub fn if_name(&self, idx: IfIndex) -> &str {
        if idx == IfIndex::LOOPBACK {
            return "lo";
        }
        self.interface(idx).map(|i| i.name.as_str()).unwrap_or("?")
    }

    /// The interface with this name.
    pub fn interface_by_name(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("router.toml"))
    }

    #[test]
    fn full_example() {
        let c = parse(
            r#"
[[interface]]
name = "lan0"
addresses = ["10.0.0.1/24"]
[[interface]]
name = "wan0"
addresses = ["192.0.2.1 peer 192.0.2.2"]
mtu = 1400
[[route]]
to = "0.0.0.0/0"
via = "192.0.2.2"
metric = 100
[sysctl]
"net.ipv4.ip_forward" = 1
[netfilter]
rules = "rules.v4"
"#,
        )
        .unwrap();
        assert_eq!(c.interfaces.len(), 2);
        assert_eq!(c.interfaces[1].mtu, 1400);
        assert_eq!(
            c.interfaces[1].addresses[0].peer,
            Some(Ipv4Addr::new(192, 0, 2, 2))
        );
        assert_eq!(c.routes[0].dev, c.interfaces[1].index);
        assert_eq!(c.sysctl.conf("lan0", "forwarding"), 1);
        assert_eq!(c.netfilter.rules.as_deref(), Some(Path::new("rules.v4")));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e =
            parse("[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.300/24\"]\n").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (3, "router.toml"));
        assert!(e.message.contains("addresses"), "{e}");
        let e = parse("[sysctl]\n\"net.ipv4.ip_froward\" = 1\n").unwrap_err();
        assert!(
            e.message.contains("ip_froward") && e.message.contains("ip_forward"),
            "{e}"
        );
        assert_eq!(e.line, 2);
        let e = parse("[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.1/24\"]\n[[route]]\nto = \"0.0.0.0/0\"\nvia = \"192.0.2.1\"\n").unwrap_err();
        assert!(e.message.contains("Nexthop has invalid gateway"), "{e}");
        assert_eq!(e.line, 6);
        let e = parse("[[interface]]\nname = \"lan0\"\nmtu = 20\n").unwrap_err();
        assert!(e.message.contains("mtu"), "{e}");
        let e = parse("[[interface]]\nnmae = \"lan0\"\n").unwrap_err();
        assert!(e.message.contains("nmae"), "{e}");
        let e = parse("[[route]]\nto = \"10.0.0.1/8\"\ndev = \"x\"\n").unwrap_err();
        assert!(e.message.contains("host bits"), "{e}");
    }

    #[test]
    fn sysctl_conf_file_then_table() {
        let dir = std::env::temp_dir().join(format!("router-sysctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("sysctl.conf"),
            "# distro defaults\nnet.ipv4.ip_forward = 1\n-net.ipv4.conf.*.rp_filter = 2\n-net.ipv4.made_up = 1\nvm.swappiness = 10\nkernel.pid_max=4194304\nnet.ipv4.ip_default_ttl = 100\n",
        )
        .unwrap();
        let toml = "[[interface]]\nname = \"lan0\"\n[sysctl]\nfile = \"sysctl.conf\"\n\"net.ipv4.ip_default_ttl\" = 99\n";
        let c = Config::parse(toml, &dir.join("router.toml")).unwrap();
        assert_eq!(c.sysctl.conf("lan0", "forwarding"), 1);
        assert_eq!(c.sysctl.conf("lan0", "rp_filter"), 2);
        assert_eq!(c.sysctl.get("net.ipv4.ip_default_ttl"), 99);
        assert!(c
            .sysctl
            .writes
            .iter()
            .any(|(n, v)| n == "vm.swappiness" && v == "10"));
        std::fs::write(dir.join("sysctl.conf"), "net.ipv4.ip_forwad = 1\n").unwrap();
        let e = Config::parse(toml, &dir.join("router.toml")).unwrap_err();
        assert!(
            e.file.ends_with("sysctl.conf") && e.line == 1 && e.message.contains("ip_forward"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn netns_and_control_socket() {
        let c = parse("[[interface]]\nname = \"lan0\"\nnetns = \"client\"\n[[interface]]\nname = \"wan0\"\nnetns = \"/proc/1/ns/net\"\n[[interface]]\nname = \"x0\"\n[control]\nsocket = \"run/r.sock\"\n").unwrap();
        assert_eq!(c.interfaces[0].netns.as_deref(), Some("client"));
        assert_eq!(c.interfaces[1].netns.as_deref(), Some("/proc/1/ns/net"));
        assert_eq!(c.interfaces[2].netns, None);
        assert_eq!(c.control_socket.as_deref(), Some(Path::new("run/r.sock")));
        let e = parse("[[interface]]\nname = \"lan0\"\nnetns = \"a/b\"\n").unwrap_err();
        assert!(e.message.contains("netns") && e.line == 3, "{e}");
        let e = parse("[control]\nsockt = \"x\"\n").unwrap_err();
        assert!(e.message.contains("sockt"), "{e}");
    }

    #[test]
    fn addresses() {
        let a = parse_ifaddr("10.0.0.1/24").unwrap();
        assert_eq!(a.network(), (Ipv4Addr::new(10, 0, 0, 0), 24));
        assert_eq!(a.broadcast(), Some(Ipv4Addr::new(10, 0, 0, 255)));
        let a = parse_ifaddr("192.0.2.1 peer 192.0.2.2").unwrap();
        assert_eq!(a.network(), (Ipv4Addr::new(192, 0, 2, 2), 32));
        assert_eq!(a.broadcast(), None);
        assert_eq!(parse_ifaddr("10.0.0.1").unwrap().prefix_len, 32);
        assert!(parse_ifaddr("10.0.0.1/33").is_err());
        assert!(parse_ifaddr("10.0.0.1/24 peer 10.0.0.2").is_err());
        assert!(parse_ifaddr("2001:db8::1/64").is_err());
    }
}
