//! The lines `-j LOG` writes (tracing target `router::log`), collected while a closure runs,
//! so that `diff-kernel` and the fixture tests can set them beside the kernel's.

use std::fmt;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Run `f` with a subscriber that keeps every LOG line (on this thread); returns `f`'s
/// result and the lines in the order they were written.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sub = tracing_subscriber::registry().with(Collect(Arc::clone(&lines)));
    let r = tracing::subscriber::with_default(sub, f);
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    (r, lines)
}

struct Collect(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Collect {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "router::log" {
            return;
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(m.0);
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

/// A line as compared: trailing spaces aside, and for a packet with no input device (one the
/// router or the kernel made itself) without its IP ID, which the kernel picks at random.
fn normal(line: &str) -> String {
    let line = line.trim_end();
    if !line.contains("IN= OUT=") {
        return line.to_string();
    }
    match line.find(" ID=") {
        Some(i) => {
            let rest = &line[i + 4..];
            let end = rest.find(' ').unwrap_or(rest.len());
            format!("{} ID=*{}", &line[..i], &rest[end..])
        }
        None => line.to_string(),
    }
}

/// Compare LOG lines in order (trailing spaces, and the IP ID of packets made locally,
/// aside): each position where the kernel's and the router's differ.
pub fn compare(kernel: &[String], router: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..kernel.len().max(router.len()) {
        let (k, r) = (
            kernel.get(i).map(|s| s.trim_end()),
            router.get(i).map(|s| s.trim_end()),
        );
        if k.map(normal) != r.map(normal) {
            out.push(format!(
                "LOG line {}:\n    kernel: {}\n    router: {}",
                i + 1,
                k.unwrap_or("(none)"),
                r.unwrap_or("(none)")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_log_lines_only() {
        let ((), lines) = capture(|| {
            tracing::info!(target: "router::log", "{}", "p: IN=lan0");
            tracing::info!("something else");
            tracing::warn!(target: "router::log", "second");
        });
        assert_eq!(lines, ["p: IN=lan0", "second"]);
        assert!(compare(&lines, &["p: IN=lan0 ".into(), "second".into()]).is_empty());
        assert_eq!(compare(&lines, &["p: IN=lan0".into()]).len(), 1);
        // A locally made packet's IP ID is excused; a forwarded one's is not.
        let mine = |id: u16| {
            format!("e: IN= OUT=lan0 SRC=10.0.0.1 DST=10.0.0.2 LEN=72 ID={id} PROTO=ICMP [ID=7 ]")
        };
        assert!(compare(&[mine(3)], &[mine(4)]).is_empty());
        let fwd = |id: u16| format!("f: IN=lan0 OUT=wan0 MAC= SRC=10.0.0.1 DST=10.0.0.2 ID={id} ");
        assert_eq!(compare(&[fwd(3)], &[fwd(4)]).len(), 1);
    }
}
