//! The netfilter model: hooks with priorities and verdicts, and (in later modules) the tables,
//! connection tracking and NAT that register at them.

pub mod hooks;
