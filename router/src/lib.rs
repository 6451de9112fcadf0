//! A userspace IPv4 router with the Linux kernel's semantics: routing by longest prefix then
//! metric, netfilter's five hooks with priorities and verdicts, and the kernel's behaviour as
//! a host (ICMP errors, echo replies, resets), driven offline from pcap files or live on TUN
//! devices.
//!
//! The core (`wire`, `packet`, `route`, `netfilter`, `host`, `pipeline`) is synchronous, does
//! no I/O and takes `now` as an argument, so a replay is deterministic. `replay` and `kernel`
//! drive it from files and compare it with a real kernel; `runtime` is the only async code.
#![deny(unsafe_code)]

pub mod config;
pub mod ctl;
pub mod defrag;
pub mod fuzzing;
pub mod host;
pub mod kernel;
pub mod netfilter;
pub mod packet;
pub mod pipeline;
pub mod replay;
pub mod route;
pub mod runtime;
pub mod wire;
