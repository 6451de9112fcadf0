//! Sysctls: every `net.*` name Linux has (the list in `linux-sysctls.txt`, read off a fresh
//! namespace of the running kernel by `netns-scripts/gen-sysctl-names.sh`), the ones the
//! router acts on with their kernel defaults, how `conf.all` / `conf.default` / `conf.IFACE`
//! combine, and `sysctl.conf` files as procps reads them.
//!
//! Values are kept in the order the file gives them, because the kernel's side effects are
//! order dependent: writing `ip_forward` (or `conf.all.forwarding`) also writes
//! `conf.default.forwarding` and every existing interface's `forwarding`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// `net.*` sysctls of Linux with their values in a fresh namespace (per-interface keys under
/// the `default` scope only).
const LINUX: &str = include_str!("linux-sysctls.txt");

fn linux() -> &'static BTreeMap<&'static str, &'static str> {
    static MAP: OnceLock<BTreeMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        LINUX
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('\t').unwrap_or((l, "")))
            .collect()
    })
}

/// Is `name` a sysctl Linux has? Per-interface names are checked against the `default` key
/// list, for the scopes `all`, `default`, `lo` and the configured interfaces.
fn linux_has(name: &str, interfaces: &[&str]) -> bool {
    if linux().contains_key(name) {
        return true;
    }
    for fam in [
        "net.ipv4.conf.",
        "net.ipv6.conf.",
        "net.ipv4.neigh.",
        "net.ipv6.neigh.",
    ] {
        if let Some(rest) = name.strip_prefix(fam) {
            if let Some((scope, key)) = rest.rsplit_once('.') {
                let scope_ok = scope == "all"
                    || scope == "default"
                    || scope == "lo"
                    || interfaces.contains(&scope);
                return scope_ok && linux().contains_key(format!("{fam}default.{key}").as_str());
            }
        }
    }
    false
}

/// Whether the router acts on a sysctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// The router implements it.
    Honoured,
    /// Accepted (Linux has it) but it cannot matter to this router.
    NoEffect,
}

/// A global (non-interface) sysctl the router knows: name, kernel default, effect.
pub struct Known {
    /// Full dotted name.
    pub name: &'static str,
    /// The kernel's default in a fresh network namespace.
    pub default: i64,
    /// Whether the router acts on it.
    pub effect: Effect,
}

use Effect::*;

/// Global sysctls (full names).
pub const GLOBAL: &[Known] = &[
    Known {
        name: "net.ipv4.ip_forward",
        default: 0,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.ip_default_ttl",
        default: 64,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_echo_ignore_all",
        default: 0,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_echo_ignore_broadcasts",
        default: 1,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_errors_use_inbound_ifaddr",
        default: 0,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_ratelimit",
        default: 1000,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_ratemask",
        default: 6168,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_msgs_per_sec",
        default: 1000,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_msgs_burst",
        default: 50,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.icmp_ignore_bogus_error_responses",
        default: 1,
        effect: NoEffect,
    },
    Known {
        name: "net.ipv4.ip_no_pmtu_disc",
        default: 0,
        effect: NoEffect,
    },
    Known {
        name: "net.ipv4.ip_forward_use_pmtu",
        default: 0,
        effect: NoEffect,
    },
    Known {
        name: "net.ipv4.tcp_syncookies",
        default: 1,
        effect: NoEffect,
    },
    Known {
        name: "net.ipv4.ipfrag_high_thresh",
        default: 4194304,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.ipfrag_low_thresh",
        default: 3145728,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.ipfrag_time",
        default: 30,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.ipfrag_max_dist",
        default: 64,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_max",
        default: 262144,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_buckets",
        default: 262144,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_checksum",
        default: 1,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_udp_timeout",
        default: 30,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_udp_timeout_stream",
        default: 120,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_icmp_timeout",
        default: 30,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_generic_timeout",
        default: 600,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_loose",
        default: 1,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_be_liberal",
        default: 0,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_max_retrans",
        default: 3,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_ignore_invalid_rst",
        default: 0,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_syn_sent",
        default: 120,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_syn_recv",
        default: 60,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_established",
        default: 432000,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_fin_wait",
        default: 120,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
        default: 60,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_last_ack",
        default: 30,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
        default: 120,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_close",
        default: 10,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_max_retrans",
        default: 300,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_tcp_timeout_unacknowledged",
        default: 300,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_gre_timeout",
        default: 30,
        effect: Honoured,
    },
    Known {
        name: "net.netfilter.nf_conntrack_gre_timeout_stream",
        default: 180,
        effect: Honoured,
    },
    Known {
        name: "net.ipv4.tcp_timestamps",
        default: 1,
        effect: NoEffect,
    },
];

/// The kernel's default for `net.ipv4.conf.<scope>.<key>` in a fresh namespace: the
/// table's, except where `ipv4_devconf_dflt` (`default` and new interfaces) differs from
/// `ipv4_devconf` (`all`).
pub fn conf_default(scope: &str, key: &str) -> i64 {
    if key == "accept_source_route" && scope != "all" {
        return 1;
    }
    CONF.iter().find(|c| c.0 == key).map_or(0, |c| c.1)
}

/// Per-interface keys (`net.ipv4.conf.{all,default,IFACE}.KEY`): key, default, effect.
pub const CONF: &[(&str, i64, Effect)] = &[
    ("forwarding", 0, Honoured),
    ("rp_filter", 0, Honoured),
    ("accept_local", 0, Honoured),
    ("route_localnet", 0, Honoured),
    ("log_martians", 0, Honoured),
    ("send_redirects", 1, Honoured),
    ("accept_redirects", 1, NoEffect),
    ("secure_redirects", 1, NoEffect),
    ("accept_source_route", 0, Honoured),
    ("proxy_arp", 0, NoEffect),
    ("bc_forwarding", 0, Honoured),
    ("shared_media", 1, NoEffect),
    ("arp_ignore", 0, NoEffect),
    ("arp_announce", 0, NoEffect),
    ("arp_filter", 0, NoEffect),
];

/// The scope of a per-interface name (`net.ipv4.conf.SCOPE.key`, also ipv6 and `neigh`).
pub fn iface_scope(name: &str) -> Option<&str> {
    [
        "net.ipv4.conf.",
        "net.ipv6.conf.",
        "net.ipv4.neigh.",
        "net.ipv6.neigh.",
    ]
    .iter()
    .find_map(|f| name.strip_prefix(f))
    .and_then(|rest| rest.rsplit_once('.'))
    .map(|(scope, _)| scope)
}

/// A parsed sysctl name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// A name Linux has that this router does not act on (or, from a sysctl.conf, a host
    /// setting outside `net.*`).
    Other(String),
    /// A global name (index into [`GLOBAL`]).
    Global(usize),
    /// `net.ipv4.conf.<scope>.<key>` (key index into [`CONF`]).
    Conf {
        /// `all`, `default` or an interface name.
        scope: String,
        /// Index into [`CONF`].
        key: usize,
    },
}

/// Why a sysctl name or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysctlError {
    /// Not a name the router knows.
    #[error("unknown sysctl `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    Unknown {
        /// The name given.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
    /// `conf.IFACE` names an interface that is not configured.
    #[error("sysctl `{name}` names interface `{iface}`, which is not configured")]
    NoSuchInterface {
        /// The name given.
        name: String,
        /// The interface.
        iface: String,
    },
    /// The value is not an integer.
    #[error("sysctl `{name}`: value must be an integer, got {value}")]
    NotInteger {
        /// The name.
        name: String,
        /// The value given.
        value: String,
    },
}

/// Parse a sysctl name (dotted, or slashed as under /proc/sys).
pub fn parse_name(raw: &str, interfaces: &[&str]) -> Result<Name, SysctlError> {
    let name = raw.trim().replace('/', ".");
    if let Some(i) = GLOBAL.iter().position(|k| k.name == name) {
        return Ok(Name::Global(i));
    }
    if let Some(rest) = name.strip_prefix("net.ipv4.conf.") {
        if let Some((scope, key)) = rest.rsplit_once('.') {
            if let Some(k) = CONF.iter().position(|c| c.0 == key) {
                if scope == "all"
                    || scope == "default"
                    || scope == "lo"
                    || interfaces.contains(&scope)
                {
                    return Ok(Name::Conf {
                        scope: scope.to_string(),
                        key: k,
                    });
                }
                let iface = scope.to_string();
                return Err(SysctlError::NoSuchInterface {
                    name: name.clone(),
                    iface,
                });
            }
        }
    }
    if linux_has(&name, interfaces) {
        return Ok(Name::Other(name));
    }
    let suggestion = all_names(interfaces)
        .into_iter()
        .min_by_key(|c| edit_distance(c, &name))
        .filter(|c| edit_distance(c, &name) <= name.len() / 3 + 2);
    Err(SysctlError::Unknown { name, suggestion })
}

fn all_names(interfaces: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = GLOBAL.iter().map(|k| k.name.to_string()).collect();
    v.extend(linux().keys().map(|k| k.to_string()));
    for scope in ["all", "default"].iter().chain(interfaces.iter()) {
        for (k, _, _) in CONF {
            v.push(format!("net.ipv4.conf.{scope}.{k}"));
        }
    }
    v
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Effective sysctl values, resolved the way the kernel would have them after the writes.
#[derive(Debug, Clone, Default)]
pub struct Sysctls {
    /// The writes, in the order they are applied (canonical name, value as text).
    pub writes: Vec<(String, String)>,
    global: BTreeMap<&'static str, i64>,
    /// conf values: (scope, key) -> value, after propagation.
    conf: BTreeMap<(String, &'static str), i64>,
}

impl Sysctls {
    /// Apply `writes` with the kernel's side effects: `ip_forward` and `conf.all.forwarding`
    /// also set `conf.default.forwarding` and every interface's. Order: global, `all` and
    /// `default` names first (in file order), then per-interface names (in file order) — the
    /// order in which a router brought up from this file would write them, interfaces being
    /// created in between and inheriting `default`.
    pub fn resolve(writes: Vec<(Name, String)>, interfaces: &[&str]) -> Sysctls {
        let mut s = Sysctls::default();
        let (mut ordered, per_iface): (Vec<_>, Vec<_>) =
            writes.into_iter().partition(|(n, _)| match n {
                Name::Conf { scope, .. } => scope == "all" || scope == "default",
                Name::Other(n) => iface_scope(n).is_none_or(|s| s == "all" || s == "default"),
                Name::Global(_) => true,
            });
        ordered.extend(per_iface);
        for (name, text) in ordered {
            let value = text.trim().parse::<i64>().unwrap_or(0);
            match name {
                Name::Other(n) => s.writes.push((n, text)),
                Name::Global(i) => {
                    let k = &GLOBAL[i];
                    s.writes.push((k.name.to_string(), text));
                    s.global.insert(k.name, value);
                    if k.name == "net.ipv4.ip_forward" {
                        s.set_forwarding_everywhere(value != 0, interfaces);
                    }
                }
                Name::Conf { scope, key } => {
                    let k = CONF[key].0;
                    s.writes.push((format!("net.ipv4.conf.{scope}.{k}"), text));
                    if k == "forwarding" && scope == "all" {
                        s.global
                            .insert("net.ipv4.ip_forward", i64::from(value != 0));
                        s.set_forwarding_everywhere(value != 0, interfaces);
                    } else {
                        s.conf.insert((scope, k), value);
                    }
                }
            }
        }
        s
    }

    /// `sysctl -w NAME=VALUE` on a running router: the writes so far and this one, resolved
    /// again (so `ip_forward` and `conf.all.forwarding` still reach every interface, and a
    /// `default` value reaches the interfaces no write set explicitly). Returns the new set
    /// and the canonical name.
    pub fn write_live(
        &self,
        name: &str,
        value: &str,
        interfaces: &[&str],
    ) -> Result<(Sysctls, String), String> {
        let name = name.trim().replace('/', ".");
        let parsed = parse_name(&name, interfaces).map_err(|e| e.to_string())?;
        if !matches!(parsed, Name::Other(_)) && value.trim().parse::<i64>().is_err() {
            return Err(format!(
                "sysctl: setting key \"{name}\": Invalid argument (`{value}` is not an integer)"
            ));
        }
        let canonical = match &parsed {
            Name::Other(n) => n.clone(),
            Name::Global(i) => GLOBAL[*i].name.to_string(),
            Name::Conf { scope, key } => format!("net.ipv4.conf.{scope}.{}", CONF[*key].0),
        };
        let mut writes = Vec::with_capacity(self.writes.len() + 1);
        for (n, v) in &self.writes {
            let p = parse_name(n, interfaces).unwrap_or_else(|_| Name::Other(n.clone()));
            writes.push((p, v.clone()));
        }
        writes.push((parsed, value.trim().to_string()));
        Ok((Sysctls::resolve(writes, interfaces), canonical))
    }

    fn set_forwarding_everywhere(&mut self, on: bool, interfaces: &[&str]) {
        let v = i64::from(on);
        for scope in ["all", "default", "lo"].iter().chain(interfaces.iter()) {
            self.conf.insert((scope.to_string(), "forwarding"), v);
        }
    }

    /// A global value (kernel default when not written).
    pub fn get(&self, name: &str) -> i64 {
        if let Some(v) = self.global.get(name) {
            return *v;
        }
        GLOBAL
            .iter()
            .find(|k| k.name == name)
            .map(|k| k.default)
            .unwrap_or_else(|| panic!("sysctl {name} is not in the table"))
    }

    /// `net.ipv4.conf.<scope>.<key>`: written value, else for an interface the `default`
    /// value as it was when the interface was created (the router creates interfaces after
    /// applying `default`), else the kernel default.
    pub fn conf(&self, scope: &str, key: &str) -> i64 {
        let k = CONF
            .iter()
            .find(|c| c.0 == key)
            .unwrap_or_else(|| panic!("conf key {key} is not in the table"));
        if let Some(v) = self.conf.get(&(scope.to_string(), k.0)) {
            return *v;
        }
        if scope != "all" {
            if let Some(v) = self.conf.get(&("default".to_string(), k.0)) {
                return *v;
            }
            return conf_default(scope, k.0);
        }
        k.1
    }

    /// Every name Linux has (and the router's own), with its effective value and whether the
    /// router acts on it: what `router sysctl -a` prints.
    pub fn effective(&self, interfaces: &[&str]) -> Vec<(String, String, Effect)> {
        let mut m: BTreeMap<String, (String, Effect)> = BTreeMap::new();
        let scopes: Vec<&str> = ["all", "default", "lo"]
            .iter()
            .copied()
            .chain(interfaces.iter().copied())
            .collect();
        for (name, value) in linux() {
            match iface_scope(name) {
                Some("default") => {
                    let key = name.rsplit_once('.').map(|x| x.1).unwrap_or_default();
                    let base = &name[..name.len() - key.len() - "default.".len()];
                    for sc in &scopes {
                        m.insert(format!("{base}{sc}.{key}"), (value.to_string(), NoEffect));
                    }
                }
                Some(_) => {}
                None => {
                    m.insert(name.to_string(), (value.to_string(), NoEffect));
                }
            }
        }
        for (n, v) in &self.writes {
            if let Some(e) = m.get_mut(n) {
                e.0 = v.clone();
            } else {
                m.insert(n.clone(), (v.clone(), NoEffect));
            }
        }
        for k in GLOBAL {
            m.insert(k.name.to_string(), (self.get(k.name).to_string(), k.effect));
        }
        for sc in &scopes {
            for (k, _, e) in CONF {
                m.insert(
                    format!("net.ipv4.conf.{sc}.{k}"),
                    (self.conf(sc, k).to_string(), *e),
                );
            }
        }
        m.into_iter().map(|(n, (v, e))| (n, v, e)).collect()
    }
}

/// One line of a sysctl.conf that names a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfLine {
    /// 1-based line number.
    pub line: usize,
    /// The name (dots; `/` converted), possibly with a `*` glob in an interface position.
    pub name: String,
    /// The value text.
    pub value: String,
    /// A leading `-`: failures to apply it are ignored, as `sysctl --system` does.
    pub ignore_errors: bool,
}

/// Parse sysctl.conf text as procps does: `name = value` lines, `#` and `;` comments, blank
/// lines, `-` prefix to ignore errors. Returns the lines naming settings, or the first bad
/// line (no `=`).
pub fn parse_sysctl_conf(text: &str) -> Result<Vec<ConfLine>, (usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let (ignore_errors, l) = match l.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, l),
        };
        let Some((n, v)) = l.split_once('=') else {
            return Err((i + 1, format!("expected `name = value`, got `{l}`")));
        };
        let name = n.trim().replace('/', ".");
        if name.is_empty() {
            return Err((i + 1, "missing sysctl name before `=`".into()));
        }
        out.push(ConfLine {
            line: i + 1,
            name,
            value: v.trim().to_string(),
            ignore_errors,
        });
    }
    Ok(out)
}

/// Expand a `*` in a per-interface name to `all`, `default`, `lo` and every interface.
pub fn expand_glob(name: &str, interfaces: &[&str]) -> Vec<String> {
    if !name.contains('*') {
        return vec![name.to_string()];
    }
    ["all", "default", "lo"]
        .iter()
        .chain(interfaces.iter())
        .map(|sc| name.replacen('*', sc, 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_suggest() {
        assert_eq!(parse_name("net.ipv4.ip_forward", &[]), Ok(Name::Global(0)));
        assert_eq!(parse_name("net/ipv4/ip_forward", &[]), Ok(Name::Global(0)));
        match parse_name("net.ipv4.ip_forwrd", &[]) {
            Err(SysctlError::Unknown { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("net.ipv4.ip_forward"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_name("net.ipv4.conf.eth9.forwarding", &["lan0"]),
            Err(SysctlError::NoSuchInterface { .. })
        ));
        assert!(parse_name("net.ipv4.conf.lan0.rp_filter", &["lan0"]).is_ok());
    }

    #[test]
    fn ip_forward_propagates_then_iface_overrides() {
        let ifs = ["lan0", "wan0"];
        let w = vec![
            (
                parse_name("net.ipv4.ip_forward", &ifs).unwrap(),
                "1".to_string(),
            ),
            (
                parse_name("net.ipv4.conf.wan0.forwarding", &ifs).unwrap(),
                "0".to_string(),
            ),
        ];
        let s = Sysctls::resolve(w, &ifs);
        assert_eq!(s.conf("lan0", "forwarding"), 1);
        assert_eq!(s.conf("wan0", "forwarding"), 0);
        assert_eq!(s.conf("default", "forwarding"), 1);
        // per-interface writes apply after global ones, whatever the file order
        let w = vec![
            (
                parse_name("net.ipv4.conf.wan0.forwarding", &ifs).unwrap(),
                "0".to_string(),
            ),
            (
                parse_name("net.ipv4.ip_forward", &ifs).unwrap(),
                "1".to_string(),
            ),
        ];
        let s = Sysctls::resolve(w, &ifs);
        assert_eq!(s.conf("wan0", "forwarding"), 0);
        assert_eq!(s.writes[0].0, "net.ipv4.ip_forward");
        assert_eq!(Sysctls::default().get("net.ipv4.ip_default_ttl"), 64);
    }

    #[test]
    fn every_linux_name_is_known() {
        let ifs = ["lan0"];
        assert!(matches!(
            parse_name("net.ipv4.tcp_rmem", &ifs),
            Ok(Name::Other(_))
        ));
        assert!(matches!(
            parse_name("net.ipv4.conf.lan0.arp_ignore", &ifs),
            Ok(Name::Conf { .. })
        ));
        assert!(matches!(
            parse_name("net.ipv4.conf.lan0.bootp_relay", &ifs),
            Ok(Name::Other(_))
        ));
        assert!(matches!(
            parse_name("net.netfilter.nf_conntrack_acct", &ifs),
            Ok(Name::Other(_))
        ));
        assert!(parse_name("net.ipv4.conf.eth7.bootp_relay", &ifs).is_err());
        assert!(parse_name("net.ipv4.no_such_thing", &ifs).is_err());
        let eff = Sysctls::default().effective(&ifs);
        assert!(eff
            .iter()
            .any(|(n, v, e)| n == "net.ipv4.ip_local_port_range"
                && v == "32768\t60999"
                && *e == Effect::NoEffect));
        assert!(eff
            .iter()
            .any(|(n, v, e)| n == "net.ipv4.conf.lan0.forwarding"
                && v == "0"
                && *e == Effect::Honoured));
    }

    #[test]
    fn sysctl_conf_syntax() {
        let t = "# c\n; c\n\nnet.ipv4.ip_forward = 1\n-net.ipv4.conf.*.rp_filter=2\nnet/ipv4/ip_default_ttl =  63 \n";
        let v = parse_sysctl_conf(t).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(
            (
                v[1].line,
                v[1].name.as_str(),
                v[1].value.as_str(),
                v[1].ignore_errors
            ),
            (5, "net.ipv4.conf.*.rp_filter", "2", true)
        );
        assert_eq!(v[2].name, "net.ipv4.ip_default_ttl");
        assert_eq!(parse_sysctl_conf("x\n").unwrap_err().0, 1);
        assert_eq!(expand_glob("net.ipv4.conf.*.rp_filter", &["lan0"]).len(), 4);
    }
}
