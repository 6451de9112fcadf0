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

fn run(dir: &Path) -> (Router, replay::ReplayResult) {
    let cfg = Config::load(&dir.join("router.toml")).unwrap_or_else(|e| panic!("{e}"));
    let (input, _) = pcap::read_capture(&dir.join("input.pcapng"), None).unwrap();
    let mut router = Router::new(cfg);
    let res = replay::replay(&mut router, &input, None).unwrap();
    (router, res)
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
        let (router, res) = run(dir);
        let diffs = compare::compare(&expected, &res.emitted, &|a| router.fib.is_local(a));
        if !diffs.is_empty() {
            let text: Vec<String> = diffs.iter().map(|d| format!("  {d}")).collect();
            failures.push(format!(
                "{name}: {} difference(s)\n{}",
                diffs.len(),
                text.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn replay_is_deterministic() {
    for dir in scenarios() {
        let (_, a) = run(&dir);
        let (_, b) = run(&dir);
        assert_eq!(a.emitted, b.emitted, "{}", dir.display());
    }
}

#[test]
fn malformed_packets_are_counted_not_fatal() {
    let (router, res) = run(&fixtures_dir().join("malformed"));
    let drops: u64 = router.stats.drops.iter().sum();
    assert!(res.inputs >= 20);
    assert!(drops >= 10, "drops: {:?}", router.stats.drop_counts());
}
