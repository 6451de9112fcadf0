//! The iptables tables: the typed form of an iptables-save / iptables-restore ruleset
//! ([`ast`]) and the parser that reads it exactly as `iptables-restore` does, with the
//! kernel's load-time checks ([`parse`]).

pub mod ast;
pub mod eval;
pub mod list;
pub mod parse;
