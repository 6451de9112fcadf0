//! The router as a host: the packets it originates (ICMP errors, echo replies, TCP resets)
//! built byte for byte as the kernel builds them, and the kernel's rate limiters for them.

pub mod build;
pub mod ratelimit;
