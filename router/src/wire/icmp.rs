//! ICMPv4 header view (RFC 792) and the kernel's classification of types.

use super::{checksum, Layer, WireError};

/// ICMP header length (type, code, checksum, 4 bytes of "rest of header").
pub const HEADER_LEN: usize = 8;

/// Message types (RFC 792, RFC 1191).
pub mod types {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACH: u8 = 3;
    /// Source quench.
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAMETER_PROB: u8 = 12;
    /// Timestamp request.
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: u8 = 14;
    /// Highest type the kernel knows (`NR_ICMP_TYPES`).
    pub const NR_ICMP_TYPES: u8 = 18;
}

/// Destination-unreachable codes.
pub mod unreach {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set.
    pub const FRAG_NEEDED: u8 = 4;
    /// Source route failed.
    pub const SR_FAILED: u8 = 5;
}

/// Is `t` an ICMP *error* type, in the kernel's table (`icmp_pointers[].error`)? Errors are
/// never sent in reply to errors (RFC 1122 §3.2.2).
pub fn is_error(t: u8) -> bool {
    matches!(
        t,
        types::DEST_UNREACH
            | types::SOURCE_QUENCH
            | types::REDIRECT
            | types::TIME_EXCEEDED
            | types::PARAMETER_PROB
    )
}

/// A view of an ICMP message.
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wrap after checking the 8-byte header fits.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let len = buf.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::truncated(Layer::Icmp, HEADER_LEN, len));
        }
        Ok(IcmpPacket { buf })
    }
    /// Wrap without checks.
    pub fn new_unchecked(buf: T) -> Self {
        IcmpPacket { buf }
    }
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.b()[0]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.b()[1]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    /// Echo/timestamp identifier.
    pub fn echo_ident(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }
    /// Echo/timestamp sequence number.
    pub fn echo_seq(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// Does the checksum over the whole message verify?
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(0, self.b()) == 0xffff
    }
    /// Bytes after the 8-byte header (echo data, or the quoted packet of an error).
    pub fn data(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }
    /// Set the type.
    pub fn set_msg_type(&mut self, v: u8) {
        self.bm()[0] = v;
    }
    /// Set the code.
    pub fn set_code(&mut self, v: u8) {
        self.bm()[1] = v;
    }
    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.bm()[2..4].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the 4-byte "rest of header" (identifier/sequence, MTU, pointer, gateway).
    pub fn set_rest(&mut self, v: [u8; 4]) {
        self.bm()[4..8].copy_from_slice(&v);
    }
    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.b());
        self.set_checksum(c);
    }
    /// Mutable bytes after the header.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bm()[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_roundtrip() {
        let mut m = [0u8; 12];
        let mut p = IcmpPacket::new_unchecked(&mut m[..]);
        p.set_msg_type(types::ECHO_REQUEST);
        p.set_rest([0x12, 0x34, 0, 1]);
        p.data_mut().copy_from_slice(b"ping");
        p.fill_checksum();
        let p = IcmpPacket::new_checked(&m[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq(), 1);
        assert_eq!(p.data(), b"ping");
        assert!(IcmpPacket::new_checked(&m[..7]).is_err());
    }

    #[test]
    fn error_classification() {
        assert!(is_error(types::DEST_UNREACH));
        assert!(is_error(types::TIME_EXCEEDED));
        assert!(!is_error(types::ECHO_REQUEST));
        assert!(!is_error(types::ECHO_REPLY));
    }
}
