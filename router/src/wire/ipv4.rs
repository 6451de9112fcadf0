//! IPv4 header view (RFC 791 §3.1).

use super::{checksum, Layer, WireError};
use std::net::Ipv4Addr;

mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Minimum header length (IHL = 5).
pub const HEADER_LEN: usize = 20;
/// The "don't fragment" flag (RFC 791 §3.1), in the flags/offset word.
pub const FLAG_DF: u16 = 0x4000;
/// The "more fragments" flag.
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset mask (in 8-byte units).
pub const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub fn new_unchecked(buf: T) -> Self {
        Ipv4Packet { buf }
    }

    /// Wrap after checking that the fixed header and the IHL-declared header fit in `buf` and
    /// that version is 4 and IHL ≥ 5. Total length and checksum are *not* checked here (the
    /// receive path counts those failures separately, as the kernel's `ip_rcv_core` does).
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let len = buf.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::truncated(Layer::Ipv4, HEADER_LEN, len));
        }
        let p = Ipv4Packet { buf };
        if p.version() != 4 {
            return Err(WireError::bad(Layer::Ipv4, "version", p.version() as u32));
        }
        if p.ihl() < 5 {
            return Err(WireError::bad(Layer::Ipv4, "IHL", p.ihl() as u32));
        }
        if len < p.header_len() {
            return Err(WireError::truncated(Layer::Ipv4, p.header_len(), len));
        }
        Ok(p)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Version field.
    pub fn version(&self) -> u8 {
        self.b()[field::VER_IHL] >> 4
    }
    /// Internet header length, in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.b()[field::VER_IHL] & 0x0f
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        self.ihl() as usize * 4
    }
    /// Type of service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.b()[field::TOS]
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    /// Identification field.
    pub fn ident(&self) -> u16 {
        let r = field::IDENT;
        u16::from_be_bytes([self.b()[r.start], self.b()[r.start + 1]])
    }
    /// Flags and fragment offset word.
    pub fn flags_frag(&self) -> u16 {
        let r = field::FLG_OFF;
        u16::from_be_bytes([self.b()[r.start], self.b()[r.start + 1]])
    }
    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }
    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }
    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        (self.flags_frag() & OFFSET_MASK) as usize * 8
    }
    /// Is this packet a fragment (MF set or non-zero offset)?
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | OFFSET_MASK) != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    /// Protocol number of the payload.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        let r = field::CHECKSUM;
        u16::from_be_bytes([self.b()[r.start], self.b()[r.start + 1]])
    }
    /// Source address bytes.
    pub fn src(&self) -> [u8; 4] {
        self.b()[field::SRC].try_into().unwrap()
    }
    /// Destination address bytes.
    pub fn dst(&self) -> [u8; 4] {
        self.b()[field::DST].try_into().unwrap()
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src())
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst())
    }
    /// Does the header checksum verify?
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(0, &self.b()[..self.header_len()]) == 0xffff
    }
    /// The IP options bytes (empty for IHL 5).
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    /// The payload after the header, up to the end of the buffer (callers trim the buffer to
    /// the total length first).
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }
    /// Set version 4 and the IHL (in words).
    pub fn set_ver_ihl(&mut self, ihl: u8) {
        self.bm()[field::VER_IHL] = 0x40 | (ihl & 0x0f);
    }
    /// Set the TOS byte.
    pub fn set_tos(&mut self, tos: u8) {
        self.bm()[field::TOS] = tos;
    }
    /// Set the total length.
    pub fn set_total_len(&mut self, v: u16) {
        self.bm()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the identification.
    pub fn set_ident(&mut self, v: u16) {
        self.bm()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the flags/offset word.
    pub fn set_flags_frag(&mut self, v: u16) {
        self.bm()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the TTL (checksum not updated).
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[field::TTL] = v;
    }
    /// Set the protocol.
    pub fn set_protocol(&mut self, v: u8) {
        self.bm()[field::PROTOCOL] = v;
    }
    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.bm()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the source address.
    pub fn set_src(&mut self, a: [u8; 4]) {
        self.bm()[field::SRC].copy_from_slice(&a);
    }
    /// Set the destination address.
    pub fn set_dst(&mut self, a: [u8; 4]) {
        self.bm()[field::DST].copy_from_slice(&a);
    }
    /// Recompute the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.b()[..hl]);
        self.set_checksum(c);
    }
    /// Decrement the TTL by one, updating the checksum incrementally (RFC 1624), as the
    /// kernel's `ip_decrease_ttl` does.
    pub fn decrease_ttl(&mut self) {
        let old = u16::from_be_bytes([self.ttl(), self.protocol()]);
        let ttl = self.ttl().wrapping_sub(1);
        self.set_ttl(ttl);
        let new = u16::from_be_bytes([ttl, self.protocol()]);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
    }
    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.bm()[hl..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 84-byte ICMP echo 10.0.0.2 -> 192.0.2.1, TTL 64, DF, checksum precomputed below.
    fn sample() -> Vec<u8> {
        let mut v = vec![
            0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10, 0, 0, 2,
            192, 0, 2, 1, 8, 0, 0xf7, 0xff, 0, 0, 0, 0,
        ];
        let c = checksum::checksum(&v[..20]);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        v
    }

    #[test]
    fn deconstruct() {
        let v = sample();
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.ident(), 0xabcd);
        assert!(p.dont_frag());
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 1);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn decrease_ttl_keeps_checksum_valid() {
        let mut v = sample();
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.decrease_ttl();
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
    }

    #[test]
    fn rejects_bad_headers() {
        let v = sample();
        for n in 0..20 {
            assert!(matches!(
                Ipv4Packet::new_checked(&v[..n]),
                Err(WireError {
                    layer: Layer::Ipv4,
                    ..
                })
            ));
        }
        let mut bad = v.clone();
        bad[0] = 0x44;
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
        bad[0] = 0x55;
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
        bad[0] = 0x4f; // IHL 15 = 60 bytes, only 28 present
        assert!(Ipv4Packet::new_checked(&bad[..]).is_err());
    }
}
