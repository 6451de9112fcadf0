//! UDP header view (RFC 768).

use super::{checksum, proto, Layer, WireError};

/// UDP header length.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap after checking the header fits and that the length field is within
    /// `8..=buffer length` (the kernel's `udp_rcv` rejects other lengths).
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let len = buf.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::truncated(Layer::Udp, HEADER_LEN, len));
        }
        let p = UdpPacket { buf };
        let ul = p.len() as usize;
        if ul < HEADER_LEN {
            return Err(WireError::bad(Layer::Udp, "length", ul as u32));
        }
        if ul > len {
            return Err(WireError::truncated(Layer::Udp, ul, len));
        }
        Ok(p)
    }
    /// Wrap without checks.
    pub fn new_unchecked(buf: T) -> Self {
        UdpPacket { buf }
    }
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }
    /// Length field (header + data).
    pub fn len(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]])
    }
    /// Is the length field zero?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Checksum field (0 = none, allowed on IPv4).
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// Verify the checksum over the first `len()` bytes; a zero checksum always verifies.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let l = self.len();
        let ph = checksum::pseudo_header_v4(src, dst, proto::UDP, l);
        checksum::sum(ph, &self.b()[..l as usize]) == 0xffff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        let mut d = [0u8; 12];
        d[5] = 12;
        assert!(UdpPacket::new_checked(&d[..]).is_ok());
        d[5] = 13;
        assert!(UdpPacket::new_checked(&d[..]).is_err());
        d[5] = 7;
        assert!(UdpPacket::new_checked(&d[..]).is_err());
        assert!(UdpPacket::new_checked(&d[..7]).is_err());
        d[5] = 12;
        assert!(UdpPacket::new_checked(&d[..])
            .unwrap()
            .verify_checksum_v4([1, 2, 3, 4], [5, 6, 7, 8]));
    }
}
