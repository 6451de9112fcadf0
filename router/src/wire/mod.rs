//! Zero-copy views of the wire formats the router touches.
//!
//! Written by hand, in the manner of smoltcp's `wire` module, because the datapath needs
//! *mutable* views with in-place setters and incremental checksum updates; etherparse (used by
//! the tests as an independent second implementation) only offers read-only slices and owned
//! headers. Each view is generic over its buffer: read-only for `AsRef<[u8]>`, setters for
//! `AsMut<[u8]>`. A successful `new_checked` guarantees that no accessor panics.

pub mod checksum;
pub mod describe;
pub mod icmp;
pub mod ipv4;
pub mod ipv4_options;
pub mod tcp;
pub mod udp;

use std::fmt;

/// Which header a wire error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The IPv4 header.
    Ipv4,
    /// The TCP header.
    Tcp,
    /// The UDP header.
    Udp,
    /// The ICMP header.
    Icmp,
}

/// Malformed wire data: which layer, what is wrong, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    /// The header being parsed.
    pub layer: Layer,
    /// What is wrong.
    pub kind: WireErrorKind,
}

/// The ways wire data can be malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireErrorKind {
    /// Fewer bytes than the header needs: `needed` bytes required, `got` present.
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A field holds a value the format does not allow.
    BadField {
        /// Field name, as in the RFC.
        field: &'static str,
        /// The value found.
        value: u32,
    },
}

impl WireError {
    pub(crate) fn truncated(layer: Layer, needed: usize, got: usize) -> Self {
        WireError {
            layer,
            kind: WireErrorKind::Truncated { needed, got },
        }
    }
    pub(crate) fn bad(layer: Layer, field: &'static str, value: u32) -> Self {
        WireError {
            layer,
            kind: WireErrorKind::BadField { field, value },
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            WireErrorKind::Truncated { needed, got } => {
                write!(
                    f,
                    "{:?}: truncated ({needed} bytes needed, {got} present)",
                    self.layer
                )
            }
            WireErrorKind::BadField { field, value } => {
                write!(f, "{:?}: bad {field} ({value})", self.layer)
            }
        }
    }
}

impl std::error::Error for WireError {}

/// IP protocol numbers (IANA) the router handles specially.
pub mod proto {
    /// ICMP (RFC 792).
    pub const ICMP: u8 = 1;
    /// TCP (RFC 793).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
}
