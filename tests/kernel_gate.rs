//! The fixtures gate: every fixture's `expected.pcapng` must be what the Linux kernel produces
//! today. Each fixture's input is run through a kernel in a throwaway network namespace
//! (`unshare -Urn`, TUN devices), configured from the fixture's `router.toml`, and the
//! kernel's output is compared with the recorded expectation.
//!
//! This needs user namespaces (or root) and /dev/net/tun. It fails — it does not skip — when
//! they are missing: the expectations would otherwise go unchecked.

use router::replay::{compare, pcap};
use std::path::Path;

#[test]
fn recorded_expectations_are_what_the_kernel_does_today() {
    let exe = Path::new(env!("CARGO_BIN_EXE_router"));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.pcapng").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 7,
        "expected at least 7 recorded fixtures in {}",
        fixtures.display()
    );
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let kernel = router::kernel::run_kernel(
            exe,
            &dir.join("router.toml"),
            &dir.join("input.pcapng"),
            None,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{name}: cannot run the kernel side (needs `unshare -Urn` and /dev/net/tun): {e}"
            )
        })
        .packets;
        let (expected, _) = pcap::read_capture(&dir.join("expected.pcapng"), None).unwrap();
        let cfg = router::config::Config::load(&dir.join("router.toml")).unwrap();
        let fib = router::route::Fib::from_config(&cfg);
        // Both sides come from the kernel: only the IP ID and checksum of packets the kernel
        // originated differ between runs.
        let marked: Vec<pcap::Captured> = kernel
            .into_iter()
            .map(|mut c| {
                c.comment = Some(pcap::ORIGINATED.to_string());
                c
            })
            .collect();
        let diffs = compare::compare(&expected, &marked, &|a| fib.is_local(a));
        if !diffs.is_empty() {
            let text: Vec<String> = diffs.iter().map(|d| format!("  {d}")).collect();
            failures.push(format!(
                "{name}: the kernel no longer produces expected.pcapng\n{}",
                text.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
