//! The iptables tables: the typed form of an iptables-save / iptables-restore ruleset
//! ([`ast`]) and the parser that reads it exactly as `iptables-restore` does, with the
//! kernel's load-time checks ([`parse`]), their evaluation ([`eval`], with `-m recent`'s
//! lists in [`recent`]) and listings ([`list`]).

pub mod ast;
pub mod eval;
pub mod list;
pub mod log;
pub mod parse;
pub mod recent;
