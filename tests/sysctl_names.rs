//! Every `net.ipv4.*` and `net.netfilter.*` sysctl of the running kernel, read with `sysctl -a`
//! in a fresh network namespace (conntrack loaded so that net.netfilter exists), loads in
//! `[sysctl]` at the value it has there. Needs `unshare -Urn` and procps' `sysctl`.

use router::config::Config;
use std::path::Path;
use std::process::Command;

#[test]
fn every_name_of_the_running_kernel_loads() {
    let out = Command::new("unshare")
        .args([
            "-Urn",
            "sh",
            "-c",
            "iptables -t raw -A PREROUTING -j CT >/dev/null 2>&1; sysctl -a 2>/dev/null",
        ])
        .output()
        .expect("unshare -Urn sh -c 'sysctl -a' (util-linux and procps are required)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut toml = String::from("[sysctl]\n");
    let mut n = 0;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(" = ") else {
            continue;
        };
        if !(name.starts_with("net.ipv4.") || name.starts_with("net.netfilter.")) {
            continue;
        }
        let v = value.trim();
        let value = if v.parse::<i64>().is_ok() {
            v.to_string()
        } else {
            format!("{v:?}")
        };
        toml.push_str(&format!("\"{name}\" = {value}\n"));
        n += 1;
    }
    assert!(
        n > 100,
        "sysctl -a in a namespace showed only {n} net.ipv4/net.netfilter names:\n{text}"
    );
    let cfg = Config::parse(&toml, Path::new("all-sysctls.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.sysctl.writes.len(), n);
}
