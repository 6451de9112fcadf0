//! Reading and writing packet captures: pcapng with one interface per router interface
//! (named by `if_name`), and classic pcap for a single interface.
//!
//! pcap-file 2.0 hands Enhanced Packet Block timestamps back as raw 64-bit counts; this module
//! applies each interface's `if_tsresol` (default microseconds, per the pcapng spec) itself,
//! and writes nanosecond resolution explicitly.

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::DataLink;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;
use std::time::Duration;

/// One captured packet: the interface it was seen on, when, and its IP bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Interface name.
    pub iface: String,
    /// Timestamp in nanoseconds since the epoch.
    pub ts_ns: u64,
    /// The IP packet (link-layer header removed).
    pub data: Vec<u8>,
    /// Block comment, if any (the router marks the packets it originated).
    pub comment: Option<String>,
}

/// A capture file problem.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Could not open or read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a capture this tool reads.
    #[error("{path}: {message}")]
    Format {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The comment the router puts on packets it originated.
pub const ORIGINATED: &str = "originated by the router";

/// Read a pcapng (interfaces named by `if_name`) or a classic pcap (all packets on
/// `default_iface`, which is then required). Link types: raw IP, IPv4, IPv6, Ethernet,
/// Linux cooked (SLL), BSD loopback. Packets of other link-layer protocols are skipped and
/// counted in the second return value.
pub fn read_capture(
    path: &Path,
    default_iface: Option<&str>,
) -> Result<(Vec<Captured>, usize), PcapError> {
    let p = path.display().to_string();
    let io = |source| PcapError::Io {
        path: p.clone(),
        source,
    };
    let fmt = |message: String| PcapError::Format {
        path: p.clone(),
        message,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic)
        .map_err(|_| fmt("too short to be a capture file".into()))?;
    drop(f);
    let f = BufReader::new(File::open(path).map_err(io)?);
    let mut out = Vec::new();
    let mut skipped = 0;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r =
            PcapNgReader::new(f).map_err(|e| fmt(format!("not a readable pcapng file: {e}")))?;
        // (name, linktype, ns per tick numerator/denominator)
        let mut ifaces: Vec<(String, DataLink, u64, u64)> = Vec::new();
        while let Some(block) = r.next_block() {
            let block = block.map_err(|e| fmt(format!("bad block: {e}")))?;
            let (iface_id, ticks, data, comment) = match block {
                Block::InterfaceDescription(idb) => {
                    let mut name = None;
                    let mut res = 6u8;
                    for o in &idb.options {
                        match o {
                            InterfaceDescriptionOption::IfName(n) => name = Some(n.to_string()),
                            InterfaceDescriptionOption::IfTsResol(v) => res = *v,
                            _ => {}
                        }
                    }
                    let name = name
                        .or_else(|| default_iface.map(str::to_string))
                        .unwrap_or_else(|| format!("if{}", ifaces.len()));
                    let (num, den) = if res & 0x80 == 0 {
                        let e = (res as u32).min(18);
                        if e <= 9 {
                            (10u64.pow(9 - e), 1)
                        } else {
                            (1, 10u64.pow(e - 9))
                        }
                    } else {
                        (1_000_000_000, 1u64 << (res & 0x7f).min(63))
                    };
                    ifaces.push((name, idb.linktype, num, den));
                    continue;
                }
                Block::EnhancedPacket(epb) => {
                    let comment = epb.options.iter().find_map(|o| match o {
                        EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                        _ => None,
                    });
                    (
                        epb.interface_id as usize,
                        epb.timestamp.as_nanos() as u64,
                        epb.data.into_owned(),
                        comment,
                    )
                }
                Block::SimplePacket(spb) => (0, 0, spb.data.into_owned(), None),
                _ => continue,
            };
            let Some((name, lt, num, den)) = ifaces.get(iface_id) else {
                return Err(fmt(format!(
                    "packet on interface id {iface_id}, which has no Interface Description Block"
                )));
            };
            let ts_ns = ((ticks as u128 * *num as u128) / *den as u128) as u64;
            match strip_link(*lt, &data) {
                Some(ip) => out.push(Captured {
                    iface: name.clone(),
                    ts_ns,
                    data: ip.to_vec(),
                    comment,
                }),
                None => skipped += 1,
            }
        }
    } else {
        let Some(iface) = default_iface else {
            return Err(fmt("a classic pcap file has no interface names: say which interface its packets arrive on (--iface NAME), or use pcapng".into()));
        };
        let mut r = pcap_file::pcap::PcapReader::new(f)
            .map_err(|e| fmt(format!("neither pcapng nor pcap: {e}")))?;
        let lt = r.header().datalink;
        while let Some(pkt) = r.next_packet() {
            let pkt = pkt.map_err(|e| fmt(format!("bad packet record: {e}")))?;
            match strip_link(lt, &pkt.data) {
                Some(ip) => out.push(Captured {
                    iface: iface.to_string(),
                    ts_ns: pkt.timestamp.as_nanos() as u64,
                    data: ip.to_vec(),
                    comment: None,
                }),
                None => skipped += 1,
            }
        }
    }
    Ok((out, skipped))
}

fn strip_link(lt: DataLink, d: &[u8]) -> Option<&[u8]> {
    let ether = |d: &[u8], off: usize| -> Option<usize> {
        let t = u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]);
        matches!(t, 0x0800 | 0x86dd).then_some(off + 2)
    };
    match lt {
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(d),
        DataLink::ETHERNET => ether(d, 12).map(|o| &d[o..]),
        DataLink::LINUX_SLL => ether(d, 14).map(|o| &d[o..]),
        DataLink::NULL | DataLink::LOOP => d.get(4..),
        _ => None,
    }
}

/// Write packets as pcapng: one raw-IP interface per name in `ifaces` (in that order), the
/// packets in the order given, nanosecond timestamps.
pub fn write_pcapng(path: &Path, ifaces: &[&str], packets: &[Captured]) -> Result<(), PcapError> {
    let p = path.display().to_string();
    let err = |m: String| PcapError::Format {
        path: p.clone(),
        message: m,
    };
    let f = BufWriter::new(File::create(path).map_err(|source| PcapError::Io {
        path: p.clone(),
        source,
    })?);
    let mut w = PcapNgWriter::new(f).map_err(|e| err(format!("cannot write: {e}")))?;
    for name in ifaces {
        let mut idb = InterfaceDescriptionBlock::new(DataLink::RAW, 0);
        idb.options
            .push(InterfaceDescriptionOption::IfName(Cow::Owned(
                name.to_string(),
            )));
        idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
        w.write_pcapng_block(idb)
            .map_err(|e| err(format!("cannot write: {e}")))?;
    }
    for pkt in packets {
        let id = ifaces
            .iter()
            .position(|n| *n == pkt.iface)
            .ok_or_else(|| err(format!("packet on unknown interface {}", pkt.iface)))?;
        let mut options = Vec::new();
        if let Some(c) = &pkt.comment {
            options.push(EnhancedPacketOption::Comment(Cow::Borrowed(c.as_str())));
        }
        let epb = EnhancedPacketBlock {
            interface_id: id as u32,
            timestamp: Duration::from_nanos(pkt.ts_ns),
            original_len: pkt.data.len() as u32,
            data: Cow::Borrowed(&pkt.data),
            options,
        };
        w.write_pcapng_block(epb)
            .map_err(|e| err(format!("cannot write: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let dir = std::env::temp_dir().join(format!("router-pcap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pcapng");
        let pkts = vec![
            Captured {
                iface: "wan0".into(),
                ts_ns: 1_700_000_000_123_456_789,
                data: vec![0x45, 1, 2],
                comment: None,
            },
            Captured {
                iface: "lan0".into(),
                ts_ns: 1_700_000_001_000_000_000,
                data: vec![0x45],
                comment: Some(ORIGINATED.into()),
            },
        ];
        write_pcapng(&path, &["lan0", "wan0"], &pkts).unwrap();
        let (back, skipped) = read_capture(&path, None).unwrap();
        assert_eq!((back, skipped), (pkts, 0));
        std::fs::write(&path, b"nope").unwrap();
        assert!(read_capture(&path, None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
