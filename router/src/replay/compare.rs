//! Comparing what the router emitted with what the kernel emitted, per interface and packet
//! by packet, naming the fields that differ. The only excused fields are the IP ID and header
//! checksum of packets the router originated (the kernel picks those IDs at random).

use super::pcap::{Captured, ORIGINATED};
use crate::wire::describe::describe;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Interface.
    pub iface: String,
    /// 1-based position among that interface's packets.
    pub index: usize,
    /// The kernel's packet, described.
    pub expected: Option<String>,
    /// The router's packet, described.
    pub actual: Option<String>,
    /// Fields that differ (empty when a packet is missing on one side).
    pub fields: Vec<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.expected, &self.actual) {
            (Some(e), None) => write!(
                f,
                "{} #{}: kernel sent, router did not:\n    kernel: {e}",
                self.iface, self.index
            ),
            (None, Some(a)) => write!(
                f,
                "{} #{}: router sent, kernel did not:\n    router: {a}",
                self.iface, self.index
            ),
            (Some(e), Some(a)) => write!(
                f,
                "{} #{}: differs in {}\n    kernel: {e}\n    router: {a}",
                self.iface,
                self.index,
                self.fields.join(", ")
            ),
            (None, None) => write!(f, "{} #{}", self.iface, self.index),
        }
    }
}

fn by_iface(pkts: &[Captured]) -> BTreeMap<&str, Vec<&Captured>> {
    let mut m: BTreeMap<&str, Vec<&Captured>> = BTreeMap::new();
    for p in pkts {
        m.entry(p.iface.as_str()).or_default().push(p);
    }
    m
}

/// Compare per interface. `is_local` says whether an address is one of the router's.
pub fn compare(
    expected: &[Captured],
    actual: &[Captured],
    is_local: &dyn Fn(Ipv4Addr) -> bool,
) -> Vec<Difference> {
    let e = by_iface(expected);
    let a = by_iface(actual);
    let mut names: Vec<&str> = e.keys().chain(a.keys()).copied().collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let ev = e.get(name).map(Vec::as_slice).unwrap_or(&[]);
        let av = a.get(name).map(Vec::as_slice).unwrap_or(&[]);
        for i in 0..ev.len().max(av.len()) {
            let (x, y) = (ev.get(i), av.get(i));
            let fields = match (x, y) {
                (Some(x), Some(y)) => {
                    // A packet the router made: the kernel picks its IP ID at random.
                    // Its source is one of ours, or (NAT translating an answer back) the
                    // address the answered packet was sent to: the same on both sides.
                    let excuse = y.comment.as_deref() == Some(ORIGINATED)
                        && x.data.len() >= 20
                        && y.data.len() >= 20
                        && (is_local(Ipv4Addr::new(
                            x.data[12], x.data[13], x.data[14], x.data[15],
                        )) || x.data[12..16] == y.data[12..16]);
                    let f = differing_fields(&x.data, &y.data, excuse);
                    if f.is_empty() {
                        continue;
                    }
                    f
                }
                _ => Vec::new(),
            };
            out.push(Difference {
                iface: name.to_string(),
                index: i + 1,
                expected: x.map(|p| describe(&p.data)),
                actual: y.map(|p| describe(&p.data)),
                fields,
            });
        }
    }
    out
}

/// Names of the fields in which two IP packets differ; with `excuse_id`, the IP ID and header
/// checksum are not compared.
pub fn differing_fields(x: &[u8], y: &[u8], excuse_id: bool) -> Vec<String> {
    let mut f = Vec::new();
    if x.len() != y.len() {
        f.push(format!("length ({} vs {})", x.len(), y.len()));
    }
    let n = x.len().min(y.len());
    let hl = x.first().map_or(20, |b| ((b & 0x0f) as usize * 4).max(20));
    let proto = x.get(9).copied().unwrap_or(0);
    let mut i = 0;
    while i < n {
        if x[i] == y[i] {
            i += 1;
            continue;
        }
        let (name, end) = field_at(i, hl, proto);
        let excused = excuse_id && (name == "ip.id" || name == "ip.checksum");
        if !excused
            && !f
                .iter()
                .any(|s: &String| s == name || s.starts_with(&format!("{name} ")))
        {
            f.push(name.to_string());
        }
        i = end.max(i + 1);
    }
    f
}

fn field_at(i: usize, hl: usize, proto: u8) -> (&'static str, usize) {
    const IP: [(usize, usize, &str); 12] = [
        (0, 1, "ip.version/ihl"),
        (1, 2, "ip.tos"),
        (2, 4, "ip.total_length"),
        (4, 6, "ip.id"),
        (6, 8, "ip.flags/frag"),
        (8, 9, "ip.ttl"),
        (9, 10, "ip.protocol"),
        (10, 12, "ip.checksum"),
        (12, 16, "ip.src"),
        (16, 20, "ip.dst"),
        (20, 60, "ip.options"),
        (60, 60, ""),
    ];
    if i < hl {
        for (a, b, n) in IP {
            if i >= a && i < b {
                return (n, b);
            }
        }
    }
    let o = i - hl;
    let l4: &[(usize, usize, &'static str)] = match proto {
        6 => &[
            (0, 2, "tcp.sport"),
            (2, 4, "tcp.dport"),
            (4, 8, "tcp.seq"),
            (8, 12, "tcp.ack"),
            (12, 13, "tcp.doff"),
            (13, 14, "tcp.flags"),
            (14, 16, "tcp.window"),
            (16, 18, "tcp.checksum"),
            (18, 20, "tcp.urgent"),
        ],
        17 => &[
            (0, 2, "udp.sport"),
            (2, 4, "udp.dport"),
            (4, 6, "udp.length"),
            (6, 8, "udp.checksum"),
        ],
        1 => &[
            (0, 1, "icmp.type"),
            (1, 2, "icmp.code"),
            (2, 4, "icmp.checksum"),
            (4, 8, "icmp.rest-of-header"),
        ],
        _ => &[],
    };
    for (a, b, n) in l4 {
        if o >= *a && o < *b {
            return (n, hl + b);
        }
    }
    if proto == 1 && o >= 8 {
        return ("icmp.quoted/data", usize::MAX);
    }
    ("payload", usize::MAX)
}

/// `iptables-save` output as per-table blocks of lines (comments dropped), tables sorted:
/// the order in which tables are printed differs between iptables versions.
pub fn save_blocks(t: &str) -> Vec<Vec<String>> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for l in t
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        if l.starts_with('*') || blocks.is_empty() {
            blocks.push(Vec::new());
        }
        if let Some(b) = blocks.last_mut() {
            b.push(l.trim_end().to_string());
        }
    }
    blocks.sort();
    blocks
}

/// Compare two `iptables-save -c` outputs: the lines only in the kernel's and only in the
/// router's (empty when they agree).
pub fn compare_counters(kernel: &str, router: &str) -> (Vec<String>, Vec<String>) {
    let (k, r) = (save_blocks(kernel), save_blocks(router));
    if k == r {
        return (Vec::new(), Vec::new());
    }
    let (kl, rl): (Vec<String>, Vec<String>) = (k.concat(), r.concat());
    (
        kl.iter().filter(|l| !rl.contains(l)).cloned().collect(),
        rl.iter().filter(|l| !kl.contains(l)).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(iface: &str, data: Vec<u8>, originated: bool) -> Captured {
        Captured {
            iface: iface.into(),
            ts_ns: 0,
            data,
            comment: originated.then(|| ORIGINATED.to_string()),
        }
    }

    #[test]
    fn names_fields_and_excuses_ids_of_originated() {
        let a = vec![
            0x45, 0, 0, 20, 0, 1, 0, 0, 64, 1, 0x11, 0x22, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let mut b = a.clone();
        b[5] = 9; // id
        b[11] = 0x33; // checksum
        let local = |x: Ipv4Addr| x == Ipv4Addr::new(10, 0, 0, 1);
        assert!(compare(
            &[cap("lan0", a.clone(), false)],
            &[cap("lan0", b.clone(), true)],
            &local
        )
        .is_empty());
        let d = compare(
            &[cap("lan0", a.clone(), false)],
            &[cap("lan0", b.clone(), false)],
            &local,
        );
        assert_eq!(d[0].fields, ["ip.id", "ip.checksum"]);
        b[8] = 63;
        let d = compare(
            &[cap("lan0", a.clone(), false)],
            &[cap("lan0", b, true)],
            &local,
        );
        assert_eq!(d[0].fields, ["ip.ttl"]);
        let d = compare(&[cap("lan0", a.clone(), false)], &[], &local);
        assert!(d[0].to_string().contains("kernel sent, router did not"));
        let d = compare(&[], &[cap("wan0", a, false)], &local);
        assert_eq!(d[0].iface, "wan0");
    }
}
