//! Differential fuzzing in CI: random scenarios through the kernel and the router for a
//! bounded time (`ROUTER_FUZZ_SECONDS`, default 45) from a fixed seed (`ROUTER_FUZZ_SEED`,
//! default below), so a red run is reproducible with `router fuzz-kernel --seed N`.
//! Needs `unshare -Urn` and /dev/net/tun, like the kernel gate; fails without them.

use std::process::Command;

#[test]
fn router_agrees_with_the_kernel_on_random_scenarios() {
    let seconds = std::env::var("ROUTER_FUZZ_SECONDS").unwrap_or_else(|_| "45".into());
    let seed = std::env::var("ROUTER_FUZZ_SEED").unwrap_or_else(|_| "20261124".into());
    let save = std::env::temp_dir().join(format!("router-fuzz-found-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_router"))
        .args([
            "fuzz-kernel",
            "--seconds",
            &seconds,
            "--seed",
            &seed,
            "--save",
        ])
        .arg(&save)
        .output()
        .expect("run router fuzz-kernel");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("fuzz-kernel:"))
        .unwrap_or("");
    assert!(
        out.status.success(),
        "the router disagreed with the kernel (minimal scenarios saved under {}; copy them into fixtures/ once fixed):\n{stdout}\n{stderr}",
        save.display()
    );
    // It must actually have run scenarios through the kernel.
    let runs: u64 = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        runs >= 5,
        "fuzzing ran too few scenarios: {summary}\n{stderr}"
    );
}
