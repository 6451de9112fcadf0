//! The cargo-fuzz targets' bodies (`router::fuzzing`) run under `cargo test`: on every input
//! kept in `fuzz/regressions/<target>/` (each one a crash the fuzzer found once, fixed since),
//! and on the seeds made from the fixtures (their packets one by one and as streams through
//! the rule-laden pipeline, their rules files, their configurations). A panic fails the test.

use router::fuzzing;
use std::path::Path;

/// A target: its name and its body.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 4] = [
    ("packet_parse", fuzzing::packet_parse),
    ("pipeline", fuzzing::pipeline),
    ("rules_parser", fuzzing::rules_parser),
    ("config_loader", fuzzing::config_loader),
];

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn kept_crashes_no_longer_crash() {
    for (name, f) in TARGETS {
        let dir = root().join("fuzz/regressions").join(name);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "README.md") {
                continue;
            }
            eprintln!("{name}: {}", p.display());
            f(&std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn fixture_seeds_pass_every_target() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .flatten()
    {
        let d = e.path();
        let Ok((pkts, _)) = router::replay::pcap::read_capture(&d.join("input.pcapng"), None)
        else {
            continue;
        };
        let mut records = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            fuzzing::packet_parse(&p.data);
            records.push(((i % 3) as u8, p.data.as_slice()));
            // Every truncation of the first few packets, as hostile peers send them.
            if i < 3 {
                for cut in 0..p.data.len().min(80) {
                    fuzzing::packet_parse(&p.data[..cut]);
                }
            }
        }
        fuzzing::pipeline(&fuzzing::pipeline_input(&records, 20));
        for (file, f) in [
            ("rules.v4", fuzzing::rules_parser as fn(&[u8])),
            ("router.toml", fuzzing::config_loader),
        ] {
            if let Ok(b) = std::fs::read(d.join(file)) {
                f(&b);
                // And cut short anywhere in its first lines.
                for cut in (0..b.len().min(400)).step_by(7) {
                    f(&b[..cut]);
                }
            }
        }
        n += 1;
    }
    assert!(n > 50, "only {n} fixtures found");
}
