//! TCP header view (RFC 793 §3.1).

use super::{checksum, proto, Layer, WireError};

/// Minimum TCP header length.
pub const HEADER_LEN: usize = 20;

/// TCP flag bits, as in the 13th byte of the header.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// A view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap after checking the fixed header and the data-offset-declared header fit.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let len = buf.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::truncated(Layer::Tcp, HEADER_LEN, len));
        }
        let p = TcpPacket { buf };
        if p.header_len() < HEADER_LEN {
            return Err(WireError::bad(
                Layer::Tcp,
                "data offset",
                p.header_len() as u32 / 4,
            ));
        }
        if len < p.header_len() {
            return Err(WireError::truncated(Layer::Tcp, p.header_len(), len));
        }
        Ok(p)
    }
    /// Wrap without checks.
    pub fn new_unchecked(buf: T) -> Self {
        TcpPacket { buf }
    }
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    fn u16_at(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.b()[i], self.b()[i + 1]])
    }
    fn u32_at(&self, i: usize) -> u32 {
        u32::from_be_bytes(self.b()[i..i + 4].try_into().unwrap())
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        self.u32_at(4)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        self.u32_at(8)
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        (self.b()[12] >> 4) as usize * 4
    }
    /// Flag byte (CWR ECE URG ACK PSH RST SYN FIN).
    pub fn flags(&self) -> u8 {
        self.b()[13]
    }
    /// Window.
    pub fn window(&self) -> u16 {
        self.u16_at(14)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }
    /// Payload length (segment length minus header).
    pub fn payload_len(&self) -> usize {
        self.b().len() - self.header_len()
    }
    /// Verify the checksum of the whole segment (the buffer) with the IPv4 pseudo-header.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        let ph = checksum::pseudo_header_v4(src, dst, proto::TCP, self.b().len() as u16);
        checksum::sum(ph, self.b()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }
    /// Set source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.bm()[0..2].copy_from_slice(&v.to_be_bytes());
    }
    /// Set destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.bm()[2..4].copy_from_slice(&v.to_be_bytes());
    }
    /// Set sequence number.
    pub fn set_seq(&mut self, v: u32) {
        self.bm()[4..8].copy_from_slice(&v.to_be_bytes());
    }
    /// Set acknowledgement number.
    pub fn set_ack(&mut self, v: u32) {
        self.bm()[8..12].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the header length in bytes (multiple of 4); reserved bits cleared.
    pub fn set_header_len(&mut self, len: usize) {
        self.bm()[12] = ((len / 4) as u8) << 4;
    }
    /// Set the flag byte.
    pub fn set_flags(&mut self, v: u8) {
        self.bm()[13] = v;
    }
    /// Set the window.
    pub fn set_window(&mut self, v: u16) {
        self.bm()[14..16].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.bm()[16..18].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the urgent pointer.
    pub fn set_urgent(&mut self, v: u16) {
        self.bm()[18..20].copy_from_slice(&v.to_be_bytes());
    }
    /// Compute and store the checksum over the whole buffer with the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: [u8; 4], dst: [u8; 4]) {
        self.set_checksum(0);
        let ph = checksum::pseudo_header_v4(src, dst, proto::TCP, self.b().len() as u16);
        let c = checksum::finish(checksum::sum(ph, self.b()));
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_checksum() {
        let mut seg = [0u8; 24];
        let mut t = TcpPacket::new_unchecked(&mut seg[..]);
        t.set_src_port(40000);
        t.set_dst_port(22);
        t.set_seq(0x01020304);
        t.set_header_len(24);
        t.set_flags(flags::SYN);
        t.set_window(64240);
        t.fill_checksum_v4([10, 0, 0, 2], [10, 0, 0, 1]);
        let t = TcpPacket::new_checked(&seg[..]).unwrap();
        assert_eq!(t.src_port(), 40000);
        assert_eq!(t.header_len(), 24);
        assert_eq!(t.payload_len(), 0);
        assert!(t.verify_checksum_v4([10, 0, 0, 2], [10, 0, 0, 1]));
        assert!(!t.verify_checksum_v4([10, 0, 0, 3], [10, 0, 0, 1]));
    }

    #[test]
    fn rejects_bad_offset_and_truncation() {
        let mut seg = [0u8; 20];
        seg[12] = 3 << 4;
        assert!(TcpPacket::new_checked(&seg[..]).is_err());
        seg[12] = 6 << 4;
        assert!(TcpPacket::new_checked(&seg[..]).is_err());
        assert!(TcpPacket::new_checked(&seg[..19]).is_err());
    }
}
