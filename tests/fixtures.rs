//! Replays every fixture under `fixtures/` and compares the router's output with the kernel's
//! recorded `expected.pcapng`, per interface, byte for byte (only the IP ID and header
//! checksum of packets the router originates are excused). The expectations are recorded
//! from the Linux kernel by `netns-scripts/record-fixtures.sh`, never written by hand.

use router::config::Config;
use router::pipeline::Router;
use router::replay::{self, compare, pcap};
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("router.toml").exists() && p.join("input.pcapng").exists())
        .collect();
    v.sort();
    v
}

/// Replay a fixture: the router afterwards, what it emitted, and its LOG lines.
fn run(dir: &Path) -> (Router, replay::ReplayResult, Vec<String>) {
    let cfg = Config::load(&dir.join("router.toml")).unwrap_or_else(|e| panic!("{e}"));
    let (input, _) = pcap::read_capture(&dir.join("input.pcapng"), None).unwrap();
    let mut router = Router::load(cfg).unwrap_or_else(|e| panic!("{e}"));
    let (res, log) = replay::logcap::capture(|| replay::replay(&mut router, &input, None));
    (router, res.unwrap(), log)
}

#[test]
fn every_fixture_matches_the_kernel() {
    let all = scenarios();
    assert!(
        all.len() >= 7,
        "expected at least 7 fixtures, found {}",
        all.len()
    );
    let mut failures = Vec::new();
    for dir in &all {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let exp_path = dir.join("expected.pcapng");
        assert!(
            exp_path.exists(),
            "{name}: no expected.pcapng (record it with netns-scripts/record-fixtures.sh {name})"
        );
        let (expected, _) = pcap::read_capture(&exp_path, None).unwrap();
        let (router, res, log) = run(dir);
        let diffs = compare::compare(&expected, &res.emitted, &|a| router.fib.is_local(a));
        if !diffs.is_empty() {
            let text: Vec<String> = diffs.iter().map(|d| format!("  {d}")).collect();
            failures.push(format!(
                "{name}: {} difference(s)\n{}",
                diffs.len(),
                text.join("\n")
            ));
        }
        // The kernel's connection table after the capture (timeouts aside).
        if let Ok(k) = std::fs::read_to_string(dir.join("expected.conntrack")) {
            let last = input_last(dir).unwrap_or(0);
            let listing = router.conntrack.listing(last);
            let (only_k, only_r) = router::netfilter::conntrack::diff_listings(&k, &listing);
            if !only_k.is_empty() || !only_r.is_empty() {
                failures.push(format!("{name}: conntrack differs\n  kernel only: {only_k:?}\n  router only: {only_r:?}"));
            }
        }
        // The kernel's rule counters (iptables-save -c).
        if let Ok(k) = std::fs::read_to_string(dir.join("expected.counters")) {
            let (only_k, only_r) = compare::compare_counters(&k, &router.tables.save(true));
            if !only_k.is_empty() || !only_r.is_empty() {
                failures.push(format!("{name}: rule counters differ\n  kernel only: {only_k:?}\n  router only: {only_r:?}"));
            }
        }
        // The kernel's LOG lines (recorded when the rules log).
        if let Ok(k) = std::fs::read_to_string(dir.join("expected.log")) {
            let k: Vec<String> = k.lines().map(str::to_string).collect();
            let d = replay::logcap::compare(&k, &log);
            if !d.is_empty() {
                failures.push(format!("{name}: LOG lines differ\n  {}", d.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn input_last(dir: &Path) -> Option<u64> {
    let (input, _) = pcap::read_capture(&dir.join("input.pcapng"), None).ok()?;
    input.last().map(|p| p.ts_ns)
}

#[test]
fn replay_is_deterministic() {
    for dir in scenarios() {
        let (_, a, _) = run(&dir);
        let (_, b, _) = run(&dir);
        assert_eq!(a.emitted, b.emitted, "{}", dir.display());
    }
}

#[test]
fn malformed_packets_are_counted_not_fatal() {
    let (router, res, _) = run(&fixtures_dir().join("malformed"));
    let drops: u64 = router.stats.drops.iter().sum();
    assert!(res.inputs >= 20);
    assert!(drops >= 10, "drops: {:?}", router.stats.drop_counts());
}
