//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Written by hand because it is a dozen lines and the datapath needs the incremental form
//! (`HC' = ~(~HC + ~m + m')`, RFC 1624 eqn. 3) that general packet crates do not expose.

/// One's-complement sum of `data` (big-endian 16-bit words, odd byte padded with zero), folded
/// to 16 bits but not complemented. Start from `initial` to chain sums.
pub fn sum(initial: u32, data: &[u8]) -> u32 {
    let mut acc = initial as u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u64) << 8;
    }
    fold(acc)
}

fn fold(mut acc: u64) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// How netfilter verifies a payload with no pseudo-header (`nf_ip_checksum` for ICMP and
/// protocols other than TCP and UDP): it sums from the IP header on, whose own sum is
/// 0xffff when valid, so besides a payload summing to 0xffff, an empty or all-zero payload
/// passes too.
pub fn nf_payload_ok(l4: &[u8]) -> bool {
    let s = sum(0, l4);
    s == 0xffff || s == 0
}

/// The checksum field value for `data`: the complement of its sum.
pub fn checksum(data: &[u8]) -> u16 {
    !(sum(0, data) as u16)
}

/// Complement of a folded sum: the value to write into a checksum field.
pub fn finish(sum: u32) -> u16 {
    !(fold(sum as u64) as u16)
}

/// The IPv4 pseudo-header sum (RFC 793 §3.1, RFC 768) for a transport segment.
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, length: u16) -> u32 {
    let mut acc = sum(0, &src);
    acc = sum(acc, &dst);
    fold(acc as u64 + protocol as u64 + length as u64)
}

/// RFC 1624 incremental update of checksum `check` when a 16-bit word changes from `old` to
/// `new`.
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = (!check) as u64 + (!old) as u64 + new as u64;
    !(fold(acc) as u16)
}

/// RFC 1624 update for a 32-bit field (an address) changing from `old` to `new`.
pub fn update32(check: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let c = update16(
        check,
        u16::from_be_bytes([old[0], old[1]]),
        u16::from_be_bytes([new[0], new[1]]),
    );
    update16(
        c,
        u16::from_be_bytes([old[2], old[3]]),
        u16::from_be_bytes([new[2], new[3]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 1071 §3 example bytes.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(0, &data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(0, &[0xab]), 0xab00);
    }

    #[test]
    fn incremental_matches_full_recompute() {
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10, 0, 0, 2,
            192, 0, 2, 1,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        // decrement TTL
        let old = u16::from_be_bytes([hdr[8], hdr[9]]);
        hdr[8] -= 1;
        let new = u16::from_be_bytes([hdr[8], hdr[9]]);
        let inc = update16(c, old, new);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc, checksum(&hdr));
        // rewrite an address
        hdr[10..12].copy_from_slice(&inc.to_be_bytes());
        let inc2 = update32(inc, [10, 0, 0, 2], [203, 0, 113, 1]);
        hdr[12..16].copy_from_slice(&[203, 0, 113, 1]);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(inc2, checksum(&hdr));
    }
}
