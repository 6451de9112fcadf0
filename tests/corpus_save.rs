//! `iptables-save` as the router prints it, against iptables itself, for every dump of the
//! shared corpus that the kernel accepts: the dump goes into a fresh namespace with
//! `iptables-restore` and comes back out of `iptables-save`; the router parses the same
//! dump and prints it (`Ruleset::to_save_format`). The two texts must be equal, comment
//! lines aside. Needs `unshare` and iptables (CI installs them); as root the namespace is
//! a plain `unshare -n`, since `-m owner --uid-owner 104` needs that uid to exist, which a
//! user namespace (`-Urn`, used otherwise) does not map.
//!
//! The corpus lives outside the project (`../shared/iptables-corpus` from the workspace
//! root; licences vary, so it is not copied in). Without it the test says so and passes
//! without claiming anything.

use router::netfilter::tables::parse::parse_file;
use std::path::Path;
use std::process::Command;

#[test]
fn save_matches_iptables_save_on_the_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/iptables-corpus");
    let Ok(check) = std::fs::read_to_string(dir.join("CHECK.tsv")) else {
        println!(
            "SKIPPED: ../shared/iptables-corpus not present ({}); nothing checked",
            dir.display()
        );
        return;
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut compared = 0;
    let mut failures = Vec::new();
    for row in check.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.get(1) != Some(&"yes") {
            continue;
        }
        let file = dir.join(cols[0]);
        let ours = match parse_file(&file) {
            Ok(rs) => rs.to_save_format(false),
            Err(e) => {
                failures.push(format!("{}: the kernel accepts it, we say {e}", cols[0]));
                continue;
            }
        };
        let o = Command::new("unshare")
            .args([if root { "-n" } else { "-Urn" }, "sh", "-c"])
            .arg(format!(
                "iptables-restore < '{}' && iptables-save",
                file.display()
            ))
            .output()
            .expect("unshare and iptables are needed (CI installs them)");
        assert!(
            o.status.success(),
            "{}: iptables-restore: {}",
            cols[0],
            String::from_utf8_lossy(&o.stderr)
        );
        let kernel: String = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        compared += 1;
        if kernel != ours {
            let (k, r): (Vec<&str>, Vec<&str>) = (kernel.lines().collect(), ours.lines().collect());
            let i = (0..k.len().max(r.len()))
                .find(|&i| k.get(i) != r.get(i))
                .unwrap_or(0);
            failures.push(format!(
                "{}: line {}\n  iptables-save: {:?}\n  router:        {:?}",
                cols[0],
                i + 1,
                k.get(i).copied().unwrap_or("<end>"),
                r.get(i).copied().unwrap_or("<end>")
            ));
        }
    }
    println!("{compared} dumps compared");
    assert!(compared >= 20, "only {compared} dumps compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
