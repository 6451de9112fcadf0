//! Datapath throughput: packets forwarded per second through `Router::receive`, with no
//! rules, and with a stateful filter plus MASQUERADE (conntrack and NAT on every packet:
//! the first packet of each flow creates and translates it, the rest are looked up and
//! rewritten). `cargo bench -p router --bench datapath`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use router::config::Config;
use router::netfilter::tables::{eval::Tables, parse::parse_str};
use router::packet::{IfIndex, Meta, PacketBuf};
use router::pipeline::{Router, Sink};
use std::path::Path;

struct Count(u64);
impl Sink for Count {
    fn transmit(&mut self, _oif: IfIndex, _data: &[u8], _m: &Meta) {
        self.0 += 1;
    }
}

const CONFIG: &str = "[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.1/16\"]\n\
[[interface]]\nname = \"wan0\"\naddresses = [\"203.0.113.1/24\"]\n\
[[route]]\nto = \"0.0.0.0/0\"\nvia = \"203.0.113.254\"\n\
[sysctl]\n\"net.ipv4.ip_forward\" = 1\n";

const RULES: &str =
    "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n\
*filter\n:FORWARD DROP [0:0]\n-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
-A FORWARD -i lan0 -o wan0 -j ACCEPT\nCOMMIT\n";

/// `flows` UDP flows from the LAN, `per_flow` packets each, 100-byte datagrams.
fn packets(flows: u16, per_flow: u16) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for _ in 0..per_flow {
        for f in 0..flows {
            let h = f + 256; // not the router's own 10.0.0.1
            let src = [10, 0, (h >> 8) as u8, (h & 0xff) as u8];
            let mut p = vec![0x45, 0, 0, 128, 0, 1, 0, 0, 64, 17, 0, 0];
            p.extend_from_slice(&src);
            p.extend_from_slice(&[192, 0, 2, 53]);
            p.extend_from_slice(&(40000u16 + f % 1000).to_be_bytes());
            p.extend_from_slice(&53u16.to_be_bytes());
            p.extend_from_slice(&108u16.to_be_bytes());
            p.extend_from_slice(&[0, 0]);
            p.resize(128, 0xab);
            let c = router::wire::checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            v.push(p);
        }
    }
    v
}

fn router(rules: bool) -> Router {
    let cfg = Config::parse(CONFIG, Path::new("bench.toml")).unwrap();
    let mut r = Router::new(cfg);
    if rules {
        r.set_tables(Tables::load(&parse_str(RULES, "bench").unwrap(), 1).unwrap());
    }
    r
}

fn bench(c: &mut Criterion) {
    let pkts = packets(1000, 10);
    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    for (name, rules) in [("no_rules", false), ("stateful_masquerade", true)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || router(rules),
                |mut r| {
                    let mut buf = PacketBuf::with_capacity(2048);
                    let mut out = Count(0);
                    for (i, p) in pkts.iter().enumerate() {
                        buf.load(p);
                        r.receive(
                            IfIndex(2),
                            &mut buf,
                            1_000_000_000 + i as u64 * 1000,
                            &mut out,
                        );
                    }
                    assert_eq!(out.0, pkts.len() as u64);
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
