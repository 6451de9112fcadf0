//! `iptables-save` and `iptables -nvxL` as the router prints them, against iptables itself,
//! for every dump of the shared corpus that the kernel accepts: the dump goes into a fresh
//! namespace with `iptables-restore` and comes back out of `iptables-save` and
//! `iptables -t T -nvxL` for each table; the router parses the same dump and prints it
//! (`Ruleset::to_save_format`, and `Tables::listing` for the dumps it can load, i.e.
//! without unsupported modules). The texts must be equal, comment lines aside. Needs `unshare` and iptables (CI installs them); as root the namespace is
//! a plain `unshare -n`, since `-m owner --uid-owner 104` needs that uid to exist, which a
//! user namespace (`-Urn`, used otherwise) does not map.
//!
//! The corpus lives outside the project (`../shared/iptables-corpus` from the workspace
//! root; licences vary, so it is not copied in). Without it the test says so and passes
//! without claiming anything.

use router::netfilter::tables::ast::TableName;
use router::netfilter::tables::eval::Tables;
use router::netfilter::tables::parse::parse_file;
use std::path::Path;
use std::process::Command;

#[test]
fn save_and_listings_match_iptables_on_the_corpus() {
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
    let (mut compared, mut listed) = (0, 0);
    let mut failures = Vec::new();
    for row in check.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.get(1) != Some(&"yes") {
            continue;
        }
        let file = dir.join(cols[0]);
        let rs = match parse_file(&file) {
            Ok(rs) => rs,
            Err(e) => {
                failures.push(format!("{}: the kernel accepts it, we say {e}", cols[0]));
                continue;
            }
        };
        let tables: Vec<TableName> = TableName::SAVE_ORDER
            .into_iter()
            .filter(|t| rs.tables.iter().any(|x| x.name == *t))
            .collect();
        let mut script = format!("iptables-restore < '{}' && iptables-save", file.display());
        for t in &tables {
            script.push_str(&format!(
                " && echo '{MARK}' && iptables -t {} -nvxL",
                t.as_str()
            ));
        }
        let o = Command::new("unshare")
            .args([if root { "-n" } else { "-Urn" }, "sh", "-c"])
            .arg(script)
            .output()
            .expect("unshare and iptables are needed (CI installs them)");
        assert!(
            o.status.success(),
            "{}: iptables-restore: {}",
            cols[0],
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let sep = format!("{MARK}\n");
        let mut parts = out.split(sep.as_str());
        let kernel: String = parts
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        compared += 1;
        differ(
            &mut failures,
            cols[0],
            "iptables-save",
            &kernel,
            &rs.to_save_format(false),
        );
        // The listings, for the dumps the router can run.
        let Ok(mut loaded) = Tables::load(&rs, 1) else {
            continue;
        };
        // Plain iptables-restore: counters start at zero.
        loaded.zero();
        listed += 1;
        for (t, kernel) in tables.iter().zip(parts) {
            let what = format!("iptables -t {} -nvxL", t.as_str());
            differ(&mut failures, cols[0], &what, kernel, &loaded.listing(*t));
        }
    }
    println!("{compared} dumps compared, {listed} of them listed too");
    assert!(compared >= 20, "only {compared} dumps compared");
    assert!(listed >= 10, "only {listed} dumps listed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Separates the outputs of the commands run in one namespace.
const MARK: &str = "----router-corpus-save----";

/// Records the first line where `ours` differs from the kernel's text.
fn differ(failures: &mut Vec<String>, file: &str, what: &str, kernel: &str, ours: &str) {
    if kernel == ours {
        return;
    }
    let (k, r): (Vec<&str>, Vec<&str>) = (kernel.lines().collect(), ours.lines().collect());
    let i = (0..k.len().max(r.len()))
        .find(|&i| k.get(i) != r.get(i))
        .unwrap_or(0);
    failures.push(format!(
        "{file}: {what}: line {}\n  iptables: {:?}\n  router:   {:?}",
        i + 1,
        k.get(i).copied().unwrap_or("<end>"),
        r.get(i).copied().unwrap_or("<end>")
    ));
}
