//! The iptables parser against the shared corpus of 40 real iptables-save dumps and what a
//! real kernel (iptables-restore 1.8.9, nf_tables, into a fresh network namespace) said about
//! each (`CHECK.tsv`): every dump the kernel accepts must parse, and every dump it rejects for
//! a syntax or validation reason must fail at the same line. Dumps the kernel rejects only
//! because external objects do not exist (ipsets, nfacct objects) must parse, with those
//! rules reported as unsupported — unless they are broken beyond that too (CHECK.tsv's
//! `accepts_without_-m_set_rules` column then names the line).
//!
//! The corpus lives outside the project (`../shared/iptables-corpus` from the workspace
//! root; licences vary, so it is not copied in). Without it the test says so and passes
//! without claiming anything.

use router::netfilter::tables::ast::{Match, Ruleset, Target};
use router::netfilter::tables::parse::{parse_file, parse_str};
use std::collections::BTreeSet;
use std::path::Path;

/// What CHECK.tsv leads us to expect for one file.
#[derive(Debug)]
enum Expect {
    /// Parses (unsupported items allowed); `needs` names a module that must be among them.
    Parses { needs: Option<&'static str> },
    /// Fails at this line.
    FailsAt(usize),
    /// Fails at this line of the file with its `-m set` rules removed (how CHECK.tsv's
    /// `accepts_without_-m_set_rules` column counts).
    FailsWithoutSetAt(usize),
}

/// The line of `text` that is line `n` once the `-m set` rule lines are removed.
fn line_before_set_removal(text: &str, n: usize) -> usize {
    let mut kept = 0;
    for (i, l) in text.lines().enumerate() {
        if l.starts_with("-A") && l.contains(" -m set ") {
            continue;
        }
        kept += 1;
        if kept == n {
            return i + 1;
        }
    }
    0
}

/// The first `Error occurred at line: N` / `line N` in a kernel message.
fn error_line(msg: &str) -> Option<usize> {
    let digits = |s: &str| -> Option<usize> {
        let d: String = s
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        d.parse().ok()
    };
    if let Some(i) = msg.find("Error occurred at line:") {
        return digits(&msg[i + "Error occurred at line:".len()..]);
    }
    let mut rest = msg;
    while let Some(i) = rest.find("line ") {
        if let Some(n) = digits(&rest[i + 5..]) {
            return Some(n);
        }
        rest = &rest[i + 5..];
    }
    None
}

fn expectation(cols: &[&str], header: &[&str]) -> Result<Expect, String> {
    let get = |name: &str| -> &str {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| cols.get(i))
            .copied()
            .unwrap_or("")
    };
    if get("kernel_accepts") == "yes" {
        return Ok(Expect::Parses { needs: None });
    }
    let err = get("kernel_first_error");
    let notes = get("notes");
    // Missing external objects are unsupported items for the router, not syntax errors.
    if err.contains("Set ") && err.contains("doesn't exist") {
        let without = get("accepts_without_-m_set_rules");
        if without == "yes" {
            return Ok(Expect::Parses { needs: Some("set") });
        }
        return error_line(without)
            .map(Expect::FailsWithoutSetAt)
            .ok_or_else(|| format!("no line in accepts_without_-m_set_rules `{without}`"));
    }
    if notes.contains("nfacct") && err.contains("No such file or directory") {
        return Ok(Expect::Parses {
            needs: Some("nfacct"),
        });
    }
    error_line(err)
        .map(Expect::FailsAt)
        .ok_or_else(|| format!("no line in kernel_first_error `{err}`"))
}

fn summary(rs: &Ruleset) -> (usize, usize, BTreeSet<String>) {
    let mut rules = 0;
    let mut lines = BTreeSet::new();
    let mut unsupported = BTreeSet::new();
    for t in &rs.tables {
        for c in &t.chains {
            for r in &c.rules {
                rules += 1;
                lines.insert((t.name, r.loc.line));
                for m in &r.matches {
                    if let Match::Unsupported { module, .. } = m {
                        unsupported.insert(format!("-m {module}"));
                    }
                }
                if let Some(Target::Unsupported { target, .. }) = &r.target {
                    unsupported.insert(format!("-j {target}"));
                }
            }
        }
    }
    (rules, lines.len(), unsupported)
}

#[test]
fn corpus_matches_the_kernel() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/iptables-corpus");
    let check = dir.join("CHECK.tsv");
    let Ok(tsv) = std::fs::read_to_string(&check) else {
        eprintln!(
            "SKIPPED: ../shared/iptables-corpus not present ({} not readable); nothing checked",
            check.display()
        );
        return;
    };
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let rules_col = header.iter().position(|h| *h == "rules");
    let mut failures = Vec::new();
    let mut n = 0;
    for row in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        let file = cols[0];
        n += 1;
        let expect = match expectation(&cols, &header) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{file}: cannot read CHECK.tsv row: {e}"));
                continue;
            }
        };
        let expect = match expect {
            Expect::FailsWithoutSetAt(n) => {
                let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                Expect::FailsAt(line_before_set_removal(&text, n))
            }
            e => e,
        };
        let result = parse_file(&dir.join(file));
        match (&expect, result) {
            (Expect::Parses { needs }, Ok(rs)) => {
                let (rules, rule_lines, unsupported) = summary(&rs);
                let items = rs.unsupported();
                println!(
                    "{file}: ok, {rules} rules from {rule_lines} rule lines, {} unsupported uses{}",
                    items.len(),
                    if unsupported.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            unsupported.iter().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                );
                // What the parser accepts prints back in iptables-save form and parses to
                // the same ruleset.
                let printed = rs.to_save_format(true);
                match parse_str(&printed, "printed") {
                    Ok(again) if again.without_positions() == rs.without_positions() => {}
                    Ok(_) => failures.push(format!("{file}: printing and re-parsing changes it")),
                    Err(e) => {
                        failures.push(format!("{file}: its printed form does not parse: {e}"))
                    }
                }
                if let Some(m) = needs {
                    if !unsupported.contains(&format!("-m {m}")) {
                        failures.push(format!("{file}: expected `-m {m}` among unsupported"));
                    }
                }
                if let Some(expected) = rules_col.and_then(|i| cols.get(i)) {
                    if needs.is_none() && expected.parse::<usize>().ok() != Some(rule_lines) {
                        failures.push(format!(
                            "{file}: {rule_lines} rule lines parsed, CHECK.tsv counts {expected}"
                        ));
                    }
                }
            }
            (Expect::Parses { .. }, Err(e)) => {
                println!("{file}: ERROR {e}");
                failures.push(format!(
                    "{file}: the kernel accepts it, the parser says: {e}"
                ));
            }
            (Expect::FailsAt(line) | Expect::FailsWithoutSetAt(line), Ok(rs)) => {
                let (rules, _, _) = summary(&rs);
                println!("{file}: parsed ({rules} rules) but the kernel fails at line {line}");
                failures.push(format!(
                    "{file}: the kernel fails at line {line}, the parser accepted it"
                ));
            }
            (Expect::FailsAt(line) | Expect::FailsWithoutSetAt(line), Err(e)) => {
                println!("{file}: rejected as the kernel does: {e}");
                if e.line != *line {
                    failures.push(format!(
                        "{file}: the kernel fails at line {line}, the parser at {}: {e}",
                        e.line
                    ));
                }
            }
        }
    }
    assert!(n >= 40, "CHECK.tsv lists only {n} files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
