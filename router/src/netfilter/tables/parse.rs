//! The iptables-save / iptables-restore parser.
//!
//! It reads what `iptables-restore` (iptables 1.8, nf_tables and legacy) reads and accepts
//! and rejects what it does, at the same line: the line splitting (`fgets` into a
//! 10240-byte buffer, so a CRLF line keeps its `\r`), the tokenizer (double quotes group,
//! backslash escapes inside quotes, `#` only starts a comment at the beginning of a line),
//! `getopt_long` with the options of every loaded extension (newest first, unambiguous
//! abbreviations, `--opt=value`), the implicit protocol match (`-p tcp --dport 22`), the
//! extensions' own option parsers and final checks, `-s`/`-d` lists expanded into one rule
//! per address pair, and the checks the kernel makes when the table is committed (targets
//! restricted to a table or to hooks, protocol requirements, jumps to missing chains,
//! loops and the nf_tables jump depth).
//!
//! Where iptables-nft and iptables-legacy disagree, iptables-nft 1.8.9 (the default
//! `iptables-restore`, whose verdicts `CHECK.tsv` of the shared corpus records) decides,
//! except that a user chain declared twice and a user chain given a policy are errors, as
//! in legacy. Deliberate differences from the kernel: host and network names are never
//! resolved (an error), and match modules iptables does not know (`-m geoip`) become
//! `Match::Unsupported` instead of "Couldn't load match", so that a check can list them.
//!
//! Errors iptables-nft only finds when it prepares a table's batch at `COMMIT` (a jump to
//! a missing chain, reported at the COMMIT line; `-A` to a missing chain) and the kernel's
//! checks of the batch (reported at the first rule that fails) are reported after every
//! parse error of the table, as iptables-nft does.

use super::ast::*;
use crate::netfilter::hooks::Hook;
use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

/// A parse error: where, and what iptables-restore (or the kernel) would say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name (empty when parsing a string without a name).
    pub file: String,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ParseError {}

/// Parse a rules file.
pub fn parse_file(path: &Path) -> Result<Ruleset, ParseError> {
    let name = path.display().to_string();
    let data = std::fs::read(path).map_err(|e| ParseError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_bytes(&data, &name)
}

/// Parse rules from a string; `name` names it in errors (may be empty).
pub fn parse_str(text: &str, name: &str) -> Result<Ruleset, ParseError> {
    parse_bytes(text.as_bytes(), name)
}

/// Parse rules from bytes (iptables reads bytes; invalid UTF-8 is kept lossily in names and
/// strings).
pub fn parse_bytes(data: &[u8], name: &str) -> Result<Ruleset, ParseError> {
    let mut p = Parser {
        file: name.to_string(),
        tables: Vec::new(),
        cur: None,
        announced: HashSet::new(),
    };
    p.run(data)?;
    Ok(Ruleset { tables: p.tables })
}

/// An error inside one line: column and message.
#[derive(Debug, Clone)]
struct LErr {
    col: usize,
    msg: String,
}

fn lerr<T>(col: usize, msg: impl Into<String>) -> Result<T, LErr> {
    Err(LErr {
        col,
        msg: msg.into(),
    })
}

// ---------------------------------------------------------------------------------------
// Data: protocols and services as a Debian system's /etc/protocols and /etc/services have
// them (iptables resolves names through them), extension names, ICMP names.
// ---------------------------------------------------------------------------------------

const PROTOCOLS: &str = "\
    ip 0;IP 0;hopopt 0;HOPOPT 0;icmp 1;ICMP 1;igmp 2;IGMP 2;ggp 3;GGP 3;ipencap 4;IP-ENCAP \
    4;st 5;ST 5;tcp 6;TCP 6;egp 8;EGP 8;igp 9;IGP 9;pup 12;PUP 12;udp 17;UDP 17;hmp 20;HMP \
    20;xns-idp 22;XNS-IDP 22;rdp 27;RDP 27;iso-tp4 29;ISO-TP4 29;dccp 33;DCCP 33;xtp 36;XTP \
    36;ddp 37;DDP 37;idpr-cmtp 38;IDPR-CMTP 38;ipv6 41;IPv6 41;ipv6-route 43;IPv6-Route \
    43;ipv6-frag 44;IPv6-Frag 44;idrp 45;IDRP 45;rsvp 46;RSVP 46;gre 47;GRE 47;esp \
    50;IPSEC-ESP 50;ah 51;IPSEC-AH 51;skip 57;SKIP 57;ipv6-icmp 58;IPv6-ICMP 58;ipv6-nonxt \
    59;IPv6-NoNxt 59;ipv6-opts 60;IPv6-Opts 60;rspf 73;RSPF 73;CPHB 73;vmtp 81;VMTP 81;eigrp \
    88;EIGRP 88;ospf 89;OSPFIGP 89;ax.25 93;AX.25 93;ipip 94;IPIP 94;etherip 97;ETHERIP \
    97;encap 98;ENCAP 98;pim 103;PIM 103;ipcomp 108;IPCOMP 108;vrrp 112;VRRP 112;l2tp \
    115;L2TP 115;isis 124;ISIS 124;sctp 132;SCTP 132;fc 133;FC 133;mobility-header \
    135;Mobility-Header 135;udplite 136;UDPLite 136;mpls-in-ip 137;MPLS-in-IP 137;manet \
    138;hip 139;HIP 139;shim6 140;Shim6 140;wesp 141;WESP 141;rohc 142;ROHC 142;ethernet \
    143;Ethernet 143;mptcp 262;MPTCP 262;\
";

/// `name port protocols` (t tcp, u udp, s sctp, d dccp), aliases as their own entries.
const SERVICES: &str = "\
    tcpmux 1 t;echo 7 tu;discard 9 tu;sink 9 tu;null 9 tu;systat 11 t;users 11 t;daytime 13 \
    tu;netstat 15 t;qotd 17 t;quote 17 t;chargen 19 tu;ttytst 19 tu;source 19 tu;ftp-data 20 \
    t;ftp 21 t;fsp 21 u;fspd 21 u;ssh 22 t;telnet 23 t;smtp 25 t;mail 25 t;time 37 \
    tu;timserver 37 tu;whois 43 t;nicname 43 t;tacacs 49 tu;domain 53 tu;bootps 67 u;bootpc \
    68 u;tftp 69 u;gopher 70 t;finger 79 t;http 80 t;www 80 t;kerberos 88 tu;kerberos5 88 \
    tu;krb5 88 tu;kerberos-sec 88 tu;iso-tsap 102 t;tsap 102 t;acr-nema 104 t;dicom 104 \
    t;pop3 110 t;pop-3 110 t;sunrpc 111 tu;portmapper 111 tu;auth 113 t;authentication 113 \
    t;tap 113 t;ident 113 t;nntp 119 t;readnews 119 t;untp 119 t;ntp 123 u;epmap 135 \
    t;loc-srv 135 t;netbios-ns 137 u;netbios-dgm 138 u;netbios-ssn 139 t;imap2 143 t;imap 143 \
    t;snmp 161 tu;snmp-trap 162 tu;snmptrap 162 tu;cmip-man 163 tu;cmip-agent 164 tu;mailq \
    174 t;xdmcp 177 u;bgp 179 t;smux 199 t;qmtp 209 t;z3950 210 t;wais 210 t;ipx 213 \
    u;ptp-event 319 u;ptp-general 320 u;pawserv 345 t;zserv 346 t;rpc2portmap 369 \
    tu;codaauth2 370 tu;clearcase 371 u;Clearcase 371 u;ldap 389 tu;svrloc 427 tu;https 443 \
    tu;snpp 444 t;microsoft-ds 445 t;kpasswd 464 tu;submissions 465 t;ssmtp 465 t;smtps 465 \
    t;urd 465 t;saft 487 t;isakmp 500 u;rtsp 554 tu;nqs 607 t;asf-rmcp 623 u;qmqp 628 t;ipp \
    631 t;ldp 646 tu;exec 512 t;biff 512 u;comsat 512 u;login 513 t;who 513 u;whod 513 \
    u;shell 514 t;cmd 514 t;syslog 514 tu;printer 515 t;spooler 515 t;talk 517 u;ntalk 518 \
    u;route 520 u;router 520 u;routed 520 u;gdomap 538 tu;uucp 540 t;uucpd 540 t;klogin 543 \
    t;kshell 544 t;krcmd 544 t;dhcpv6-client 546 u;dhcpv6-server 547 u;afpovertcp 548 t;nntps \
    563 t;snntp 563 t;submission 587 t;ldaps 636 tu;tinc 655 tu;silc 706 t;kerberos-adm 749 \
    t;domain-s 853 tu;rsync 873 t;ftps-data 989 t;ftps 990 t;telnets 992 t;imaps 993 t;pop3s \
    995 t;socks 1080 t;proofd 1093 t;rootd 1094 t;openvpn 1194 tu;rmiregistry 1099 \
    t;lotusnote 1352 t;lotusnotes 1352 t;ms-sql-s 1433 t;ms-sql-m 1434 u;ingreslock 1524 \
    t;datametrics 1645 tu;old-radius 1645 tu;sa-msg-port 1646 tu;old-radacct 1646 tu;kermit \
    1649 t;groupwise 1677 t;l2f 1701 u;l2tp 1701 u;radius 1812 tu;radius-acct 1813 tu;radacct \
    1813 tu;cisco-sccp 2000 t;nfs 2049 tu;gnunet 2086 tu;rtcm-sc104 2101 tu;gsigatekeeper \
    2119 t;gris 2135 t;cvspserver 2401 t;venus 2430 tu;venus-se 2431 tu;codasrv 2432 \
    tu;codasrv-se 2433 tu;mon 2583 tu;dict 2628 t;f5-globalsite 2792 t;gsiftp 2811 t;gpsd \
    2947 t;gds-db 3050 t;gds_db 3050 t;icpv2 3130 u;icp 3130 u;isns 3205 tu;iscsi-target 3260 \
    t;mysql 3306 t;ms-wbt-server 3389 t;nut 3493 tu;distcc 3632 t;daap 3689 t;svn 3690 \
    t;subversion 3690 t;suucp 4031 t;sysrqd 4094 t;sieve 4190 t;epmd 4369 t;remctl 4373 \
    t;f5-iquery 4353 t;ntske 4460 t;ipsec-nat-t 4500 u;iax 4569 u;mtn 4691 t;radmin-port 4899 \
    t;sip 5060 tu;sip-tls 5061 tu;xmpp-client 5222 t;jabber-client 5222 t;xmpp-server 5269 \
    t;jabber-server 5269 t;cfengine 5308 t;mdns 5353 u;postgresql 5432 t;postgres 5432 \
    t;freeciv 5556 t;rptp 5556 t;amqps 5671 t;amqp 5672 ts;x11 6000 t;x11-0 6000 t;x11-1 6001 \
    t;x11-2 6002 t;x11-3 6003 t;x11-4 6004 t;x11-5 6005 t;x11-6 6006 t;x11-7 6007 \
    t;gnutella-svc 6346 tu;gnutella-rtr 6347 tu;redis 6379 t;sge-qmaster 6444 t;sge_qmaster \
    6444 t;sge-execd 6445 t;sge_execd 6445 t;mysql-proxy 6446 t;babel 6696 u;ircs-u 6697 \
    t;bbs 7000 t;afs3-fileserver 7000 u;afs3-callback 7001 u;afs3-prserver 7002 \
    u;afs3-vlserver 7003 u;afs3-kaserver 7004 u;afs3-volser 7005 u;afs3-bos 7007 \
    u;afs3-update 7008 u;afs3-rmtsys 7009 u;font-service 7100 t;xfs 7100 t;http-alt 8080 \
    t;webcache 8080 t;puppet 8140 t;bacula-dir 9101 t;bacula-fd 9102 t;bacula-sd 9103 t;xmms2 \
    9667 t;nbd 10809 t;zabbix-agent 10050 t;zabbix-trapper 10051 t;amanda 10080 t;dicom 11112 \
    t;hkp 11371 t;db-lsp 17500 t;dcap 22125 t;gsidcap 22128 t;wnn6 22273 t;kerberos4 750 \
    ut;kerberos-iv 750 ut;kdc 750 ut;kerberos-master 751 ut;kerberos_master 751 \
    u;passwd-server 752 u;passwd_server 752 u;krb-prop 754 t;krb_prop 754 t;krb5_prop 754 \
    t;hprop 754 t;zephyr-srv 2102 u;zephyr-clt 2103 u;zephyr-hm 2104 u;iprop 2121 \
    t;supfilesrv 871 t;supfiledbg 1127 t;poppassd 106 t;moira-db 775 t;moira_db 775 \
    t;moira-update 777 t;moira_update 777 t;moira-ureg 779 u;moira_ureg 779 u;spamd 783 \
    t;skkserv 1178 t;predict 1210 u;rmtcfg 1236 t;xtel 1313 t;xtelw 1314 t;zebrasrv 2600 \
    t;zebra 2601 t;ripd 2602 t;ripngd 2603 t;ospfd 2604 t;bgpd 2605 t;ospf6d 2606 t;ospfapi \
    2607 t;isisd 2608 t;fax 4557 t;hylafax 4559 t;munin 4949 t;lrrd 4949 t;rplay 5555 u;nrpe \
    5666 t;nsca 5667 t;canna 5680 t;syslog-tls 6514 t;sane-port 6566 t;sane 6566 t;saned 6566 \
    t;ircd 6667 t;zope-ftp 8021 t;tproxy 8081 t;omniorb 8088 t;clc-build-daemon 8990 t;xinetd \
    9098 t;git 9418 t;zope 9673 t;webmin 10000 t;kamanda 10081 t;amandaidx 10082 t;amidxtape \
    10083 t;sgi-cmsd 17001 u;sgi-crsd 17002 u;sgi-gcd 17003 u;sgi-cad 17004 t;binkp 24554 \
    t;asp 27374 tu;csync2 30865 t;dircproxy 57000 t;tfido 60177 t;fido 60179 t;\
";

/// `xtables_chain_protos`: names iptables knows without /etc/protocols, in its order.
const CHAIN_PROTOS: [(&str, u8); 13] = [
    ("tcp", 6),
    ("sctp", 132),
    ("udp", 17),
    ("udplite", 136),
    ("icmp", 1),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("esp", 50),
    ("ah", 51),
    ("mobility-header", 135),
    ("ipv6-mh", 135),
    ("mh", 135),
    ("all", 0),
];

fn protocols() -> impl Iterator<Item = (&'static str, u32)> {
    PROTOCOLS.split(';').filter_map(|e| {
        let mut it = e.split(' ');
        let name = it.next()?;
        let num = it.next()?.parse().ok()?;
        Some((name, num))
    })
}

/// `getprotobyname`.
fn getprotobyname(name: &str) -> Option<u32> {
    protocols().find(|(n, _)| *n == name).map(|(_, p)| p)
}

/// The name iptables prints for protocol `p` (`proto_to_name`: its own table first, then
/// /etc/protocols).
pub fn protocol_name(p: u8) -> Option<&'static str> {
    if let Some((n, _)) = CHAIN_PROTOS.iter().find(|(_, v)| *v == p) {
        return Some(n);
    }
    protocols()
        .find(|(n, v)| *v == u32::from(p) && n.chars().all(|c| !c.is_ascii_uppercase()))
        .map(|(n, _)| n)
}

/// `xtables_parse_protocol`.
fn parse_protocol(s: &str) -> Option<u8> {
    if let Some(v) = xt_strtoui(s, 0, 255) {
        return Some(v as u8);
    }
    if let Some((_, v)) = CHAIN_PROTOS.iter().find(|(n, _)| *n == s) {
        return Some(*v);
    }
    // /etc/protocols numbers above 255 are truncated to the 8-bit field, as in iptables.
    getprotobyname(s).map(|v| v as u8)
}

/// `getservbyname(name, proto)`; `proto` None = any (tcp first, then udp, as getaddrinfo).
fn service_port(name: &str, proto: Option<&str>) -> Option<u16> {
    let want: &[char] = match proto {
        Some("tcp") => &['t'],
        Some("udp") => &['u'],
        Some("sctp") => &['s'],
        Some("dccp") => &['d'],
        Some(_) => return None,
        None => &['t', 'u'],
    };
    for w in want {
        for e in SERVICES.split(';') {
            let mut it = e.split(' ');
            let (Some(n), Some(port), Some(protos)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if n == name && protos.contains(*w) {
                return port.parse().ok();
            }
        }
    }
    None
}

/// ICMP type names (`icmp_codes` of libxt_icmp): name, type, code min, code max.
const ICMP_NAMES: [(&str, u8, u8, u8); 40] = [
    ("any", 0xff, 0, 0xff),
    ("echo-reply", 0, 0, 0xff),
    ("pong", 0, 0, 0xff),
    ("destination-unreachable", 3, 0, 0xff),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xff),
    ("redirect", 5, 0, 0xff),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xff),
    ("ping", 8, 0, 0xff),
    ("router-advertisement", 9, 0, 0xff),
    ("router-solicitation", 10, 0, 0xff),
    ("time-exceeded", 11, 0, 0xff),
    ("ttl-exceeded", 11, 0, 0xff),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xff),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xff),
    ("timestamp-reply", 14, 0, 0xff),
    ("address-mask-request", 17, 0, 0xff),
    ("address-mask-reply", 18, 0, 0xff),
];

/// Conntrack helpers the kernel registers for IPv4, with the L4 protocols they exist for
/// (`CT --helper` fails with ENOENT otherwise).
const CT_HELPERS: [(&str, &[u8]); 12] = [
    ("ftp", &[6]),
    ("irc", &[6]),
    ("sip", &[6, 17]),
    ("Q.931", &[6]),
    ("pptp", &[6]),
    ("sane", &[6]),
    ("RAS", &[17]),
    ("amanda", &[17]),
    ("netbios-ns", &[17]),
    ("snmp", &[17]),
    ("snmp_trap", &[17]),
    ("tftp", &[17]),
];

/// Match extensions iptables 1.8 ships for IPv4 that the router does not implement.
const UNSUPPORTED_MATCHES: [&str; 32] = [
    "ah",
    "bpf",
    "cgroup",
    "cluster",
    "connbytes",
    "connlabel",
    "connlimit",
    "cpu",
    "dccp",
    "devgroup",
    "ecn",
    "esp",
    "hashlimit",
    "helper",
    "ipcomp",
    "ipvs",
    "mac",
    "nfacct",
    "osf",
    "owner",
    "physdev",
    "policy",
    "quota",
    "rateest",
    "realm",
    "rpfilter",
    "set",
    "socket",
    "string",
    "tcpmss",
    "time",
    "u32",
];

/// Target extensions iptables 1.8 ships for IPv4 that the router does not implement.
const IPTABLES_TARGETS: [&str; 18] = [
    "AUDIT",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNSECMARK",
    "ECN",
    "HMARK",
    "IDLETIMER",
    "LED",
    "NFQUEUE",
    "QUEUE",
    "RATEEST",
    "SECMARK",
    "SET",
    "SYNPROXY",
    "TCPOPTSTRIP",
    "TEE",
    "TPROXY",
    "ULOG",
];

/// Well-known xtables-addons targets (not shipped with iptables).
const ADDONS_TARGETS: [&str; 13] = [
    "ACCOUNT",
    "CHAOS",
    "DELUDE",
    "DHCPMAC",
    "DNETMAP",
    "ECHO",
    "IPMARK",
    "IPV4OPTSSTRIP",
    "LOGMARK",
    "PROTO",
    "STEAL",
    "SYSRQ",
    "TARPIT",
];

/// A target extension the router does not implement (iptables' own or xtables-addons').
fn unsupported_target_name(name: &str) -> bool {
    IPTABLES_TARGETS.contains(&name) || ADDONS_TARGETS.contains(&name)
}

fn unsupported_match_reason(module: &str, known: bool) -> String {
    let why = match module {
        "set" => "(ipset) is not supported: the router has no ipset support; remove the rule or load the sets (not available)",
        "nfacct" => "(nfacct accounting objects) is not supported: the objects it names must be created through netlink first, which the router cannot do; remove the rule",
        "owner" => "(socket owner) is not supported: the router has no local sockets owned by users",
        "mac" => "(source MAC address) is not supported: the router's interfaces carry no Ethernet header; match on the interface instead",
        "physdev" => "(bridge ports) is not supported: the router has no bridges",
        "hashlimit" => "(per-flow rate limits) is not supported yet: needs a hash of per-address token buckets; use -m limit or -m recent",
        "connlimit" => "(connection counts) is not supported yet: needs per-address counting of conntrack entries",
        "policy" => "(IPsec policy) is not supported: the router has no IPsec",
        "rpfilter" => "(reverse-path filter) is not supported yet: needs a FIB lookup from the match; the rp_filter sysctl is not implemented either",
        "helper" => "(conntrack helper) is not supported: the router has no conntrack helpers",
        "esp" | "ah" | "ipcomp" => "(IPsec SPI) is not supported yet",
        "socket" => "(local socket lookup) is not supported: the router has no sockets",
        "string" | "u32" | "bpf" => "(payload inspection) is not supported",
        _ if known => "is not supported by the router",
        _ => "is not an iptables extension the router knows (iptables itself fails with `Couldn't load match` unless a third-party extension such as xtables-addons provides it)",
    };
    why.to_string()
}

fn unsupported_target_reason(target: &str) -> String {
    let why = match target {
        "NFQUEUE" | "QUEUE" => "is not supported: it needs a userspace queue consumer (iptables-nft also rejects QUEUE)",
        "SET" => "(ipset) is not supported: the router has no ipset support",
        "TPROXY" => "(transparent proxy) is not supported: the router has no local sockets",
        "TEE" => "(packet duplication) is not supported yet",
        "CT" => "with --timeout is not supported: it names a conntrack timeout policy that must be created through netlink first (nfct add timeout)",
        "SECMARK" | "CONNSECMARK" => "(SELinux labels) is not supported",
        "CLASSIFY" => "(traffic-control class) is not supported: the router has no qdiscs",
        _ => "is not supported by the router",
    };
    why.to_string()
}

// ---------------------------------------------------------------------------------------
// C library emulation: the number and string functions iptables uses, with their quirks.
// ---------------------------------------------------------------------------------------

fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtoumax(s, &end, base)`: value (None on overflow) and the bytes consumed (0 when no
/// digits were found).
fn strtoumax(s: &[u8], base: u32) -> (Option<u64>, usize) {
    let mut i = 0;
    while i < s.len() && c_isspace(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = |i: usize| {
        s.get(i) == Some(&b'0')
            && matches!(s.get(i + 1), Some(b'x') | Some(b'X'))
            && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    };
    if (base == 0 || base == 16) && hex_prefix(i) {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if s.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut v: Option<u64> = Some(0);
    while i < s.len() {
        let d = match (s[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        v = v
            .and_then(|x| x.checked_mul(u64::from(base)))
            .and_then(|x| x.checked_add(u64::from(d)));
        i += 1;
    }
    if i == start {
        return (Some(0), 0);
    }
    (v.map(|x| if negative { x.wrapping_neg() } else { x }), i)
}

/// `xtables_strtoul` with `end`: value in [min, max] (max 0 = no limit) and the rest.
fn xt_strtoul_end(s: &str, min: u64, max: u64) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    let first = b.iter().position(|c| !c_isspace(*c));
    if let Some(i) = first {
        if b[i] == b'-' {
            return None;
        }
    }
    let (v, used) = strtoumax(b, 0);
    if used == 0 {
        return None;
    }
    let v = v?;
    if min <= v && (max == 0 || v <= max) {
        Some((v, s.get(used..).unwrap_or("")))
    } else {
        None
    }
}

/// `xtables_strtoul` without `end`: the whole string must be the number.
fn xt_strtoul(s: &str, min: u64, max: u64) -> Option<u64> {
    match xt_strtoul_end(s, min, max) {
        Some((v, "")) => Some(v),
        _ => None,
    }
}

/// `xtables_strtoui` (whole string).
fn xt_strtoui(s: &str, min: u32, max: u32) -> Option<u32> {
    xt_strtoul(s, u64::from(min), u64::from(max)).map(|v| v as u32)
}

/// `sscanf(s, "%llu")`.
fn scan_llu(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let (v, used) = strtoumax(b, 10);
    if used == 0 {
        return None;
    }
    Some(v.unwrap_or(u64::MAX))
}

/// `atoi`.
fn c_atoi(s: &str) -> i32 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add(i64::from(b[i] - b'0'));
        i += 1;
    }
    let v = if neg { v.saturating_neg() } else { v };
    v as i32
}

/// `strncasecmp(a, b, n) == 0` with C string semantics.
fn strncaseeq(a: &str, b: &str, n: usize) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for i in 0..n {
        let ca = a.get(i).copied().unwrap_or(0).to_ascii_lowercase();
        let cb = b.get(i).copied().unwrap_or(0).to_ascii_lowercase();
        if ca != cb {
            return false;
        }
        if ca == 0 {
            return true;
        }
    }
    true
}

/// `xtables_numeric_to_ipaddr` (1-4 parts, missing parts are zero; each part base 0).
fn numeric_to_ipaddr(s: &str) -> Option<Ipv4Addr> {
    numeric_ip(s, false)
}

/// `xtables_numeric_to_ipmask` (exactly four parts).
fn numeric_to_ipmask(s: &str) -> Option<Ipv4Addr> {
    numeric_ip(s, true)
}

fn numeric_ip(s: &str, is_mask: bool) -> Option<Ipv4Addr> {
    // iptables copies the string into a 20-byte buffer first.
    let b = s.as_bytes();
    let b = &b[..b.len().min(19)];
    let s = String::from_utf8_lossy(b);
    let mut out = [0u8; 4];
    let mut rest: &str = &s;
    for slot in out.iter_mut().take(3) {
        match rest.find('.') {
            None => {
                if is_mask {
                    return None;
                }
                let v = xt_strtoui(rest, 0, 255)?;
                *slot = v as u8;
                return Some(Ipv4Addr::from(out));
            }
            Some(dot) => {
                let v = xt_strtoui(rest.get(..dot)?, 0, 255)?;
                *slot = v as u8;
                rest = rest.get(dot + 1..)?;
            }
        }
    }
    out[3] = xt_strtoui(rest, 0, 255)? as u8;
    Some(Ipv4Addr::from(out))
}

/// `inet_aton` (what getaddrinfo accepts as a numeric IPv4 host).
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::new();
    for p in &parts {
        let b = p.as_bytes();
        if b.is_empty() || !b[0].is_ascii_digit() {
            return None;
        }
        let (v, used) = strtoumax(b, 0);
        if used != b.len() {
            return None;
        }
        vals.push(v?);
    }
    let n = vals.len();
    let mut addr: u64 = 0;
    for (i, v) in vals.iter().enumerate() {
        if i + 1 < n {
            if *v > 255 {
                return None;
            }
            addr |= v << (24 - 8 * i);
        } else {
            let bits = 32 - 8 * (n - 1);
            if bits < 64 && *v >= (1u64 << bits) {
                return None;
            }
            addr |= v;
        }
    }
    Some(Ipv4Addr::from(addr as u32))
}

/// `inet_pton(AF_INET)`: strict dotted quad, no leading zeros.
fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|c| c.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        out[i] = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(out))
}

/// The error for an address iptables would try to resolve as a host or network name.
fn hostname_msg(s: &str) -> String {
    format!("host/network `{s}' not found (the router never resolves host or network names; write an address)")
}

/// The column (1-based, in characters) of byte offset `off` in `line`.
fn col_of(line: &[u8], off: usize) -> usize {
    let end = off.min(line.len());
    line[..end].iter().filter(|b| (**b & 0xc0) != 0x80).count() + 1
}

fn escape(s: &str) -> String {
    s.chars().flat_map(|c| c.escape_debug()).collect()
}

// ---------------------------------------------------------------------------------------
// Lines and tokens.
// ---------------------------------------------------------------------------------------

/// Split input as `fgets` into a 10240-byte buffer does (lines longer than 10239 bytes are
/// cut into several lines, each counted), each cut at its first NUL byte (C strings).
fn split_lines(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut no = 0;
    while pos < data.len() {
        let max = (data.len() - pos).min(10239);
        let chunk = &data[pos..pos + max];
        let len = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => i + 1,
            None => max,
        };
        let raw = &data[pos..pos + len];
        pos += len;
        no += 1;
        let c = match raw.iter().position(|b| *b == 0) {
            Some(i) => &raw[..i],
            None => raw,
        };
        out.push((no, c));
    }
    out
}

/// A word of a rule line after iptables-restore's tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    text: String,
    col: usize,
}

/// `add_param_to_argv`: split on blanks, `"` groups (and ends a word), `\` escapes inside
/// quotes only. Words are at most 1023 bytes; a line has at most 251 words.
fn tokenize(line: &[u8], start: usize) -> Result<Vec<Tok>, LErr> {
    let mut out = Vec::new();
    let mut quote_open = false;
    let mut escaped = false;
    let mut param: Vec<u8> = Vec::new();
    let mut tok_start: Option<usize> = None;
    let mut i = start;
    let emit = |out: &mut Vec<Tok>, param: &mut Vec<u8>, at: Option<usize>, i: usize| {
        if out.len() + 4 >= 255 {
            return lerr(
                col_of(line, at.unwrap_or(i)),
                "Parser cannot handle more arguments",
            );
        }
        out.push(Tok {
            text: String::from_utf8_lossy(param).into_owned(),
            col: col_of(line, at.unwrap_or(i)),
        });
        param.clear();
        Ok(())
    };
    let push = |param: &mut Vec<u8>, c: u8, at: &mut Option<usize>, i: usize| {
        if at.is_none() {
            *at = Some(i);
        }
        param.push(c);
        if param.len() >= 1024 {
            return lerr(col_of(line, at.unwrap_or(i)), "Parameter too long!");
        }
        Ok(())
    };
    while i < line.len() {
        let c = line[i];
        if quote_open {
            if escaped {
                push(&mut param, c, &mut tok_start, i)?;
                escaped = false;
                i += 1;
                continue;
            } else if c == b'\\' {
                escaped = true;
                i += 1;
                continue;
            } else if c == b'"' {
                quote_open = false;
            } else {
                push(&mut param, c, &mut tok_start, i)?;
                i += 1;
                continue;
            }
        } else if c == b'"' {
            quote_open = true;
            if tok_start.is_none() {
                tok_start = Some(i);
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {}
            b' ' | b'\t' | b'\n' => {
                if param.is_empty() {
                    i += 1;
                    continue;
                }
            }
            _ => {
                push(&mut param, c, &mut tok_start, i)?;
                i += 1;
                continue;
            }
        }
        emit(&mut out, &mut param, tok_start, i)?;
        tok_start = None;
        i += 1;
    }
    if !param.is_empty() {
        emit(&mut out, &mut param, tok_start, i)?;
    }
    Ok(out)
}

/// `strtok(s, delims)` on a mutable C buffer: the token's range, writing a NUL after it.
fn strtok(buf: &mut [u8], pos: &mut usize, delims: &[u8]) -> Option<(usize, usize)> {
    let from = (*pos).min(buf.len());
    let cend = buf[from..]
        .iter()
        .position(|b| *b == 0)
        .map(|i| from + i)
        .unwrap_or(buf.len());
    let mut i = from;
    while i < cend && delims.contains(&buf[i]) {
        i += 1;
    }
    if i >= cend {
        *pos = cend;
        return None;
    }
    let start = i;
    while i < cend && !delims.contains(&buf[i]) {
        i += 1;
    }
    let end = i;
    if i < cend {
        buf[i] = 0;
        *pos = i + 1;
    } else {
        *pos = cend;
    }
    Some((start, end))
}

// ---------------------------------------------------------------------------------------
// getopt_long, as glibc does it for iptables (optstring "-:…": arguments in order, ':' for
// a missing argument, unambiguous prefixes of long options).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HasArg {
    No,
    Req,
    Opt,
}

/// What an option stands for: a base option (its short letter) or option `id` of loaded
/// extension instance `inst`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Val {
    Base(char),
    Ext(usize, u8),
}

#[derive(Clone, Debug)]
struct LongOpt {
    name: &'static str,
    has_arg: HasArg,
    val: Val,
}

/// iptables-nft's `original_opts`.
const BASE_LONG: [(&str, HasArg, char); 37] = [
    ("append", HasArg::Req, 'A'),
    ("delete", HasArg::Req, 'D'),
    ("check", HasArg::Req, 'C'),
    ("insert", HasArg::Req, 'I'),
    ("replace", HasArg::Req, 'R'),
    ("list", HasArg::Opt, 'L'),
    ("list-rules", HasArg::Opt, 'S'),
    ("flush", HasArg::Opt, 'F'),
    ("zero", HasArg::Opt, 'Z'),
    ("new-chain", HasArg::Req, 'N'),
    ("delete-chain", HasArg::Opt, 'X'),
    ("rename-chain", HasArg::Req, 'E'),
    ("policy", HasArg::Req, 'P'),
    ("source", HasArg::Req, 's'),
    ("destination", HasArg::Req, 'd'),
    ("src", HasArg::Req, 's'),
    ("dst", HasArg::Req, 'd'),
    ("protocol", HasArg::Req, 'p'),
    ("in-interface", HasArg::Req, 'i'),
    ("jump", HasArg::Req, 'j'),
    ("table", HasArg::Req, 't'),
    ("match", HasArg::Req, 'm'),
    ("numeric", HasArg::No, 'n'),
    ("out-interface", HasArg::Req, 'o'),
    ("verbose", HasArg::No, 'v'),
    ("wait", HasArg::Opt, 'w'),
    ("wait-interval", HasArg::Opt, 'W'),
    ("exact", HasArg::No, 'x'),
    ("fragments", HasArg::No, 'f'),
    ("version", HasArg::No, 'V'),
    ("help", HasArg::Opt, 'h'),
    ("line-numbers", HasArg::No, '0'),
    ("modprobe", HasArg::Req, 'M'),
    ("set-counters", HasArg::Req, 'c'),
    ("goto", HasArg::Req, 'g'),
    ("ipv4", HasArg::No, '4'),
    ("ipv6", HasArg::No, '6'),
];

/// `IPT_OPTSTRING` without its leading "-:".
const SHORT_OPTS: &str = "A:C:D:E:F::I:L::M:N:P:VX::Z::c:d:i:j:o:p:s:t:R:S::W::46bfg:h::m:nvw::x";

fn short_has_arg(c: char) -> Option<HasArg> {
    if c == ':' {
        return None;
    }
    let b = SHORT_OPTS.as_bytes();
    let i = b.iter().position(|x| char::from(*x) == c)?;
    match (b.get(i + 1), b.get(i + 2)) {
        (Some(b':'), Some(b':')) => Some(HasArg::Opt),
        (Some(b':'), _) => Some(HasArg::Req),
        _ => Some(HasArg::No),
    }
}

/// One getopt result.
#[derive(Debug, Clone)]
enum Ev {
    End,
    /// A word that is not an option (iptables: `!` or a bad argument).
    NonOpt(usize),
    /// An option: what it is, its argument, the index of the option word, the index of
    /// the last word consumed, and the long name as matched (for messages).
    Opt {
        val: Val,
        arg: Option<Tok>,
        idx: usize,
        last: usize,
        name: &'static str,
    },
    /// Unknown, ambiguous, or given an argument it does not take (`'?'`).
    Unknown {
        idx: usize,
        msg: Option<String>,
    },
    /// Required argument missing (`':'`).
    Missing(usize),
}

#[derive(Debug, Default)]
struct Getopt {
    optind: usize,
    /// Byte offset of the next short option letter inside `toks[optind]` (0 = none).
    nextchar: usize,
}

impl Getopt {
    fn next(&mut self, toks: &[Tok], opts: &[LongOpt]) -> Ev {
        if self.nextchar == 0 {
            let Some(t) = toks.get(self.optind) else {
                return Ev::End;
            };
            let s = t.text.as_str();
            if s == "--" {
                self.optind += 1;
                return Ev::End;
            }
            if !s.starts_with('-') || s == "-" {
                self.optind += 1;
                return Ev::NonOpt(self.optind - 1);
            }
            if let Some(body) = s.strip_prefix("--") {
                return self.long(toks, opts, body);
            }
            self.nextchar = 1;
        }
        self.short(toks, opts)
    }

    fn long(&mut self, toks: &[Tok], opts: &[LongOpt], body: &str) -> Ev {
        let idx = self.optind;
        self.optind += 1;
        let (name, eq) = match body.find('=') {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let mut found: Option<&LongOpt> = opts.iter().find(|o| o.name == name);
        if found.is_none() {
            let mut ambiguous = false;
            for o in opts.iter().filter(|o| o.name.starts_with(name)) {
                match found {
                    None => found = Some(o),
                    Some(f) if f.has_arg != o.has_arg || f.val != o.val => ambiguous = true,
                    _ => {}
                }
            }
            if ambiguous {
                return Ev::Unknown {
                    idx,
                    msg: Some(format!("option `--{name}' is ambiguous")),
                };
            }
        }
        let Some(o) = found else {
            return Ev::Unknown { idx, msg: None };
        };
        let col = toks.get(idx).map(|t| t.col).unwrap_or(1);
        let arg = match (o.has_arg, eq) {
            (HasArg::No, Some(_)) => {
                return Ev::Unknown {
                    idx,
                    msg: Some(format!("option `--{}' doesn't allow an argument", o.name)),
                }
            }
            (HasArg::No, None) => None,
            (_, Some(v)) => Some(Tok {
                text: v.to_string(),
                col: col + 3 + name.chars().count(),
            }),
            (HasArg::Req, None) => match toks.get(self.optind) {
                Some(t) => {
                    self.optind += 1;
                    Some(t.clone())
                }
                None => return Ev::Missing(idx),
            },
            (HasArg::Opt, None) => None,
        };
        Ev::Opt {
            val: o.val,
            arg,
            idx,
            last: self.optind - 1,
            name: o.name,
        }
    }

    fn short(&mut self, toks: &[Tok], opts: &[LongOpt]) -> Ev {
        let idx = self.optind;
        let Some(t) = toks.get(idx) else {
            self.nextchar = 0;
            return Ev::End;
        };
        let s = t.text.as_str();
        let Some(c) = s.get(self.nextchar..).and_then(|r| r.chars().next()) else {
            self.nextchar = 0;
            self.optind += 1;
            return self.next(toks, opts);
        };
        let after = self.nextchar + c.len_utf8();
        let rest = s.get(after..).unwrap_or("");
        let name = short_name(c);
        match short_has_arg(c) {
            None => {
                if rest.is_empty() {
                    self.nextchar = 0;
                    self.optind += 1;
                } else {
                    self.nextchar = after;
                }
                Ev::Unknown {
                    idx,
                    msg: Some(format!("unknown option \"-{c}\"")),
                }
            }
            Some(HasArg::No) => {
                if rest.is_empty() {
                    self.nextchar = 0;
                    self.optind += 1;
                } else {
                    self.nextchar = after;
                }
                Ev::Opt {
                    val: Val::Base(c),
                    arg: None,
                    idx,
                    last: idx,
                    name,
                }
            }
            Some(HasArg::Req) => {
                self.nextchar = 0;
                if !rest.is_empty() {
                    self.optind += 1;
                    let col = t.col + s[..after].chars().count();
                    return Ev::Opt {
                        val: Val::Base(c),
                        arg: Some(Tok {
                            text: rest.to_string(),
                            col,
                        }),
                        idx,
                        last: idx,
                        name,
                    };
                }
                match toks.get(idx + 1) {
                    Some(a) => {
                        self.optind += 2;
                        Ev::Opt {
                            val: Val::Base(c),
                            arg: Some(a.clone()),
                            idx,
                            last: idx + 1,
                            name,
                        }
                    }
                    None => {
                        self.optind += 1;
                        Ev::Missing(idx)
                    }
                }
            }
            Some(HasArg::Opt) => {
                self.nextchar = 0;
                self.optind += 1;
                let arg = (!rest.is_empty()).then(|| Tok {
                    text: rest.to_string(),
                    col: t.col + s[..after].chars().count(),
                });
                Ev::Opt {
                    val: Val::Base(c),
                    arg,
                    idx,
                    last: idx,
                    name,
                }
            }
        }
    }

    /// `xs_has_arg`: is the next word an argument (not starting with `-` or `!`)?
    fn has_arg<'t>(&self, toks: &'t [Tok]) -> Option<&'t Tok> {
        toks.get(self.optind)
            .filter(|t| !t.text.starts_with('-') && !t.text.starts_with('!'))
    }
}

fn short_name(c: char) -> &'static str {
    BASE_LONG
        .iter()
        .find(|(_, _, v)| *v == c)
        .map(|(n, _, _)| *n)
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// Extensions: option tables (as iptables 1.8.9 declares them) and parsers.
// ---------------------------------------------------------------------------------------

/// `!` allowed before the option.
const INV: u8 = 1;
/// The option must be given.
const MAND: u8 = 2;
/// The option may be repeated.
const MULTI: u8 = 4;
/// The option takes a second word (`--tcp-flags mask comp`, `--match-set name flags`).
const TWO: u8 = 8;

#[derive(Clone, Copy, Debug)]
struct OptSpec {
    name: &'static str,
    id: u8,
    arg: bool,
    flags: u8,
    excl: u32,
    also: u32,
}

const fn o(name: &'static str, id: u8, arg: bool, flags: u8) -> OptSpec {
    OptSpec {
        name,
        id,
        arg,
        flags,
        excl: 0,
        also: 0,
    }
}

const fn ox(name: &'static str, id: u8, arg: bool, flags: u8, excl: u32, also: u32) -> OptSpec {
    OptSpec {
        name,
        id,
        arg,
        flags,
        excl,
        also,
    }
}

const TCP_OPTS: [OptSpec; 7] = [
    o("source-port", 1, true, INV),
    o("sport", 1, true, INV),
    o("destination-port", 2, true, INV),
    o("dport", 2, true, INV),
    o("syn", 3, false, INV),
    o("tcp-flags", 4, true, INV | TWO),
    o("tcp-option", 5, true, INV),
];
const UDP_OPTS: [OptSpec; 4] = [
    o("source-port", 0, true, INV),
    o("sport", 0, true, INV),
    o("destination-port", 1, true, INV),
    o("dport", 1, true, INV),
];
const SCTP_OPTS: [OptSpec; 5] = [
    o("source-port", 1, true, INV),
    o("sport", 1, true, INV),
    o("destination-port", 2, true, INV),
    o("dport", 2, true, INV),
    o("chunk-types", 3, true, INV | TWO),
];
const ICMP_OPTS: [OptSpec; 1] = [o("icmp-type", 0, true, MAND | INV)];
const MULTIPORT_OPTS: [OptSpec; 5] = [
    ox("source-ports", 0, true, INV, 7, 0),
    ox("sports", 0, true, INV, 7, 0),
    ox("destination-ports", 1, true, INV, 7, 0),
    ox("dports", 1, true, INV, 7, 0),
    ox("ports", 2, true, INV, 7, 0),
];
const IPRANGE_OPTS: [OptSpec; 2] = [o("src-range", 0, true, INV), o("dst-range", 1, true, INV)];
const ADDRTYPE_OPTS: [OptSpec; 4] = [
    o("src-type", 0, true, INV),
    o("dst-type", 1, true, INV),
    ox("limit-iface-in", 2, false, 0, 1 << 3, 0),
    ox("limit-iface-out", 3, false, 0, 1 << 2, 0),
];
const COMMENT_OPTS: [OptSpec; 1] = [o("comment", 0, true, MAND)];
const MARK_OPTS: [OptSpec; 1] = [o("mark", 0, true, MAND | INV)];
const LENGTH_OPTS: [OptSpec; 1] = [o("length", 0, true, MAND | INV)];
const TTL_OPTS: [OptSpec; 4] = [
    ox("ttl-lt", 1, true, 0, 7, 0),
    ox("ttl-gt", 2, true, 0, 7, 0),
    ox("ttl-eq", 0, true, INV, 7, 0),
    ox("ttl", 0, true, 0, 7, 0),
];
const TOS_OPTS: [OptSpec; 1] = [o("tos", 1, true, INV | MAND)];
const DSCP_OPTS: [OptSpec; 2] = [
    ox("dscp", 0, true, INV, 1 << 1, 0),
    ox("dscp-class", 1, true, INV, 1, 0),
];
const PKTTYPE_OPTS: [OptSpec; 1] = [o("pkt-type", 0, true, MAND | INV)];
const STATE_OPTS: [OptSpec; 1] = [o("state", 0, true, MAND | INV)];
const CONNTRACK_OPTS: [OptSpec; 13] = [
    o("ctstate", 0, true, INV),
    o("ctproto", 1, true, INV),
    o("ctorigsrc", 2, true, INV),
    o("ctorigdst", 3, true, INV),
    o("ctreplsrc", 4, true, INV),
    o("ctrepldst", 5, true, INV),
    o("ctstatus", 10, true, INV),
    o("ctexpire", 11, true, INV),
    o("ctorigsrcport", 6, true, INV),
    o("ctorigdstport", 7, true, INV),
    o("ctreplsrcport", 8, true, INV),
    o("ctrepldstport", 9, true, INV),
    o("ctdir", 12, true, 0),
];
const STATISTIC_OPTS: [OptSpec; 4] = [
    o("mode", 0, true, MAND),
    ox("probability", 1, true, INV, (1 << 2) | (1 << 3), 0),
    ox("every", 2, true, INV, 1 << 1, 1 << 3),
    ox("packet", 3, true, 0, 1 << 1, 1 << 2),
];
const LIMIT_OPTS: [OptSpec; 2] = [o("limit", 0, true, 0), o("limit-burst", 1, true, 0)];
const RECENT_OPTS: [OptSpec; 12] = [
    ox("set", 0, false, INV, 0xf, 0),
    ox("rcheck", 1, false, INV, 0xf, 0),
    ox("update", 2, false, INV, 0xf, 0),
    ox("remove", 3, false, INV, 0xf, 0),
    o("seconds", 4, true, 0),
    ox("reap", 5, false, 0, 0, 1 << 4),
    o("hitcount", 6, true, 0),
    ox("rttl", 7, false, 0, 1 | (1 << 3), 0),
    o("name", 8, true, 0),
    o("rsource", 9, false, 0),
    o("rdest", 10, false, 0),
    o("mask", 11, true, 0),
];

const REJECT_OPTS: [OptSpec; 1] = [o("reject-with", 0, true, 0)];
const LOG_OPTS: [OptSpec; 7] = [
    o("log-level", 6, true, 0),
    o("log-prefix", 7, true, 0),
    o("log-tcp-sequence", 0, false, 0),
    o("log-tcp-options", 1, false, 0),
    o("log-ip-options", 2, false, 0),
    o("log-uid", 3, false, 0),
    o("log-macdecode", 5, false, 0),
];
const NFLOG_OPTS: [OptSpec; 5] = [
    o("nflog-group", 0, true, 0),
    o("nflog-prefix", 1, true, 0),
    ox("nflog-range", 2, true, 0, 1 << 3, 0),
    ox("nflog-size", 3, true, 0, 1 << 2, 0),
    o("nflog-threshold", 4, true, 0),
];
const MARKT_OPTS: [OptSpec; 5] = [
    ox("set-xmark", 4, true, 0, 0x1f, 0),
    ox("set-mark", 0, true, 0, 0x1f, 0),
    ox("and-mark", 1, true, 0, 0x1f, 0),
    ox("or-mark", 2, true, 0, 0x1f, 0),
    ox("xor-mark", 3, true, 0, 0x1f, 0),
];
/// CONNMARK operations (`F_OP_ANY`).
const CM_OPS: u32 = 0b1_0011_1111;
const CONNMARKT_OPTS: [OptSpec; 12] = [
    ox("set-xmark", 8, true, 0, CM_OPS, 0),
    ox("set-mark", 0, true, 0, CM_OPS, 0),
    ox("and-mark", 3, true, 0, CM_OPS, 0),
    ox("or-mark", 4, true, 0, CM_OPS, 0),
    ox("xor-mark", 5, true, 0, CM_OPS, 0),
    ox("save-mark", 1, false, 0, CM_OPS, 0),
    ox("restore-mark", 2, false, 0, CM_OPS, 0),
    o("left-shift-mark", 6, true, 0),
    o("right-shift-mark", 7, true, 0),
    ox("ctmask", 9, true, 0, 1 << 11, 0),
    ox("nfmask", 10, true, 0, 1 << 11, 0),
    ox("mask", 11, true, 0, (1 << 9) | (1 << 10), 0),
];
const TTLT_OPTS: [OptSpec; 3] = [
    ox("ttl-set", 0, true, 0, 7, 0),
    ox("ttl-dec", 2, true, 0, 7, 0),
    ox("ttl-inc", 1, true, 0, 7, 0),
];
const TOST_OPTS: [OptSpec; 4] = [
    ox("set-tos", 0, true, 0, 0xf, 0),
    ox("and-tos", 1, true, 0, 0xf, 0),
    ox("or-tos", 2, true, 0, 0xf, 0),
    ox("xor-tos", 3, true, 0, 0xf, 0),
];
const DSCPT_OPTS: [OptSpec; 2] = [
    ox("set-dscp", 0, true, 0, 1 << 1, 0),
    ox("set-dscp-class", 1, true, 0, 1, 0),
];
const TCPMSS_OPTS: [OptSpec; 2] = [
    o("set-mss", 0, true, 0),
    o("clamp-mss-to-pmtu", 1, false, 0),
];
const CT_OPTS: [OptSpec; 8] = [
    o("notrack", 0, false, 0),
    o("helper", 1, true, 0),
    o("timeout", 2, true, 0),
    o("ctevents", 3, true, 0),
    o("expevents", 4, true, 0),
    o("zone-orig", 6, true, 0),
    o("zone-reply", 7, true, 0),
    o("zone", 5, true, 0),
];
const CHECKSUM_OPTS: [OptSpec; 1] = [o("checksum-fill", 0, false, MAND)];
const SNAT_OPTS: [OptSpec; 4] = [
    o("to-source", 1, true, MAND),
    o("random", 3, false, 0),
    o("random-fully", 4, false, 0),
    o("persistent", 5, false, 0),
];
const DNAT_OPTS: [OptSpec; 3] = [
    o("to-destination", 0, true, MAND),
    o("random", 3, false, 0),
    o("persistent", 5, false, 0),
];
const MASQUERADE_OPTS: [OptSpec; 3] = [
    o("to-ports", 2, true, 0),
    o("random", 3, false, 0),
    o("random-fully", 4, false, 0),
];
const REDIRECT_OPTS: [OptSpec; 2] = [o("to-ports", 2, true, 0), o("random", 3, false, 0)];
const NETMAP_OPTS: [OptSpec; 1] = [o("to", 0, true, MAND)];

/// Option tables of unsupported extensions, so that their words are grouped as iptables
/// groups them (validated only where a bad value is an error the kernel corpus shows).
fn unsupported_spec(name: &str, target: bool) -> Option<&'static [OptSpec]> {
    const A: bool = true;
    const N: bool = false;
    static MAC: [OptSpec; 1] = [o("mac-source", 0, A, INV)];
    static OWNER: [OptSpec; 7] = [
        o("uid-owner", 0, A, INV),
        o("gid-owner", 1, A, INV),
        o("socket-exists", 2, N, INV),
        o("suppl-groups", 3, N, 0),
        o("pid-owner", 4, A, INV),
        o("sid-owner", 5, A, INV),
        o("cmd-owner", 6, A, INV),
    ];
    static PHYSDEV: [OptSpec; 5] = [
        o("physdev-in", 0, A, INV),
        o("physdev-out", 1, A, INV),
        o("physdev-is-in", 2, N, INV),
        o("physdev-is-out", 3, N, INV),
        o("physdev-is-bridged", 4, N, INV),
    ];
    static SET: [OptSpec; 11] = [
        o("match-set", 0, A, INV | TWO),
        o("set", 1, A, INV | TWO),
        o("return-nomatch", 2, N, 0),
        o("update-counters", 3, N, INV),
        o("update-subcounters", 4, N, INV),
        o("packets-eq", 5, A, INV),
        o("packets-lt", 6, A, 0),
        o("packets-gt", 7, A, 0),
        o("bytes-eq", 8, A, INV),
        o("bytes-lt", 9, A, 0),
        o("bytes-gt", 10, A, 0),
    ];
    static NFACCT: [OptSpec; 1] = [o("nfacct-name", 0, A, 0)];
    static HASHLIMIT: [OptSpec; 14] = [
        o("hashlimit", 0, A, 0),
        o("hashlimit-upto", 1, A, 0),
        o("hashlimit-above", 2, A, 0),
        o("hashlimit-burst", 3, A, 0),
        o("hashlimit-mode", 4, A, 0),
        o("hashlimit-srcmask", 5, A, 0),
        o("hashlimit-dstmask", 6, A, 0),
        o("hashlimit-name", 7, A, 0),
        o("hashlimit-htable-size", 8, A, 0),
        o("hashlimit-htable-max", 9, A, 0),
        o("hashlimit-htable-expire", 10, A, 0),
        o("hashlimit-htable-gcinterval", 11, A, 0),
        o("hashlimit-rate-interval", 12, A, 0),
        o("hashlimit-rate-match", 13, N, 0),
    ];
    static CONNLIMIT: [OptSpec; 5] = [
        o("connlimit-upto", 0, A, 0),
        o("connlimit-above", 1, A, 0),
        o("connlimit-mask", 2, A, 0),
        o("connlimit-saddr", 3, N, 0),
        o("connlimit-daddr", 4, N, 0),
    ];
    static POLICY: [OptSpec; 10] = [
        o("dir", 0, A, 0),
        o("pol", 1, A, 0),
        o("strict", 2, N, 0),
        o("reqid", 3, A, INV),
        o("spi", 4, A, INV),
        o("tunnel-src", 5, A, INV),
        o("tunnel-dst", 6, A, INV),
        o("proto", 7, A, INV),
        o("mode", 8, A, INV),
        o("next", 9, N, 0),
    ];
    static RPFILTER: [OptSpec; 4] = [
        o("loose", 0, N, 0),
        o("validmark", 1, N, 0),
        o("accept-local", 2, N, 0),
        o("invert", 3, N, 0),
    ];
    static HELPER: [OptSpec; 1] = [o("helper", 0, A, INV)];
    static SOCKET: [OptSpec; 3] = [
        o("transparent", 0, N, 0),
        o("nowildcard", 1, N, 0),
        o("restore-skmark", 2, N, 0),
    ];
    static REALM: [OptSpec; 1] = [o("realm", 0, A, INV)];
    static ESP: [OptSpec; 1] = [o("espspi", 0, A, INV)];
    static AH: [OptSpec; 1] = [o("ahspi", 0, A, INV)];
    static DCCP: [OptSpec; 6] = [
        o("source-port", 0, A, INV),
        o("sport", 0, A, INV),
        o("destination-port", 1, A, INV),
        o("dport", 1, A, INV),
        o("dccp-types", 2, A, INV),
        o("dccp-option", 3, A, INV),
    ];
    static TIME: [OptSpec; 9] = [
        o("datestart", 0, A, 0),
        o("datestop", 1, A, 0),
        o("timestart", 2, A, 0),
        o("timestop", 3, A, 0),
        o("monthdays", 4, A, INV),
        o("weekdays", 5, A, INV),
        o("kerneltz", 6, N, 0),
        o("utc", 7, N, 0),
        o("contiguous", 8, N, 0),
    ];
    static STRING: [OptSpec; 6] = [
        o("algo", 0, A, 0),
        o("from", 1, A, 0),
        o("to", 2, A, 0),
        o("string", 3, A, INV),
        o("hex-string", 4, A, INV),
        o("icase", 5, N, 0),
    ];
    static CONNBYTES: [OptSpec; 3] = [
        o("connbytes", 0, A, INV),
        o("connbytes-dir", 1, A, 0),
        o("connbytes-mode", 2, A, 0),
    ];
    static QUOTA: [OptSpec; 1] = [o("quota", 0, A, INV)];
    static TCPMSS_M: [OptSpec; 1] = [o("mss", 0, A, INV)];
    static U32: [OptSpec; 1] = [o("u32", 0, A, INV)];
    static NFQUEUE: [OptSpec; 5] = [
        o("queue-num", 0, A, 0),
        o("queue-balance", 1, A, 0),
        o("queue-bypass", 2, N, 0),
        o("queue-cpu-fanout", 3, N, 0),
        o("fail-open", 4, N, 0),
    ];
    static SET_T: [OptSpec; 8] = [
        o("add-set", 0, A, TWO),
        o("del-set", 1, A, TWO),
        o("map-set", 2, A, TWO),
        o("timeout", 3, A, 0),
        o("exist", 4, N, 0),
        o("map-mark", 5, N, 0),
        o("map-prio", 6, N, 0),
        o("map-queue", 7, N, 0),
    ];
    static TPROXY: [OptSpec; 3] = [
        o("on-port", 0, A, 0),
        o("on-ip", 1, A, 0),
        o("tproxy-mark", 2, A, 0),
    ];
    static CLASSIFY: [OptSpec; 1] = [o("set-class", 0, A, 0)];
    static TEE: [OptSpec; 2] = [o("gateway", 0, A, 0), o("oif", 1, A, 0)];
    static NONE: [OptSpec; 0] = [];
    Some(match (target, name) {
        (false, "mac") => &MAC,
        (false, "owner") => &OWNER,
        (false, "physdev") => &PHYSDEV,
        (false, "set") => &SET,
        (false, "nfacct") => &NFACCT,
        (false, "hashlimit") => &HASHLIMIT,
        (false, "connlimit") => &CONNLIMIT,
        (false, "policy") => &POLICY,
        (false, "rpfilter") => &RPFILTER,
        (false, "helper") => &HELPER,
        (false, "socket") => &SOCKET,
        (false, "realm") => &REALM,
        (false, "esp") => &ESP,
        (false, "ah") => &AH,
        (false, "dccp") => &DCCP,
        (false, "time") => &TIME,
        (false, "string") => &STRING,
        (false, "connbytes") => &CONNBYTES,
        (false, "quota") => &QUOTA,
        (false, "tcpmss") => &TCPMSS_M,
        (false, "u32") => &U32,
        (true, "NFQUEUE") => &NFQUEUE,
        (true, "QUEUE") => &NONE,
        (true, "SET") => &SET_T,
        (true, "TPROXY") => &TPROXY,
        (true, "CLASSIFY") => &CLASSIFY,
        (true, "TEE") => &TEE,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Multiport,
    IpRange,
    AddrType,
    Comment,
    Mark,
    ConnMark,
    Length,
    Ttl,
    Tos,
    Dscp,
    PktType,
    State,
    Conntrack,
    Statistic,
    Limit,
    Recent,
    UnsupMatch,
    Standard,
    Reject,
    Log,
    Nflog,
    MarkT,
    ConnMarkT,
    TtlT,
    TosT,
    DscpT,
    TcpMss,
    Ct,
    NoTrack,
    Trace,
    Checksum,
    Snat,
    Dnat,
    Masquerade,
    Redirect,
    Netmap,
    UnsupTarget,
}

fn match_kind(name: &str) -> Option<(Kind, &'static [OptSpec])> {
    Some(match name {
        "tcp" => (Kind::Tcp, &TCP_OPTS),
        "udp" => (Kind::Udp, &UDP_OPTS),
        "sctp" => (Kind::Sctp, &SCTP_OPTS),
        "icmp" => (Kind::Icmp, &ICMP_OPTS),
        "multiport" => (Kind::Multiport, &MULTIPORT_OPTS),
        "iprange" => (Kind::IpRange, &IPRANGE_OPTS),
        "addrtype" => (Kind::AddrType, &ADDRTYPE_OPTS),
        "comment" => (Kind::Comment, &COMMENT_OPTS),
        "mark" => (Kind::Mark, &MARK_OPTS),
        "connmark" => (Kind::ConnMark, &MARK_OPTS),
        "length" => (Kind::Length, &LENGTH_OPTS),
        "ttl" => (Kind::Ttl, &TTL_OPTS),
        "tos" => (Kind::Tos, &TOS_OPTS),
        "dscp" => (Kind::Dscp, &DSCP_OPTS),
        "pkttype" => (Kind::PktType, &PKTTYPE_OPTS),
        "state" => (Kind::State, &STATE_OPTS),
        "conntrack" => (Kind::Conntrack, &CONNTRACK_OPTS),
        "statistic" => (Kind::Statistic, &STATISTIC_OPTS),
        "limit" => (Kind::Limit, &LIMIT_OPTS),
        "recent" => (Kind::Recent, &RECENT_OPTS),
        _ => return None,
    })
}

fn target_kind(name: &str) -> Option<(Kind, &'static [OptSpec])> {
    Some(match name {
        "ACCEPT" | "DROP" | "RETURN" => (Kind::Standard, &[]),
        "REJECT" => (Kind::Reject, &REJECT_OPTS),
        "LOG" => (Kind::Log, &LOG_OPTS),
        "NFLOG" => (Kind::Nflog, &NFLOG_OPTS),
        "MARK" => (Kind::MarkT, &MARKT_OPTS),
        "CONNMARK" => (Kind::ConnMarkT, &CONNMARKT_OPTS),
        "TTL" => (Kind::TtlT, &TTLT_OPTS),
        "TOS" => (Kind::TosT, &TOST_OPTS),
        "DSCP" => (Kind::DscpT, &DSCPT_OPTS),
        "TCPMSS" => (Kind::TcpMss, &TCPMSS_OPTS),
        "CT" => (Kind::Ct, &CT_OPTS),
        "NOTRACK" => (Kind::NoTrack, &[]),
        "TRACE" => (Kind::Trace, &[]),
        "CHECKSUM" => (Kind::Checksum, &CHECKSUM_OPTS),
        "SNAT" => (Kind::Snat, &SNAT_OPTS),
        "DNAT" => (Kind::Dnat, &DNAT_OPTS),
        "MASQUERADE" => (Kind::Masquerade, &MASQUERADE_OPTS),
        "REDIRECT" => (Kind::Redirect, &REDIRECT_OPTS),
        "NETMAP" => (Kind::Netmap, &NETMAP_OPTS),
        _ => return None,
    })
}

/// Extension state while its options are parsed.
#[derive(Debug, Clone)]
enum St {
    Tcp(TcpMatch),
    Udp(UdpMatch),
    Sctp(SctpMatch, bool),
    Icmp(IcmpMatch),
    Multiport(MultiportMatch),
    IpRange(IpRangeMatch),
    AddrType(AddrTypeMatch),
    Comment(String),
    Mark(u32, u32, bool),
    Length(u16, u16, bool),
    Ttl(TtlOp, u8),
    Tos(u8, u8, bool),
    Dscp(u8, bool),
    PktType(PktType, bool),
    State(u16, bool),
    Conntrack(ConntrackMatch),
    Statistic {
        nth: bool,
        probability: u32,
        every: u32,
        packet: u32,
        neg: bool,
    },
    Limit(LimitMatch),
    Recent(RecentMatch, Option<RecentOp>),
    None,
    Std(Target),
    Reject(RejectWith),
    Log(LogTarget),
    Nflog(NflogTarget),
    MarkT(u32, u32),
    ConnMarkT(CmInfo),
    TtlT(TtlAction),
    TosT(u8, u8),
    DscpT(u8),
    TcpMss(TcpMssAction),
    Ct(CtTarget, Option<String>),
    Nat(NatRange),
    Netmap(Ipv4Net),
}

/// `struct xt_connmark_tginfo2` while CONNMARK's options are parsed (mode 1 set, 2 save,
/// 3 restore).
#[derive(Debug, Clone, Copy)]
struct CmInfo {
    ctmark: u32,
    ctmask: u32,
    nfmask: u32,
    mode: u8,
    shift_right: bool,
    shift_bits: u8,
}

/// A loaded extension (match or target) and what its options set so far.
#[derive(Debug, Clone)]
struct Inst {
    kind: Kind,
    name: String,
    col: usize,
    spec: &'static [OptSpec],
    /// No option table known: options are grouped heuristically.
    heuristic: bool,
    /// Options given (`1 << id`).
    xflags: u32,
    /// Old-style extensions' own flags.
    oflags: u32,
    /// The option words as written (for unsupported extensions and listings).
    raw: Vec<String>,
    st: St,
}

fn initial_state(kind: Kind, name: &str) -> St {
    match kind {
        Kind::Tcp => St::Tcp(TcpMatch::default()),
        Kind::Udp => St::Udp(UdpMatch::default()),
        Kind::Sctp => St::Sctp(SctpMatch::default(), false),
        Kind::Icmp => St::Icmp(IcmpMatch {
            icmp_type: 0xff,
            code_min: 0,
            code_max: 0xff,
            neg: false,
        }),
        Kind::Multiport => St::Multiport(MultiportMatch {
            dir: MultiportDir::Destination,
            ports: Vec::new(),
            neg: false,
        }),
        Kind::IpRange => St::IpRange(IpRangeMatch {
            src: None,
            dst: None,
        }),
        Kind::AddrType => St::AddrType(AddrTypeMatch {
            src: None,
            dst: None,
            limit: None,
        }),
        Kind::Comment => St::Comment(String::new()),
        Kind::Mark | Kind::ConnMark => St::Mark(0, u32::MAX, false),
        Kind::Length => St::Length(0, 0, false),
        Kind::Ttl => St::Ttl(TtlOp::Eq, 0),
        Kind::Tos => St::Tos(0, 0xff, false),
        Kind::Dscp => St::Dscp(0, false),
        Kind::PktType => St::PktType(PktType::Unicast, false),
        Kind::State => St::State(0, false),
        Kind::Conntrack => St::Conntrack(ConntrackMatch::default()),
        Kind::Statistic => St::Statistic {
            nth: false,
            probability: 0,
            every: 1,
            packet: 0,
            neg: false,
        },
        Kind::Limit => St::Limit(LimitMatch {
            avg: 10000 * 3600 / 3,
            burst: 5,
            count: 3,
            per_secs: 3600,
        }),
        Kind::Recent => St::Recent(
            RecentMatch {
                op: RecentOp::Set,
                neg: false,
                name: "DEFAULT".into(),
                seconds: 0,
                reap: false,
                hitcount: 0,
                rttl: false,
                side: RecentSide::Source,
                mask: Ipv4Addr::BROADCAST,
            },
            None,
        ),
        Kind::Standard => St::Std(match name {
            "ACCEPT" => Target::Accept,
            "DROP" => Target::Drop,
            _ => Target::Return,
        }),
        Kind::Reject => St::Reject(RejectWith::PortUnreachable),
        Kind::Log => St::Log(LogTarget {
            level: 4,
            prefix: String::new(),
            flags: 0,
        }),
        Kind::Nflog => St::Nflog(NflogTarget {
            group: 0,
            prefix: String::new(),
            len: 0,
            size_given: false,
            threshold: 1,
        }),
        Kind::MarkT => St::MarkT(0, 0),
        Kind::ConnMarkT => St::ConnMarkT(CmInfo {
            ctmark: 0,
            ctmask: u32::MAX,
            nfmask: u32::MAX,
            mode: 0,
            shift_right: false,
            shift_bits: 0,
        }),
        Kind::TtlT => St::TtlT(TtlAction::Set(0)),
        Kind::TosT => St::TosT(0, 0),
        Kind::DscpT => St::DscpT(0),
        Kind::TcpMss => St::TcpMss(TcpMssAction::Set(0)),
        Kind::Ct => St::Ct(CtTarget::default(), None),
        Kind::Snat | Kind::Dnat | Kind::Masquerade | Kind::Redirect => St::Nat(NatRange::default()),
        Kind::Netmap => St::Netmap(Ipv4Net::ANY),
        _ => St::None,
    }
}

/// What an extension's option parser may look at besides its argument.
struct OptCtx {
    /// `-p` as parsed so far (0 = none) and whether it is negated.
    proto: u8,
    proto_inv: bool,
}

/// `xtables_parse_port(port, proto)`.
fn parse_port(s: &str, proto: &str, col: usize) -> Result<u16, LErr> {
    if let Some(v) = xt_strtoui(s, 0, 65535) {
        return Ok(v as u16);
    }
    if let Some(p) = service_port(s, Some(proto)) {
        return Ok(p);
    }
    lerr(col, format!("invalid port/service `{s}' specified"))
}

/// `parse_tcp_ports` / `parse_sctp_ports`.
fn parse_port_range_strict(s: &str, proto: &str, col: usize) -> Result<PortRange, LErr> {
    match s.find(':') {
        None => {
            let p = parse_port(s, proto, col)?;
            Ok(PortRange::single(p))
        }
        Some(i) => {
            let (a, b) = (&s[..i], &s[i + 1..]);
            let lo = if a.is_empty() {
                0
            } else {
                parse_port(a, proto, col)?
            };
            let hi = if b.is_empty() {
                65535
            } else {
                parse_port(b, proto, col)?
            };
            if lo > hi {
                return lerr(col, "invalid portrange (min > max)");
            }
            Ok(PortRange { lo, hi })
        }
    }
}

/// A service for `getaddrinfo(NULL, s)`: a decimal number (truncated to 16 bits, as glibc
/// does) or a tcp/udp service name.
fn getaddrinfo_port(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let (v, used) = strtoumax(b, 10);
    if used == b.len() {
        return Some(v.unwrap_or(u64::MAX) as u16);
    }
    service_port(s, None)
}

/// `xtopt_parse_mport` (XTTYPE_PORTRC): `a`, `a:b`, `a:`, `:b`.
fn parse_mport(s: &str, ext: &str, opt: &str, col: usize) -> Result<PortRange, LErr> {
    let mut r = [0u16, 65535];
    let mut n = 0;
    for part in s.split(':') {
        if n == 2 {
            return lerr(
                col,
                format!("{ext}: Too many components for option \"--{opt}\" (max: 2)"),
            );
        }
        if part.is_empty() {
            n += 1;
            continue;
        }
        let Some(v) = getaddrinfo_port(part) else {
            return lerr(
                col,
                format!("Port \"{part}\" does not resolve to anything."),
            );
        };
        r[n] = v;
        n += 1;
    }
    if n == 1 {
        r[1] = r[0];
    }
    Ok(PortRange { lo: r[0], hi: r[1] })
}

/// `xtopt_parse_mint`: up to two `:`-separated numbers (missing parts: 0 and max).
fn parse_mint(s: &str, max: u64, ext: &str, opt: &str, col: usize) -> Result<Vec<u64>, LErr> {
    let mut vals = Vec::new();
    let mut arg = s;
    loop {
        if vals.len() == 2 {
            return lerr(
                col,
                format!("{ext}: Too many components for option \"--{opt}\" (max: 2)"),
            );
        }
        let (v, rest) = if arg.is_empty() || arg.starts_with(':') {
            (if vals.len() == 1 { max } else { 0 }, arg)
        } else {
            match xt_strtoul_end(arg, 0, max) {
                Some(x) => x,
                None => {
                    return lerr(
                        col,
                        format!(
                            "{ext}: bad value for option \"--{opt}\" near \"{arg}\", or out of range (0-{max})."
                        ),
                    )
                }
            }
        };
        if !rest.is_empty() && !rest.starts_with(':') {
            return lerr(
                col,
                format!(
                    "{ext}: Argument to \"--{opt}\" has unexpected characters near \"{rest}\"."
                ),
            );
        }
        vals.push(v);
        match rest.strip_prefix(':') {
            Some(r) => arg = r,
            None => break,
        }
    }
    Ok(vals)
}

/// `xtopt_parse_int`.
fn parse_uint(s: &str, min: u64, max: u64, ext: &str, opt: &str, col: usize) -> Result<u64, LErr> {
    xt_strtoul(s, min, max).ok_or_else(|| LErr {
        col,
        msg: format!("{ext}: bad value for option \"--{opt}\", or out of range ({min}-{max})."),
    })
}

/// `xtables_parse_val_mask` (XTTYPE_MARKMASK32).
fn parse_markmask(s: &str, ext: &str, opt: &str, col: usize) -> Result<(u32, u32), LErr> {
    let bad = || LErr {
        col,
        msg: format!("{ext}: bad integer value for option \"--{opt}\", or out of range."),
    };
    let (v, rest) = xt_strtoul_end(s, 0, u64::from(u32::MAX)).ok_or_else(bad)?;
    if rest.is_empty() {
        return Ok((v as u32, u32::MAX));
    }
    let Some(m) = rest.strip_prefix('/') else {
        return lerr(
            col,
            format!("{ext}: trailing garbage after value for option \"--{opt}\"."),
        );
    };
    let (mv, rest) = xt_strtoul_end(m, 0, u64::from(u32::MAX)).ok_or_else(bad)?;
    if !rest.is_empty() {
        return lerr(
            col,
            format!("{ext}: trailing garbage after value for option \"--{opt}\"."),
        );
    }
    Ok((v as u32, mv as u32))
}

/// `xtopt_parse_tosmask`: `value[/mask]` or a symbolic name (mask `sym_mask`).
fn parse_tosmask(s: &str, sym_mask: u8, col: usize) -> Result<(u8, u8), LErr> {
    if xt_strtoul_end(s, 0, 255).is_some() {
        // tos_parse_numeric: the value's own result is not checked, only what follows it.
        let b = s.as_bytes();
        let (v, used) = strtoumax(b, 0);
        let value = v.unwrap_or(u64::MAX) as u8;
        let rest = s.get(used..).unwrap_or("");
        if rest.is_empty() {
            return Ok((value, 0xff));
        }
        if let Some(m) = rest.strip_prefix('/') {
            if let Some((mv, "")) = xt_strtoul_end(m, 0, 255) {
                return Ok((value, mv as u8));
            }
        }
        return lerr(col, format!("Illegal value: \"{s}\""));
    }
    const NAMES: [(&str, u8); 5] = [
        ("Minimize-Delay", 0x10),
        ("Maximize-Throughput", 0x08),
        ("Maximize-Reliability", 0x04),
        ("Minimize-Cost", 0x02),
        ("Normal-Service", 0x00),
    ];
    for (n, v) in NAMES {
        if n.eq_ignore_ascii_case(s) {
            return Ok((v, sym_mask));
        }
    }
    lerr(col, format!("Symbolic name \"{s}\" is unknown"))
}

/// `class_to_dscp`.
fn class_to_dscp(s: &str, col: usize) -> Result<u8, LErr> {
    const CLASSES: [(&str, u8); 22] = [
        ("CS0", 0x00),
        ("CS1", 0x08),
        ("CS2", 0x10),
        ("CS3", 0x18),
        ("CS4", 0x20),
        ("CS5", 0x28),
        ("CS6", 0x30),
        ("CS7", 0x38),
        ("BE", 0x00),
        ("AF11", 0x0a),
        ("AF12", 0x0c),
        ("AF13", 0x0e),
        ("AF21", 0x12),
        ("AF22", 0x14),
        ("AF23", 0x16),
        ("AF31", 0x1a),
        ("AF32", 0x1c),
        ("AF33", 0x1e),
        ("AF41", 0x22),
        ("AF42", 0x24),
        ("AF43", 0x26),
        ("EF", 0x2e),
    ];
    for (n, v) in CLASSES {
        if strncaseeq(s, n, n.len()) {
            return Ok(v);
        }
    }
    lerr(col, format!("Invalid DSCP value `{s}'"))
}

/// `xtopt_parse_host` for IPv4 without name resolution.
fn parse_host(s: &str, col: usize) -> Result<Ipv4Addr, LErr> {
    match inet_aton(s) {
        Some(a) => Ok(a),
        None => lerr(col, hostname_msg(s)),
    }
}

/// XTTYPE_HOSTMASK: `host[/len|/mask]`.
fn parse_hostmask(s: &str, ext: &str, opt: &str, col: usize) -> Result<Ipv4Net, LErr> {
    let Some(i) = s.find('/') else {
        return Ok(Ipv4Net::new(parse_host(s, col)?, Ipv4Addr::BROADCAST));
    };
    let addr = parse_host(&s[..i], col)?;
    let m = &s[i + 1..];
    let mask = match xt_strtoui(m, 0, 32) {
        Some(l) => Ipv4Addr::from(prefix_mask(l as u8)),
        None => match inet_aton(m) {
            Some(mask) => mask,
            None => {
                return lerr(
                    col,
                    format!(
                        "{ext}: bad value for option \"--{opt}\", neither a valid network mask nor valid CIDR (0-32)."
                    ),
                )
            }
        },
    };
    Ok(Ipv4Net::new(addr, mask))
}

/// `xtopt_parse_ethermac`: six groups of one or two hex digits.
fn valid_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// `parse_tcp_flag`: comma list of FIN SYN RST PSH ACK URG ALL NONE (case-insensitive).
fn parse_tcp_flag_list(s: &str, col: usize) -> Result<u8, LErr> {
    let mut v = 0u8;
    for f in s.split(',').filter(|f| !f.is_empty()) {
        let bit = match f.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => return lerr(col, format!("Unknown TCP flag `{f}'")),
        };
        v |= bit;
    }
    Ok(v)
}

/// `__parse_icmp`: a (prefix of a) name, or `type[/code[:code]]`.
fn parse_icmp(s: &str, col: usize) -> Result<(u8, u8, u8), LErr> {
    let mut found: Option<(&str, u8, u8, u8)> = None;
    for e in ICMP_NAMES {
        if !strncaseeq(e.0, s, s.len()) {
            continue;
        }
        if let Some(f) = found {
            return lerr(
                col,
                format!("Ambiguous ICMP type `{s}': `{}' or `{}'?", f.0, e.0),
            );
        }
        found = Some(e);
    }
    if let Some((_, t, lo, hi)) = found {
        return Ok((t, lo, hi));
    }
    let range = |s: &str| -> Option<(u32, u32, usize)> {
        let (a, rest) = xt_strtoul_end(s, 0, 255)?;
        let used = s.len() - rest.len();
        if let Some(r) = rest.strip_prefix(':') {
            let (b, rest2) = xt_strtoul_end(r, 0, 255)?;
            return Some((a as u32, b as u32, s.len() - rest2.len()));
        }
        Some((a as u32, a as u32, used))
    };
    let Some((t0, t1, used)) = range(s) else {
        return lerr(col, format!("Unknown ICMP type `{s}'"));
    };
    let rest = &s[used..];
    let (lo, hi) = if rest.is_empty() {
        (0, 255)
    } else if let Some(c) = rest.strip_prefix('/') {
        let Some((c0, c1, cused)) = range(c) else {
            return lerr(col, format!("Unknown ICMP code `{s}'"));
        };
        if let Some(ch) = c[cused..].chars().next() {
            return lerr(col, format!("unknown character {ch}"));
        }
        (c0, c1)
    } else {
        let ch = rest.chars().next().unwrap_or('?');
        return lerr(col, format!("unknown character {ch}"));
    };
    if t0 != t1 {
        return lerr(col, "ICMP type range not supported");
    }
    Ok((t0 as u8, lo as u8, hi as u8))
}

/// `parse_types` of addrtype: comma list of (prefixes of) RTN names.
fn parse_addrtypes(s: &str, col: usize) -> Result<u16, LErr> {
    let one = |t: &str| -> Option<u16> {
        rtn::NAMES
            .iter()
            .position(|n| strncaseeq(t, n, t.len()))
            .map(|i| 1u16 << i)
    };
    let mut mask = 0;
    let parts: Vec<&str> = s.split(',').collect();
    let last = parts.len() - 1;
    for (i, p) in parts.iter().enumerate() {
        match (p.is_empty(), one(p)) {
            (false, Some(b)) => mask |= b,
            _ => {
                let rest = parts[i..].join(",");
                return if i == last {
                    lerr(col, format!("addrtype: bad type \"{rest}\""))
                } else {
                    lerr(col, format!("addrtype: bad type `{rest}'"))
                };
            }
        }
    }
    Ok(mask)
}

/// `--state` / `--ctstate` lists.
fn parse_states(s: &str, conntrack: bool, col: usize) -> Result<u16, LErr> {
    let names: &[(&str, u16)] = if conntrack {
        &[
            ("INVALID", ctstate::INVALID),
            ("NEW", ctstate::NEW),
            ("ESTABLISHED", ctstate::ESTABLISHED),
            ("RELATED", ctstate::RELATED),
            ("UNTRACKED", ctstate::UNTRACKED),
            ("SNAT", ctstate::SNAT),
            ("DNAT", ctstate::DNAT),
        ]
    } else {
        &[
            ("INVALID", ctstate::INVALID),
            ("NEW", ctstate::NEW),
            ("ESTABLISHED", ctstate::ESTABLISHED),
            ("RELATED", ctstate::RELATED),
            ("UNTRACKED", ctstate::UNTRACKED),
        ]
    };
    let (what, opt) = if conntrack {
        ("ctstate", "--ctstate")
    } else {
        ("state", "--state")
    };
    let one = |t: &str| {
        names
            .iter()
            .find(|(n, _)| strncaseeq(t, n, t.len()))
            .map(|x| x.1)
    };
    let parts: Vec<&str> = s.split(',').collect();
    let mut mask = 0;
    let last = parts.len() - 1;
    for (i, p) in parts.iter().enumerate() {
        if i == last && p.is_empty() && !conntrack {
            return lerr(
                col,
                format!(
                    "\"{opt}\" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED"
                ),
            );
        }
        match (p.is_empty(), one(p)) {
            (false, Some(b)) => mask |= b,
            _ => {
                let rest = parts[i..].join(",");
                return lerr(col, format!("Bad {what} \"{rest}\""));
            }
        }
    }
    Ok(mask)
}

fn parse_ctstatus(s: &str, col: usize) -> Result<u32, LErr> {
    let names = [
        ("NONE", 0),
        ("EXPECTED", ctstatus::EXPECTED),
        ("SEEN_REPLY", ctstatus::SEEN_REPLY),
        ("ASSURED", ctstatus::ASSURED),
        ("CONFIRMED", ctstatus::CONFIRMED),
    ];
    let mut mask = 0;
    let parts: Vec<&str> = s.split(',').collect();
    for (i, p) in parts.iter().enumerate() {
        match names.iter().find(|(n, _)| strncaseeq(p, n, p.len())) {
            Some((_, b)) if !p.is_empty() => mask |= b,
            _ => {
                return lerr(col, format!("Bad ctstatus \"{}\"", parts[i..].join(",")));
            }
        }
    }
    Ok(mask)
}

/// `parse_rate` of libxt_limit: (avg, count, seconds).
fn parse_rate(s: &str, col: usize) -> Result<Option<(u32, u32, u32)>, LErr> {
    let mut mult: u32 = 1;
    if let Some(i) = s.find('/') {
        let unit = &s[i + 1..];
        if unit.is_empty() {
            return Ok(None);
        }
        let n = unit.len();
        mult = if strncaseeq(unit, "second", n) {
            1
        } else if strncaseeq(unit, "minute", n) {
            60
        } else if strncaseeq(unit, "hour", n) {
            3600
        } else if strncaseeq(unit, "day", n) {
            86400
        } else {
            return Ok(None);
        };
    }
    let r = c_atoi(s) as u32;
    if r == 0 {
        return Ok(None);
    }
    let avg = 10000u32.wrapping_mul(mult) / r;
    if avg == 0 {
        return lerr(col, format!("Rate too fast \"{s}\""));
    }
    Ok(Some((avg, r, mult)))
}

/// `parse_ports` of libxt_NAT.
fn nat_parse_ports(s: &str, portok: bool, r: &mut NatRange, col: usize) -> Result<(), LErr> {
    if !portok {
        return lerr(col, "Need TCP, UDP, SCTP or DCCP with port specification");
    }
    let (port, end) = match xt_strtoul_end(s, 0, 65535) {
        Some((v, rest)) => (v as u16, rest),
        None => match service_port(s, None) {
            Some(p) => (p, ""),
            None => return lerr(col, format!("Port `{s}' not valid")),
        },
    };
    let arg = match end.chars().next() {
        None => {
            r.ports = Some(PortRange::single(port));
            return Ok(());
        }
        Some('-') => &end[1..],
        Some(':') => return lerr(col, "Invalid port:port syntax - use dash"),
        Some(_) => return lerr(col, format!("Garbage after port value: `{end}'")),
    };
    let Some((maxport, end)) = xt_strtoul_end(arg, 0, 65535) else {
        return lerr(col, format!("Port `{arg}' not valid"));
    };
    let maxport = maxport as u16;
    if maxport < port {
        return lerr(col, format!("Port range `{arg}' funky"));
    }
    r.ports = Some(PortRange {
        lo: port,
        hi: maxport,
    });
    let base = match end.chars().next() {
        None => return Ok(()),
        Some('/') => &end[1..],
        Some(_) => return lerr(col, format!("Garbage after port range: `{end}'")),
    };
    let b = match xt_strtoul_end(base, 1, 65535) {
        Some((v, _)) => v as u16,
        None => match service_port(base, None) {
            Some(p) => p,
            None => return lerr(col, format!("Port `{base}' not valid")),
        },
    };
    r.base_port = Some(b);
    Ok(())
}

/// `parse_to` of libxt_NAT: `[addr[-addr]][:port[-port[/base]]]`.
fn nat_parse_to(s: &str, portok: bool, r: &mut NatRange, col: usize) -> Result<(), LErr> {
    if s.contains('[') {
        return lerr(col, "Invalid address format");
    }
    let mut colon = s.find(':');
    if let Some(c) = colon {
        if s[c + 1..].contains(':') {
            colon = None;
        }
    }
    let mut host = s;
    if let Some(c) = colon {
        nat_parse_ports(&s[c + 1..], portok, r, col)?;
        if c == 0 || c == 2 {
            return Ok(());
        }
        host = &s[..c];
    }
    let (a, b) = match host.find('-') {
        Some(d) => (&host[..d], Some(&host[d + 1..])),
        None => (host, None),
    };
    let lo = inet_pton4(a).ok_or_else(|| LErr {
        col,
        msg: format!("Bad IP address \"{a}\""),
    })?;
    let hi = match b {
        Some(b) => inet_pton4(b).ok_or_else(|| LErr {
            col,
            msg: format!("Bad IP address \"{b}\""),
        })?,
        None => lo,
    };
    r.addrs = Some((lo, hi));
    Ok(())
}

impl Inst {
    /// Handle option `id` (matched as `--name`).
    #[allow(clippy::too_many_arguments)]
    fn option(
        &mut self,
        id: u8,
        name: &str,
        arg: Option<&Tok>,
        invert: bool,
        opt_col: usize,
        ctx: &OptCtx,
        g: &mut Getopt,
        toks: &[Tok],
    ) -> Result<(), LErr> {
        let spec = self.spec.iter().find(|s| s.id == id && s.name == name);
        let flags = spec.map(|s| s.flags).unwrap_or(0);
        let excl = spec.map(|s| s.excl).unwrap_or(0);
        let bit = 1u32 << id;
        let ext = self.name.clone();
        let x6 = !matches!(
            self.kind,
            Kind::Tcp | Kind::Sctp | Kind::UnsupMatch | Kind::UnsupTarget
        );
        if x6 {
            if ((flags & MULTI) == 0 || excl & bit != 0) && self.xflags & bit != 0 {
                return lerr(
                    opt_col,
                    format!("{ext}: option \"--{name}\" can only be used once."),
                );
            }
            if invert && flags & INV == 0 {
                return lerr(
                    opt_col,
                    format!("{ext}: option \"--{name}\" cannot be inverted."),
                );
            }
        }
        let a = arg.map(|t| t.text.as_str()).unwrap_or("");
        let acol = arg.map(|t| t.col).unwrap_or(opt_col);
        // A second word (`--tcp-flags mask comp`).
        let mut second = |msg: &str| -> Result<Tok, LErr> {
            match g.has_arg(toks) {
                Some(t) => {
                    let t = t.clone();
                    g.optind += 1;
                    Ok(t)
                }
                None => lerr(opt_col, msg),
            }
        };
        match (&mut self.st, self.kind) {
            (St::Tcp(t), _) => match id {
                1 | 2 => {
                    let f = if id == 1 { 1 } else { 2 };
                    if self.oflags & f != 0 {
                        let o = if id == 1 {
                            "--source-port"
                        } else {
                            "--destination-port"
                        };
                        return lerr(opt_col, format!("Only one `{o}' allowed"));
                    }
                    let range = parse_port_range_strict(a, "tcp", acol)?;
                    let pm = (range != PortRange::ALL || invert)
                        .then_some(PortMatch { range, neg: invert });
                    if id == 1 {
                        t.sport = pm;
                    } else {
                        t.dport = pm;
                    }
                    self.oflags |= f;
                }
                3 | 4 => {
                    if self.oflags & 4 != 0 {
                        return lerr(opt_col, "Only one of `--syn' or `--tcp-flags'  allowed");
                    }
                    let (mask, comp) = if id == 3 {
                        (0x17, 0x02)
                    } else {
                        let c = second("--tcp-flags requires two args.")?;
                        self.raw.push(c.text.clone());
                        (
                            parse_tcp_flag_list(a, acol)?,
                            parse_tcp_flag_list(&c.text, c.col)?,
                        )
                    };
                    t.flags = Some(TcpFlags {
                        mask,
                        comp,
                        neg: invert,
                    });
                    self.oflags |= 4;
                }
                _ => {
                    if self.oflags & 8 != 0 {
                        return lerr(opt_col, "Only one `--tcp-option' allowed");
                    }
                    let Some(v) = xt_strtoui(a, 1, 255) else {
                        return lerr(acol, format!("Bad TCP option \"{a}\""));
                    };
                    t.option = Some((v as u8, invert));
                    self.oflags |= 8;
                }
            },
            (St::Sctp(t, chunks), _) => match id {
                1 | 2 => {
                    let f = if id == 1 { 1 } else { 2 };
                    if self.oflags & f != 0 {
                        let o = if id == 1 {
                            "--source-port"
                        } else {
                            "--destination-port"
                        };
                        return lerr(opt_col, format!("Only one `{o}' allowed"));
                    }
                    let range = parse_port_range_strict(a, "sctp", acol)?;
                    let pm = Some(PortMatch { range, neg: invert });
                    if id == 1 {
                        t.sport = pm;
                    } else {
                        t.dport = pm;
                    }
                    self.oflags |= f;
                }
                _ => {
                    if self.oflags & 4 != 0 {
                        return lerr(opt_col, "Only one `--chunk-types' allowed");
                    }
                    let c = second("--chunk-types requires two args")?;
                    self.raw.push(c.text);
                    *chunks = true;
                    self.oflags |= 4;
                }
            },
            (St::Udp(u), _) => {
                let range = parse_mport(a, &ext, name, acol)?;
                let pm =
                    (range != PortRange::ALL || invert).then_some(PortMatch { range, neg: invert });
                if id == 0 {
                    u.sport = pm;
                } else {
                    u.dport = pm;
                }
            }
            (St::Icmp(i), _) => {
                let (t, lo, hi) = parse_icmp(a, acol)?;
                *i = IcmpMatch {
                    icmp_type: t,
                    code_min: lo,
                    code_max: hi,
                    neg: invert,
                };
            }
            (St::Multiport(m), _) => {
                let proto = if ctx.proto_inv {
                    return lerr(
                        opt_col,
                        "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP",
                    );
                } else {
                    match ctx.proto {
                        6 => "tcp",
                        17 => "udp",
                        136 => "udplite",
                        132 => "sctp",
                        33 => "dccp",
                        0 => return lerr(
                            opt_col,
                            "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'",
                        ),
                        _ => return lerr(
                            opt_col,
                            "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP",
                        ),
                    }
                };
                let mut ports = Vec::new();
                let mut slots = 0usize;
                let items: Vec<&str> = a.split(',').collect();
                for item in &items {
                    if slots >= 15 {
                        return lerr(acol, "too many ports specified");
                    }
                    match item.find(':') {
                        Some(c) => {
                            if slots == 14 {
                                return lerr(acol, "too many ports specified");
                            }
                            let lo = parse_port(&item[..c], proto, acol)?;
                            let hi = parse_port(&item[c + 1..], proto, acol)?;
                            if lo >= hi {
                                return lerr(acol, "invalid portrange specified");
                            }
                            ports.push(PortRange { lo, hi });
                            slots += 2;
                        }
                        None => {
                            ports.push(PortRange::single(parse_port(item, proto, acol)?));
                            slots += 1;
                        }
                    }
                }
                m.ports = ports;
                m.dir = match id {
                    0 => MultiportDir::Source,
                    1 => MultiportDir::Destination,
                    _ => MultiportDir::Either,
                };
                m.neg = invert;
            }
            (St::IpRange(r), _) => {
                let opt = if id == 0 {
                    "--src-range"
                } else {
                    "--dst-range"
                };
                let bad = |v: &str| LErr {
                    col: acol,
                    msg: format!("iprange: Bad value for \"{opt}\" option: \"{v}\""),
                };
                let (lo_s, hi_s) = match a.find('-') {
                    Some(d) => (&a[..d], &a[d + 1..]),
                    None => (a, a),
                };
                let lo = numeric_to_ipaddr(lo_s).ok_or_else(|| bad(lo_s))?;
                let hi = numeric_to_ipaddr(hi_s).ok_or_else(|| bad(hi_s))?;
                let v = Some(AddrRange {
                    lo,
                    hi,
                    neg: invert,
                });
                if id == 0 {
                    r.src = v;
                } else {
                    r.dst = v;
                }
            }
            (St::AddrType(t), _) => match id {
                0 | 1 => {
                    let types = parse_addrtypes(a, acol)?;
                    if id == 0 {
                        let prev = t.src.map(|x| x.0).unwrap_or(0);
                        t.src = Some((prev | types, invert || t.src.is_some_and(|x| x.1)));
                    } else {
                        let prev = t.dst.map(|x| x.0).unwrap_or(0);
                        t.dst = Some((prev | types, invert || t.dst.is_some_and(|x| x.1)));
                    }
                }
                2 => t.limit = Some(AddrTypeLimit::In),
                _ => t.limit = Some(AddrTypeLimit::Out),
            },
            (St::Comment(c), _) => {
                let mut s = a.to_string();
                while s.len() > 255 {
                    s.pop();
                }
                *c = s;
            }
            (St::Mark(v, m, n), _) => {
                let (value, mask) = parse_markmask(a, &ext, name, acol)?;
                *v = value;
                *m = mask;
                *n = invert;
            }
            (St::Length(lo, hi, n), _) => {
                let vals = parse_mint(a, 65535, &ext, name, acol)?;
                *lo = vals.first().copied().unwrap_or(0) as u16;
                *hi = vals.get(1).copied().unwrap_or(u64::from(*lo)) as u16;
                *n = invert;
            }
            (St::Ttl(op, v), _) => {
                *v = parse_uint(a, 0, 255, &ext, name, acol)? as u8;
                *op = match id {
                    1 => TtlOp::Lt,
                    2 => TtlOp::Gt,
                    _ if invert => TtlOp::Ne,
                    _ => TtlOp::Eq,
                };
            }
            (St::Tos(v, m, n), _) => {
                let (value, mask) = parse_tosmask(a, 0x3f, acol)?;
                *v = value;
                *m = mask;
                *n = invert;
            }
            (St::Dscp(d, n), _) => {
                *d = if id == 0 {
                    parse_uint(a, 0, 63, &ext, name, acol)? as u8
                } else {
                    class_to_dscp(a, acol)?
                };
                *n = invert;
            }
            (St::PktType(k, n), _) => {
                *k = match a.to_ascii_lowercase().as_str() {
                    "unicast" | "host" => PktType::Unicast,
                    "broadcast" | "bcast" => PktType::Broadcast,
                    "multicast" | "mcast" => PktType::Multicast,
                    "otherhost" => PktType::OtherHost,
                    _ => return lerr(acol, format!("Bad packet type '{a}'")),
                };
                *n = invert;
            }
            (St::State(s, n), _) => {
                *s = parse_states(a, false, acol)?;
                *n = invert;
            }
            (St::Conntrack(c), _) => match id {
                0 => c.state = Some((parse_states(a, true, acol)?, invert)),
                1 => {
                    let Some(p) = parse_protocol(a) else {
                        return lerr(acol, format!("unknown protocol \"{a}\" specified"));
                    };
                    c.proto = Some((p, invert));
                }
                2..=5 => {
                    let net = parse_hostmask(a, &ext, name, acol)?;
                    let v = Some(NetMatch { net, neg: invert });
                    match id {
                        2 => c.orig_src = v,
                        3 => c.orig_dst = v,
                        4 => c.repl_src = v,
                        _ => c.repl_dst = v,
                    }
                }
                6..=9 => {
                    let range = parse_mport(a, &ext, name, acol)?;
                    let v = Some(PortMatch { range, neg: invert });
                    match id {
                        6 => c.orig_src_port = v,
                        7 => c.orig_dst_port = v,
                        8 => c.repl_src_port = v,
                        _ => c.repl_dst_port = v,
                    }
                }
                10 => c.status = Some((parse_ctstatus(a, acol)?, invert)),
                11 => {
                    let vals = parse_mint(a, u64::from(u32::MAX), &ext, name, acol)?;
                    let lo = vals.first().copied().unwrap_or(0) as u32;
                    let hi = vals.get(1).map(|v| *v as u32).unwrap_or(lo);
                    c.expire = Some((lo, hi, invert));
                }
                _ => {
                    c.dir = Some(if a.eq_ignore_ascii_case("ORIGINAL") {
                        CtDir::Original
                    } else if a.eq_ignore_ascii_case("REPLY") {
                        CtDir::Reply
                    } else {
                        return lerr(
                            acol,
                            format!("conntrack: Bad value for \"--ctdir\" option: \"{a}\""),
                        );
                    })
                }
            },
            (
                St::Statistic {
                    nth,
                    probability,
                    every,
                    packet,
                    neg,
                },
                _,
            ) => {
                if invert {
                    *neg = true;
                }
                match id {
                    0 => {
                        *nth = match a {
                            "random" => false,
                            "nth" => true,
                            _ => return lerr(acol, format!("Bad mode \"{a}\"")),
                        }
                    }
                    1 => {
                        let t = a.trim_start_matches(|c: char| c.is_ascii() && c_isspace(c as u8));
                        let p: f64 = match t.parse::<f64>() {
                            Ok(p) if p.is_nan() || (0.0..=1.0).contains(&p) => p,
                            _ => {
                                return lerr(
                                    acol,
                                    "statistic: bad value for option \"--probability\", or out of range (0-1).",
                                )
                            }
                        };
                        let v = (p * f64::from(0x8000_0000u32)).round();
                        *probability = if v.is_nan() { 0 } else { v as u32 };
                    }
                    2 => *every = parse_uint(a, 1, u64::from(u32::MAX), &ext, name, acol)? as u32,
                    _ => *packet = parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol)? as u32,
                }
            }
            (St::Limit(l), _) => {
                if id == 0 {
                    match parse_rate(a, acol)? {
                        Some((avg, count, per)) => {
                            l.avg = avg;
                            l.count = count;
                            l.per_secs = per;
                        }
                        None => return lerr(acol, format!("bad rate \"{a}\"'")),
                    }
                } else {
                    l.burst = parse_uint(a, 0, 10000, &ext, name, acol)? as u32;
                }
            }
            (St::Recent(r, op), _) => match id {
                0..=3 => {
                    *op = Some(match id {
                        0 => RecentOp::Set,
                        1 => RecentOp::Check,
                        2 => RecentOp::Update,
                        _ => RecentOp::Remove,
                    });
                    if invert {
                        r.neg = true;
                    }
                }
                4 => r.seconds = parse_uint(a, 1, u64::from(u32::MAX), &ext, name, acol)? as u32,
                5 => r.reap = true,
                6 => r.hitcount = parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol)? as u32,
                7 => r.rttl = true,
                8 => {
                    let mut s = a.to_string();
                    while s.len() > 199 {
                        s.pop();
                    }
                    r.name = s;
                }
                9 => r.side = RecentSide::Source,
                10 => r.side = RecentSide::Dest,
                _ => r.mask = parse_host(a, acol)?,
            },
            (St::Reject(w), _) => {
                const TABLE: [(&str, &str, RejectWith); 8] = [
                    (
                        "icmp-net-unreachable",
                        "net-unreach",
                        RejectWith::NetUnreachable,
                    ),
                    (
                        "icmp-host-unreachable",
                        "host-unreach",
                        RejectWith::HostUnreachable,
                    ),
                    (
                        "icmp-proto-unreachable",
                        "proto-unreach",
                        RejectWith::ProtoUnreachable,
                    ),
                    (
                        "icmp-port-unreachable",
                        "port-unreach",
                        RejectWith::PortUnreachable,
                    ),
                    (
                        "icmp-net-prohibited",
                        "net-prohib",
                        RejectWith::NetProhibited,
                    ),
                    (
                        "icmp-host-prohibited",
                        "host-prohib",
                        RejectWith::HostProhibited,
                    ),
                    ("tcp-reset", "tcp-rst", RejectWith::TcpReset),
                    (
                        "icmp-admin-prohibited",
                        "admin-prohib",
                        RejectWith::AdminProhibited,
                    ),
                ];
                let n = a.len();
                match TABLE
                    .iter()
                    .find(|(name, alias, _)| strncaseeq(name, a, n) || strncaseeq(alias, a, n))
                {
                    Some((_, _, v)) => *w = *v,
                    None => return lerr(acol, format!("unknown reject type \"{a}\"")),
                }
            }
            (St::Log(l), _) => match id {
                6 => {
                    l.level = match xt_strtoui(a, 0, 7) {
                        Some(v) => v as u8,
                        None => match a {
                            "emerg" | "panic" => 0,
                            "alert" => 1,
                            "crit" => 2,
                            "error" => 3,
                            "warning" => 4,
                            "notice" => 5,
                            "info" => 6,
                            "debug" => 7,
                            _ => return lerr(acol, format!("log level \"{a}\" unknown")),
                        },
                    }
                }
                7 => {
                    if a.is_empty() {
                        return lerr(acol, "Argument must have a minimum length of 1 characters");
                    }
                    if a.contains('\n') {
                        return lerr(acol, "Newlines not allowed in --log-prefix");
                    }
                    let mut s = a.to_string();
                    while s.len() > 29 {
                        s.pop();
                    }
                    l.prefix = s;
                }
                _ => l.flags |= 1 << id,
            },
            (St::Nflog(n), _) => match id {
                0 => n.group = parse_uint(a, 0, 65535, &ext, name, acol)? as u16,
                1 => {
                    if a.is_empty() {
                        return lerr(acol, "Argument must have a minimum length of 1 characters");
                    }
                    if a.contains('\n') {
                        return lerr(acol, "Newlines not allowed in --log-prefix");
                    }
                    // iptables-nft keeps the whole prefix (NF_LOG_PREFIXLEN - 1 bytes).
                    let mut s = a.to_string();
                    while s.len() > 127 {
                        s.pop();
                    }
                    n.prefix = s;
                }
                2 => {
                    // --nflog-range never worked; iptables-nft drops it.
                    parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol)?;
                }
                3 => {
                    n.len = parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol)? as u32;
                    n.size_given = true;
                }
                _ => n.threshold = parse_uint(a, 0, 65535, &ext, name, acol)? as u16,
            },
            (St::MarkT(v, m), _) => {
                let u = |a: &str| parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol);
                match id {
                    4 => (*v, *m) = parse_markmask(a, &ext, name, acol)?,
                    0 => {
                        let (val, mask) = parse_markmask(a, &ext, name, acol)?;
                        (*v, *m) = (val, val | mask);
                    }
                    1 => (*v, *m) = (0, !(u(a)? as u32)),
                    2 => {
                        let x = u(a)? as u32;
                        (*v, *m) = (x, x);
                    }
                    _ => (*v, *m) = (u(a)? as u32, 0),
                }
            }
            (St::ConnMarkT(c), _) => {
                let u = |a: &str| parse_uint(a, 0, u64::from(u32::MAX), &ext, name, acol);
                match id {
                    8 => {
                        let (v, m) = parse_markmask(a, &ext, name, acol)?;
                        (c.mode, c.ctmark, c.ctmask) = (1, v, m);
                    }
                    0 => {
                        let (v, m) = parse_markmask(a, &ext, name, acol)?;
                        (c.mode, c.ctmark, c.ctmask) = (1, v, v | m);
                    }
                    3 => {
                        let x = u(a)? as u32;
                        (c.mode, c.ctmark, c.ctmask) = (1, 0, !x);
                    }
                    4 => {
                        let x = u(a)? as u32;
                        (c.mode, c.ctmark, c.ctmask) = (1, x, x);
                    }
                    5 => {
                        let x = u(a)? as u32;
                        (c.mode, c.ctmark, c.ctmask) = (1, x, 0);
                    }
                    1 => c.mode = 2,
                    2 => c.mode = 3,
                    6 | 7 => {
                        c.shift_right = id == 7;
                        c.shift_bits = parse_uint(a, 0, 32, &ext, name, acol)? as u8;
                    }
                    9 => c.ctmask = u(a)? as u32,
                    10 => c.nfmask = u(a)? as u32,
                    _ => {
                        let x = u(a)? as u32;
                        (c.nfmask, c.ctmask) = (x, x);
                    }
                }
            }
            (St::TtlT(t), _) => {
                let min = if id == 0 { 0 } else { 1 };
                let v = parse_uint(a, min, 255, &ext, name, acol)? as u8;
                *t = match id {
                    0 => TtlAction::Set(v),
                    1 => TtlAction::Inc(v),
                    _ => TtlAction::Dec(v),
                };
            }
            (St::TosT(v, m), _) => {
                let u = |a: &str| parse_uint(a, 0, 255, &ext, name, acol);
                match id {
                    0 => (*v, *m) = parse_tosmask(a, 0x3f, acol)?,
                    1 => (*v, *m) = (0, !(u(a)? as u8)),
                    2 => {
                        let x = u(a)? as u8;
                        (*v, *m) = (x, x);
                    }
                    _ => (*v, *m) = (u(a)? as u8, 0),
                }
            }
            (St::DscpT(d), _) => {
                *d = if id == 0 {
                    parse_uint(a, 0, 63, &ext, name, acol)? as u8
                } else {
                    class_to_dscp(a, acol)?
                };
            }
            (St::TcpMss(m), _) => {
                *m = if id == 0 {
                    TcpMssAction::Set(parse_uint(a, 0, 65535 - 20, &ext, name, acol)? as u16)
                } else {
                    TcpMssAction::ClampToPmtu
                };
            }
            (St::Ct(c, timeout), _) => match id {
                0 => c.notrack = true,
                1 => {
                    let mut s = a.to_string();
                    while s.len() > 15 {
                        s.pop();
                    }
                    c.helper = Some(s);
                }
                2 => {
                    let mut s = a.to_string();
                    while s.len() > 31 {
                        s.pop();
                    }
                    *timeout = Some(s);
                }
                3 | 4 => {
                    let tbl: &[(&str, u32)] = if id == 3 { &CT_EVENTS } else { &EXP_EVENTS };
                    let mut mask = 0;
                    for e in a.split(',') {
                        match tbl.iter().find(|(n, _)| *n == e) {
                            Some((_, b)) => mask |= 1 << b,
                            None => return lerr(acol, format!("Unknown event type \"{e}\"")),
                        }
                    }
                    if id == 3 {
                        c.ct_events = mask;
                    } else {
                        c.exp_events = mask;
                    }
                }
                _ => {
                    let mut z = c.zone.unwrap_or(CtZone {
                        id: 0,
                        from_mark: false,
                        orig_only: false,
                        reply_only: false,
                    });
                    if id == 6 {
                        z.orig_only = true;
                    }
                    if id == 7 {
                        z.reply_only = true;
                    }
                    z.id = 0;
                    if a.eq_ignore_ascii_case("mark") {
                        z.from_mark = true;
                    } else {
                        match xt_strtoul(a, 0, 65535) {
                            Some(v) => z.id = v as u16,
                            None => return lerr(acol, format!("Cannot parse {a} as a zone ID")),
                        }
                    }
                    c.zone = Some(z);
                }
            },
            (St::Nat(r), kind) => {
                let portok = matches!(ctx.proto, 6 | 17 | 132 | 33 | 1);
                match id {
                    0 | 1 => {
                        let mut nr = NatRange::default();
                        nat_parse_to(a, portok, &mut nr, acol)?;
                        r.addrs = nr.addrs;
                        r.ports = nr.ports;
                        if kind == Kind::Dnat {
                            r.base_port = nr.base_port;
                        }
                    }
                    2 => {
                        let mut nr = NatRange::default();
                        nat_parse_ports(a, portok, &mut nr, acol)?;
                        r.ports = nr.ports;
                        if kind == Kind::Redirect && nr.base_port.is_some() {
                            self.oflags |= 1;
                        }
                    }
                    3 => r.random = true,
                    4 => r.random_fully = true,
                    _ => r.persistent = true,
                }
            }
            (St::Netmap(n), _) => {
                let net = parse_hostmask(a, &ext, name, acol)?;
                *n = net;
            }
            (St::None, _) => {
                // An unsupported extension with an option table: group its words, and check
                // what the kernel corpus shows must be checked.
                if flags & TWO != 0 {
                    let c = second(&format!("--{name} requires two args."))?;
                    self.raw.push(c.text);
                }
                if self.kind == Kind::UnsupMatch && ext == "mac" && !valid_mac(a) {
                    return lerr(acol, "Invalid MAC address specified.");
                }
            }
            (St::Std(_), _) => {}
        }
        self.xflags |= bit;
        Ok(())
    }

    /// The extension's final check (`x6_fcheck` then the option table's constraints).
    fn finish(&mut self, col: usize) -> Result<(), LErr> {
        let ext = self.name.clone();
        let x = self.xflags;
        let err = |m: String| lerr(col, m);
        match (&mut self.st, self.kind) {
            (St::Multiport(_), _) if x == 0 => return err("multiport expection an option".into()),
            (St::IpRange(_), _) if x == 0 => {
                return err("iprange match: You must specify `--src-range' or `--dst-range'".into())
            }
            (St::AddrType(_), _) if x & 3 == 0 => {
                return err("addrtype: you must specify --src-type or --dst-type".into())
            }
            (St::Ttl(..), _) if x & 7 == 0 => {
                return err(
                    "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt".into(),
                )
            }
            (St::Dscp(..), _) if x == 0 => {
                return err("DSCP match: Parameter --dscp is required".into())
            }
            (St::Conntrack(_), _) if x == 0 => {
                return err("conntrack: At least one option is required".into())
            }
            (
                St::Statistic {
                    nth, every, packet, ..
                },
                _,
            ) => {
                if !*nth && x & 2 == 0 {
                    return err("--probability must be specified when using random mode".into());
                }
                if *nth && x & 0xc == 0 {
                    return err("--every and --packet must be specified when using nth mode".into());
                }
                if *nth && *packet > every.saturating_sub(1) {
                    return err("the --packet p must be 0 <= p <= n-1".into());
                }
            }
            (St::Recent(r, op), _) => match op {
                Some(o) => r.op = *o,
                None => return err(
                    "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'"
                        .into(),
                ),
            },
            (St::MarkT(..), _) if x == 0 => {
                return err(
                    "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required"
                        .into(),
                )
            }
            (St::ConnMarkT(_), _) if x & CM_OPS == 0 => {
                return err("CONNMARK target: No operation specified".into())
            }
            (St::TtlT(_), _) if x == 0 => return err("TTL: You must specify an action".into()),
            (St::TosT(..), _) if x == 0 => return err("TOS: An action is required".into()),
            (St::DscpT(_), _) if x == 0 => {
                return err("DSCP target: Parameter --set-dscp is required".into())
            }
            (St::TcpMss(_), _) if x == 0 => {
                return err("TCPMSS target: At least one parameter is required".into())
            }
            (St::Nat(_), Kind::Redirect) if self.oflags & 1 != 0 => {
                return err("Shifted portmap ranges not supported with this kernel".into())
            }
            _ => {}
        }
        let x6 = !matches!(
            self.kind,
            Kind::Tcp | Kind::Sctp | Kind::UnsupMatch | Kind::UnsupTarget
        );
        if !x6 {
            return Ok(());
        }
        for e in self.spec {
            let eb = 1u32 << e.id;
            if e.flags & MAND != 0 && x & eb == 0 {
                return err(format!("{ext}: option \"--{}\" must be specified", e.name));
            }
            if x & eb == 0 {
                continue;
            }
            for i in 0..32u8 {
                if i == e.id {
                    continue;
                }
                let Some(other) = self.spec.iter().find(|s| s.id == i) else {
                    continue;
                };
                let ob = 1u32 << i;
                if e.also & ob != 0 && x & ob == 0 {
                    return err(format!(
                        "{ext}: option \"--{}\" also requires \"--{}\".",
                        e.name, other.name
                    ));
                }
                if e.excl & ob != 0 && x & (eb | ob) == eb | ob {
                    return err(format!(
                        "{ext}: option \"--{}\" cannot be used together with \"--{}\".",
                        e.name, other.name
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A finished extension: a match or a target.
enum Built {
    M(Match),
    T(Target),
}

fn build(inst: Inst) -> Built {
    let loc_col = inst.col;
    let unsup_m = |inst: &Inst, reason: String| {
        Built::M(Match::Unsupported {
            module: inst.name.clone(),
            options: inst.raw.clone(),
            loc: Loc {
                line: 0,
                column: loc_col,
            },
            reason,
        })
    };
    let unsup_t = |inst: &Inst, reason: String| {
        Built::T(Target::Unsupported {
            target: inst.name.clone(),
            options: inst.raw.clone(),
            loc: Loc {
                line: 0,
                column: loc_col,
            },
            reason,
        })
    };
    match (inst.st.clone(), inst.kind) {
        (St::Tcp(t), _) => Built::M(Match::Tcp(t)),
        (St::Udp(u), _) => Built::M(Match::Udp(u)),
        (St::Sctp(_, true), _) => unsup_m(
            &inst,
            "with --chunk-types is not supported yet (only --sport/--dport are)".into(),
        ),
        (St::Sctp(s, false), _) => Built::M(Match::Sctp(s)),
        (St::Icmp(i), _) => Built::M(Match::Icmp(i)),
        (St::Multiport(m), _) => Built::M(Match::Multiport(m)),
        (St::IpRange(r), _) => Built::M(Match::IpRange(r)),
        (St::AddrType(a), _) => Built::M(Match::AddrType(a)),
        (St::Comment(c), _) => Built::M(Match::Comment(c)),
        (St::Mark(value, mask, neg), Kind::Mark) => Built::M(Match::Mark { value, mask, neg }),
        (St::Mark(value, mask, neg), _) => Built::M(Match::ConnMark { value, mask, neg }),
        (St::Length(min, max, neg), _) => Built::M(Match::Length { min, max, neg }),
        (St::Ttl(op, value), _) => Built::M(Match::Ttl { op, value }),
        (St::Tos(value, mask, neg), _) => Built::M(Match::Tos { value, mask, neg }),
        (St::Dscp(dscp, neg), _) => Built::M(Match::Dscp { dscp, neg }),
        (St::PktType(kind, neg), _) => Built::M(Match::PktType { kind, neg }),
        (St::State(states, neg), _) => Built::M(Match::State { states, neg }),
        (St::Conntrack(c), _) => Built::M(Match::Conntrack(c)),
        (
            St::Statistic {
                nth,
                probability,
                every,
                packet,
                neg,
            },
            _,
        ) => Built::M(Match::Statistic(StatisticMatch {
            mode: if nth {
                StatisticMode::Nth { every, packet }
            } else {
                StatisticMode::Random { probability }
            },
            neg,
        })),
        (St::Limit(l), _) => Built::M(Match::Limit(l)),
        (St::Recent(r, _), _) => Built::M(Match::Recent(r)),
        (St::None, Kind::UnsupMatch) => {
            let known = UNSUPPORTED_MATCHES.contains(&inst.name.as_str());
            let reason = unsupported_match_reason(&inst.name, known);
            unsup_m(&inst, reason)
        }
        (St::None, Kind::NoTrack) => Built::T(Target::NoTrack),
        (St::None, Kind::Trace) => Built::T(Target::Trace),
        (St::None, Kind::Checksum) => Built::T(Target::Checksum),
        (St::None, _) => {
            let reason = unsupported_target_reason(&inst.name);
            unsup_t(&inst, reason)
        }
        (St::Std(t), _) => Built::T(t),
        (St::Reject(w), _) => Built::T(Target::Reject(w)),
        (St::Log(l), _) => Built::T(Target::Log(l)),
        (St::Nflog(n), _) => Built::T(Target::Nflog(n)),
        (St::MarkT(value, mask), _) => Built::T(Target::Mark { value, mask }),
        (St::ConnMarkT(c), _) => Built::T(Target::ConnMark(ConnmarkTarget {
            op: match c.mode {
                2 => ConnmarkOp::Save {
                    nfmask: c.nfmask,
                    ctmask: c.ctmask,
                },
                3 => ConnmarkOp::Restore {
                    nfmask: c.nfmask,
                    ctmask: c.ctmask,
                },
                _ => ConnmarkOp::Set {
                    value: c.ctmark,
                    mask: c.ctmask,
                },
            },
            shift_right: c.shift_right,
            shift_bits: c.shift_bits,
        })),
        (St::TtlT(t), _) => Built::T(Target::Ttl(t)),
        (St::TosT(value, mask), _) => Built::T(Target::Tos { value, mask }),
        (St::DscpT(d), _) => Built::T(Target::Dscp(d)),
        (St::TcpMss(m), _) => Built::T(Target::TcpMss(m)),
        (St::Ct(_, Some(_)), _) => {
            let reason = unsupported_target_reason("CT");
            unsup_t(&inst, reason)
        }
        (St::Ct(c, None), _) => Built::T(Target::Ct(c)),
        (St::Nat(r), Kind::Snat) => Built::T(Target::Snat(r)),
        (St::Nat(r), Kind::Dnat) => Built::T(Target::Dnat(r)),
        (St::Nat(r), Kind::Masquerade) => Built::T(Target::Masquerade(NatRange {
            addrs: None,
            base_port: None,
            persistent: false,
            ..r
        })),
        (St::Nat(r), _) => Built::T(Target::Redirect(NatRange {
            addrs: None,
            base_port: None,
            persistent: false,
            random_fully: false,
            ..r
        })),
        (St::Netmap(n), _) => Built::T(Target::Netmap(n)),
    }
}

// Commands (`CMD_*`) and options (`OPT_*`) in iptables' bit order.
const CMD_INSERT: u32 = 1;
const CMD_DELETE: u32 = 2;
const CMD_DELETE_NUM: u32 = 4;
const CMD_REPLACE: u32 = 8;
const CMD_APPEND: u32 = 16;
const CMD_LIST: u32 = 32;
const CMD_FLUSH: u32 = 64;
const CMD_ZERO: u32 = 128;
const CMD_NEW_CHAIN: u32 = 256;
const CMD_DELETE_CHAIN: u32 = 512;
const CMD_SET_POLICY: u32 = 1024;
const CMD_RENAME_CHAIN: u32 = 2048;
const CMD_LIST_RULES: u32 = 4096;
const CMD_ZERO_NUM: u32 = 8192;
const CMD_CHECK: u32 = 16384;
const CMD_CHARS: [char; 15] = [
    'I', 'D', 'D', 'R', 'A', 'L', 'F', 'Z', 'N', 'X', 'P', 'E', 'S', 'Z', 'C',
];

const OPT_CHARS: [char; 12] = ['n', 's', 'd', 'p', 'j', 'v', 'x', 'i', 'o', '0', 'c', 'f'];
const OPT_NUMERIC: u32 = 1;
const OPT_SOURCE: u32 = 2;
const OPT_DESTINATION: u32 = 4;
const OPT_PROTOCOL: u32 = 8;
const OPT_JUMP: u32 = 16;
const OPT_VERBOSE: u32 = 32;
const OPT_EXPANDED: u32 = 64;
const OPT_VIANAMEIN: u32 = 128;
const OPT_VIANAMEOUT: u32 = 256;
const OPT_LINENUMBERS: u32 = 512;
const OPT_COUNTERS: u32 = 1024;
const OPT_FRAGMENT: u32 = 2048;

/// `commands_v_options`: for each command, the options that are illegal with it.
fn illegal_options(cmd_index: usize) -> &'static str {
    // Columns: n s d p j v x i o 0 c f ('x' = illegal).
    const T: [&str; 15] = [
        "x     x  x  ", // INSERT
        "x     x  xx ", // DELETE
        "xxxxx xxxxxx", // DELETE_NUM
        "x     x  x  ", // REPLACE
        "x     x  x  ", // APPEND
        " xxxx  xx xx", // LIST
        "xxxxx xxxxxx", // FLUSH
        "xxxxx xxxxxx", // ZERO
        "xxxxx xxxxxx", // NEW_CHAIN
        "xxxxx xxxxxx", // DEL_CHAIN
        "xxxxx xxxx x", // SET_POLICY
        "xxxxx xxxxxx", // RENAME
        "xxxxx xxxxxx", // LIST_RULES
        "xxxxx xxxxxx", // ZERO_NUM
        "x     x  xx ", // CHECK
    ];
    T.get(cmd_index).copied().unwrap_or("")
}

fn cmd2char(cmd: u32) -> char {
    let i = cmd.trailing_zeros() as usize;
    CMD_CHARS.get(i).copied().unwrap_or('?')
}

/// A rule line parsed the way `do_parse` does.
#[derive(Default)]
struct Cmd {
    command: u32,
    cmd_col: usize,
    chain: Option<Tok>,
    rulenum: Option<(u32, usize)>,
    newname: Option<Tok>,
    policy: Option<Tok>,
    options: u32,
    proto: Option<(String, u8, bool, usize)>,
    proto_used: bool,
    src: Option<(Tok, bool)>,
    dst: Option<(Tok, bool)>,
    iniface: Option<(Tok, bool)>,
    outiface: Option<(Tok, bool)>,
    frag: Option<bool>,
    counters: Option<Counters>,
    jumpto: Option<(String, usize, bool)>,
    insts: Vec<Inst>,
    target: Option<usize>,
    ignored: bool,
}

/// The part of the parser state a rule line needs from the file.
struct LineEnv<'a> {
    table: TableName,
    announced: &'a HashSet<String>,
}

fn is_idrac(cmd: u32) -> bool {
    cmd & (CMD_INSERT | CMD_DELETE | CMD_REPLACE | CMD_APPEND | CMD_CHECK) != 0
}

/// `assert_valid_chain_name`.
fn check_chain_name(name: &str, col: usize) -> Result<(), LErr> {
    if name.len() >= 29 {
        return lerr(
            col,
            format!("chain name `{name}' too long (must be under 29 chars)"),
        );
    }
    if let Some(c) = name.chars().next().filter(|c| *c == '-' || *c == '!') {
        return lerr(col, format!("chain name not allowed to start with `{c}'"));
    }
    if name.bytes().any(c_isspace) {
        return lerr(col, format!("Invalid chain name `{}'", escape(name)));
    }
    Ok(())
}

/// `xt_parse_target`.
fn check_target_name(name: &str, col: usize) -> Result<(), LErr> {
    if name.is_empty() {
        return lerr(col, "Invalid target name (too short)");
    }
    if name.len() >= 29 {
        return lerr(col, format!("Invalid target name `{name}' (28 chars max)"));
    }
    if name.bytes().any(c_isspace) {
        return lerr(col, format!("Invalid target name `{}'", escape(name)));
    }
    Ok(())
}

fn new_inst(name: &str, col: usize, target: bool) -> Inst {
    let (kind, spec, heuristic) = if target {
        match target_kind(name) {
            Some((k, s)) => (k, s, false),
            None => match unsupported_spec(name, true) {
                Some(s) => (Kind::UnsupTarget, s, false),
                None => (Kind::UnsupTarget, &[][..], true),
            },
        }
    } else {
        match match_kind(name) {
            Some((k, s)) => (k, s, false),
            None => match unsupported_spec(name, false) {
                Some(s) => (Kind::UnsupMatch, s, false),
                None => (Kind::UnsupMatch, &[][..], true),
            },
        }
    };
    Inst {
        kind,
        name: name.to_string(),
        col,
        spec,
        heuristic,
        xflags: 0,
        oflags: 0,
        raw: Vec::new(),
        st: initial_state(kind, name),
    }
}

/// The match extension `-p NAME` loads implicitly (`find_proto`).
fn proto_extension(proto: &str) -> Option<&'static str> {
    let name: String = match xt_strtoui(proto, 0, 255) {
        Some(n) => protocol_name(n as u8)?.to_string(),
        None => proto.to_string(),
    };
    ["tcp", "udp", "sctp", "icmp", "esp", "ah", "dccp"]
        .into_iter()
        .find(|n| *n == name)
}

fn merged_opts(insts: &[Inst]) -> Vec<LongOpt> {
    let mut v: Vec<LongOpt> = BASE_LONG
        .iter()
        .map(|(n, h, c)| LongOpt {
            name: n,
            has_arg: *h,
            val: Val::Base(*c),
        })
        .collect();
    // A second instance of a match is a clone: its options are not merged again, so an
    // option name it shares with an extension loaded in between resolves to that one. An
    // option of the clone's type goes to the newest instance (the older are "completed").
    let same = |a: &Inst, b: &Inst| a.kind == b.kind && a.name == b.name;
    for (i, inst) in insts.iter().enumerate().rev() {
        if insts[..i].iter().any(|o| same(o, inst)) {
            continue;
        }
        let newest = insts.iter().rposition(|o| same(o, inst)).unwrap_or(i);
        for s in inst.spec {
            v.push(LongOpt {
                name: s.name,
                has_arg: if s.arg { HasArg::Req } else { HasArg::No },
                val: Val::Ext(newest, s.id),
            });
        }
    }
    v
}

impl Cmd {
    fn set_option(&mut self, opt: u32, invert: bool, col: usize) -> Result<(), LErr> {
        let c = OPT_CHARS
            .get(opt.trailing_zeros() as usize)
            .copied()
            .unwrap_or('?');
        if self.options & opt != 0 {
            return lerr(col, format!("multiple -{c} flags not allowed"));
        }
        self.options |= opt;
        let invertible = OPT_SOURCE
            | OPT_DESTINATION
            | OPT_PROTOCOL
            | OPT_VIANAMEIN
            | OPT_VIANAMEOUT
            | OPT_FRAGMENT;
        if invert && opt & invertible == 0 {
            return lerr(col, format!("cannot have ! before -{c}"));
        }
        Ok(())
    }

    fn add_command(&mut self, new: u32, others: u32, invert: bool, col: usize) -> Result<(), LErr> {
        if invert {
            return lerr(col, "unexpected '!' flag");
        }
        if self.command & !others != 0 {
            return lerr(
                col,
                format!(
                    "Cannot use -{} with -{}",
                    cmd2char(new),
                    cmd2char(self.command & !others)
                ),
            );
        }
        self.command |= new;
        self.cmd_col = col;
        Ok(())
    }
}

/// `parse_rulenumber` / `parse_rule_range` (no ranges for iptables).
fn parse_rulenum(t: &Tok) -> Result<u32, LErr> {
    if t.text.contains(':') {
        return lerr(t.col, "Rule ranges are not supported");
    }
    match xt_strtoui(&t.text, 1, i32::MAX as u32) {
        Some(v) => Ok(v),
        None => lerr(t.col, format!("Invalid rule number `{}'", t.text)),
    }
}

/// Parse one rule line's words into a command (`do_parse`).
fn parse_command(toks: &[Tok], env: &LineEnv) -> Result<Cmd, LErr> {
    let mut c = Cmd::default();
    let mut g = Getopt::default();
    let mut opts = merged_opts(&c.insts);
    let mut invert = false;
    let mut invert_col = 0;
    loop {
        let ev = g.next(toks, &opts);
        let (val, arg, idx, last, name) = match ev {
            Ev::End => break,
            Ev::NonOpt(i) => {
                let t = &toks[i];
                if t.text == "!" {
                    if invert {
                        return lerr(t.col, "multiple consecutive ! not allowed");
                    }
                    invert = true;
                    invert_col = t.col;
                    continue;
                }
                return lerr(t.col, format!("Bad argument `{}'", t.text));
            }
            Ev::Unknown { idx, .. } | Ev::Missing(idx) => {
                let t = &toks[idx];
                // command_default: load the protocol's match on first need and retry.
                if let Some((pname, _, _, _)) = &c.proto {
                    if !c.proto_used {
                        c.proto_used = true;
                        if let Some(ext) = proto_extension(pname) {
                            c.insts.push(new_inst(ext, t.col, false));
                            opts = merged_opts(&c.insts);
                            g.optind = idx;
                            g.nextchar = 0;
                            continue;
                        }
                    }
                }
                // Options of an extension without an option table: take the word and the
                // arguments that follow it.
                if matches!(ev, Ev::Unknown { .. }) && t.text.starts_with("--") {
                    if let Some(h) = c.insts.iter().rposition(|i| i.heuristic) {
                        let inst = &mut c.insts[h];
                        if invert {
                            inst.raw.push("!".into());
                        }
                        inst.raw.push(t.text.clone());
                        g.optind = idx + 1;
                        g.nextchar = 0;
                        while let Some(a) = g.has_arg(toks) {
                            inst.raw.push(a.text.clone());
                            g.optind += 1;
                        }
                        invert = false;
                        continue;
                    }
                }
                return match ev {
                    Ev::Missing(_) => {
                        lerr(t.col, format!("option \"{}\" requires an argument", t.text))
                    }
                    Ev::Unknown { msg: Some(m), .. } => lerr(t.col, m),
                    _ => lerr(t.col, format!("unknown option \"{}\"", t.text)),
                };
            }
            Ev::Opt {
                val,
                arg,
                idx,
                last,
                name,
            } => (val, arg, idx, last, name),
        };
        let col = toks[idx].col;
        let arg_text = arg.as_ref().map(|a| a.text.clone()).unwrap_or_default();
        match val {
            Val::Ext(i, id) => {
                let ctx = OptCtx {
                    proto: c.proto.as_ref().map(|p| p.1).unwrap_or(0),
                    proto_inv: c.proto.as_ref().is_some_and(|p| p.2),
                };
                let Some(inst) = c.insts.get_mut(i) else {
                    return lerr(col, format!("unknown option \"{}\"", toks[idx].text));
                };
                if invert {
                    inst.raw.push("!".into());
                }
                inst.raw.push(toks[idx].text.clone());
                if idx != last {
                    inst.raw.push(arg_text.clone());
                }
                inst.option(id, name, arg.as_ref(), invert, col, &ctx, &mut g, toks)?;
            }
            Val::Base(ch) => match ch {
                'A' | 'C' | 'D' | 'R' | 'I' | 'L' | 'S' | 'F' | 'Z' | 'N' | 'X' | 'E' | 'P' => {
                    let (new, others) = match ch {
                        'A' => (CMD_APPEND, 0),
                        'C' => (CMD_CHECK, 0),
                        'D' => (CMD_DELETE, 0),
                        'R' => (CMD_REPLACE, 0),
                        'I' => (CMD_INSERT, 0),
                        'L' => (CMD_LIST, CMD_ZERO | CMD_ZERO_NUM),
                        'S' => (CMD_LIST_RULES, CMD_ZERO | CMD_ZERO_NUM),
                        'F' => (CMD_FLUSH, 0),
                        'Z' => (CMD_ZERO, CMD_LIST | CMD_LIST_RULES),
                        'N' => (CMD_NEW_CHAIN, 0),
                        'X' => (CMD_DELETE_CHAIN, 0),
                        'E' => (CMD_RENAME_CHAIN, 0),
                        _ => (CMD_SET_POLICY, 0),
                    };
                    if ch == 'N' {
                        if let Some(a) = &arg {
                            check_chain_name(&a.text, a.col)?;
                            let n = a.text.as_str();
                            let clash = matches!(n, "ACCEPT" | "DROP" | "QUEUE" | "RETURN")
                                || (!env.announced.contains(n)
                                    && (target_kind(n).is_some() || IPTABLES_TARGETS.contains(&n)));
                            if clash {
                                return lerr(a.col, "chain name may not clash with target name");
                            }
                        }
                    }
                    c.add_command(new, others, invert, col)?;
                    let optional_chain = matches!(ch, 'L' | 'S' | 'F' | 'Z' | 'X');
                    if optional_chain {
                        c.chain = match arg {
                            Some(a) => Some(a),
                            None => g.has_arg(toks).cloned().inspect(|_| g.optind += 1),
                        };
                    } else {
                        c.chain = arg;
                    }
                    match ch {
                        'D' => {
                            if let Some(t) = g.has_arg(toks).cloned() {
                                g.optind += 1;
                                c.rulenum = Some((parse_rulenum(&t)?, t.col));
                                c.command = CMD_DELETE_NUM;
                            }
                        }
                        'R' => match g.has_arg(toks).cloned() {
                            Some(t) => {
                                g.optind += 1;
                                c.rulenum = Some((parse_rulenum(&t)?, t.col));
                            }
                            None => return lerr(col, "-R requires a rule number"),
                        },
                        'I' => {
                            c.rulenum = Some(match g.has_arg(toks).cloned() {
                                Some(t) => {
                                    g.optind += 1;
                                    (parse_rulenum(&t)?, t.col)
                                }
                                None => (1, col),
                            });
                        }
                        'L' | 'S' => {
                            if let Some(t) = g.has_arg(toks).cloned() {
                                g.optind += 1;
                                c.rulenum = Some((parse_rulenum(&t)?, t.col));
                            }
                        }
                        'Z' => {
                            if let Some(t) = g.has_arg(toks).cloned() {
                                g.optind += 1;
                                c.rulenum = Some((parse_rulenum(&t)?, t.col));
                                c.command = CMD_ZERO_NUM;
                            }
                        }
                        'E' => match g.has_arg(toks).cloned() {
                            Some(t) => {
                                g.optind += 1;
                                check_chain_name(&t.text, t.col)?;
                                c.newname = Some(t);
                            }
                            None => {
                                return lerr(
                                    col,
                                    "-E requires old-chain-name and new-chain-name",
                                )
                            }
                        },
                        'P' => match g.has_arg(toks).cloned() {
                            Some(t) => {
                                g.optind += 1;
                                c.policy = Some(t);
                            }
                            None => return lerr(col, "-P requires a chain and a policy"),
                        },
                        _ => {}
                    }
                }
                'h' => {
                    return lerr(
                        col,
                        "-h (help) in a rules file: iptables-restore would print its help and exit without loading the rest",
                    )
                }
                'V' => {
                    return lerr(
                        col,
                        "-V (version) in a rules file: iptables-restore would print its version and exit without loading the rest",
                    )
                }
                'p' => {
                    c.set_option(OPT_PROTOCOL, invert, col)?;
                    // iptables 1.8.9 reads -p, -s, -d, -i, -o (and -j) from the word
                    // before optind, not from optarg: `-ptcp` names protocol `-ptcp`.
                    let word = &toks[last];
                    let lower = word.text.to_ascii_lowercase();
                    let acol = word.col;
                    let Some(p) = parse_protocol(&lower) else {
                        return lerr(acol, format!("unknown protocol \"{lower}\" specified"));
                    };
                    if p == 0 && invert {
                        return lerr(col, "rule would never match protocol");
                    }
                    c.proto = Some((lower, p, invert, col));
                }
                's' | 'd' => {
                    let opt = if ch == 's' { OPT_SOURCE } else { OPT_DESTINATION };
                    c.set_option(opt, invert, col)?;
                    let t = toks[last].clone();
                    if ch == 's' {
                        c.src = Some((t, invert));
                    } else {
                        c.dst = Some((t, invert));
                    }
                }
                'i' | 'o' => {
                    if arg_text.is_empty() {
                        let acol = arg.as_ref().map(|a| a.col).unwrap_or(col);
                        return lerr(acol, "Empty interface is likely to be undesired");
                    }
                    let t = toks[last].clone();
                    let opt = if ch == 'i' {
                        OPT_VIANAMEIN
                    } else {
                        OPT_VIANAMEOUT
                    };
                    c.set_option(opt, invert, col)?;
                    if t.text.len() >= 16 {
                        return lerr(
                            t.col,
                            format!(
                                "interface name `{}' must be shorter than IFNAMSIZ (15)",
                                t.text
                            ),
                        );
                    }
                    if ch == 'i' {
                        c.iniface = Some((t, invert));
                    } else {
                        c.outiface = Some((t, invert));
                    }
                }
                'f' => {
                    c.set_option(OPT_FRAGMENT, invert, col)?;
                    c.frag = Some(invert);
                }
                'g' | 'j' => {
                    c.set_option(OPT_JUMP, invert, col)?;
                    // iptables 1.8.9 takes -j's name from the word before optind, so `-jX`
                    // names the target `-jX`.
                    let (tname, tcol) = if ch == 'j' {
                        let t = &toks[last];
                        (t.text.clone(), t.col)
                    } else {
                        let a = arg.as_ref().map(|a| (a.text.clone(), a.col));
                        a.unwrap_or((String::new(), col))
                    };
                    check_target_name(&tname, tcol)?;
                    if ch == 'j' {
                        let is_chain = env.announced.contains(&tname)
                            && !matches!(tname.as_str(), "ACCEPT" | "DROP" | "RETURN" | "QUEUE");
                        let known = !is_chain
                            && (target_kind(&tname).is_some()
                                || unsupported_target_name(&tname));
                        if known {
                            c.insts.push(new_inst(&tname, tcol, true));
                            c.target = Some(c.insts.len() - 1);
                            opts = merged_opts(&c.insts);
                        }
                    }
                    c.jumpto = Some((tname, tcol, ch == 'g'));
                }
                'v' => {
                    if c.options & OPT_VERBOSE == 0 {
                        c.set_option(OPT_VERBOSE, invert, col)?;
                    }
                }
                'm' => {
                    if invert {
                        return lerr(invert_col, "unexpected ! flag before --match");
                    }
                    let acol = arg.as_ref().map(|a| a.col).unwrap_or(col);
                    if arg_text.len() >= 29 {
                        return lerr(
                            acol,
                            format!("Invalid match name `{arg_text}' (28 chars max)"),
                        );
                    }
                    if arg_text.is_empty() {
                        return lerr(acol, "Couldn't load match `':No such file or directory");
                    }
                    c.insts.push(new_inst(&arg_text, acol, false));
                    opts = merged_opts(&c.insts);
                }
                'n' => c.set_option(OPT_NUMERIC, invert, col)?,
                'x' => c.set_option(OPT_EXPANDED, invert, col)?,
                '0' => c.set_option(OPT_LINENUMBERS, invert, col)?,
                't' => {
                    if invert {
                        return lerr(invert_col, "unexpected ! flag before --table");
                    }
                    return lerr(col, "The -t option cannot be used in iptables-restore.");
                }
                'w' | 'W' => {
                    return lerr(col, format!("You cannot use `-{ch}' from iptables-restore"))
                }
                'M' | '4' => {}
                '6' => {
                    // iptables-restore (IPv4) ignores a line that says -6.
                    c.ignored = true;
                    return Ok(c);
                }
                'c' => {
                    c.set_option(OPT_COUNTERS, invert, col)?;
                    let pcnt = arg_text.clone();
                    let bcnt = match pcnt.get(1..).and_then(|r| r.find(',')) {
                        Some(i) => Some(pcnt[i + 2..].to_string()),
                        None => g.has_arg(toks).cloned().map(|t| {
                            g.optind += 1;
                            t.text
                        }),
                    };
                    let Some(bcnt) = bcnt else {
                        return lerr(col, "-c requires packet and byte counter");
                    };
                    let Some(p) = scan_llu(&pcnt) else {
                        return lerr(col, "-c packet counter not numeric");
                    };
                    let Some(b) = scan_llu(&bcnt) else {
                        return lerr(col, "-c byte counter not numeric");
                    };
                    c.counters = Some(Counters {
                        packets: p,
                        bytes: b,
                    });
                }
                _ => return lerr(col, format!("unknown option \"-{ch}\"")),
            },
        }
        invert = false;
    }

    if env.table == TableName::Nat
        && (c.policy.as_ref().is_some_and(|p| p.text == "DROP")
            || c.jumpto.as_ref().is_some_and(|j| j.0 == "DROP"))
    {
        let col = c
            .jumpto
            .as_ref()
            .map(|j| j.1)
            .or(c.policy.as_ref().map(|p| p.col))
            .unwrap_or(1);
        return lerr(
            col,
            "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.",
        );
    }
    let target = c.target;
    for (i, inst) in c.insts.iter_mut().enumerate() {
        if Some(i) != target {
            let col = inst.col;
            inst.finish(col)?;
        }
    }
    if let Some(t) = target.and_then(|t| c.insts.get_mut(t)) {
        let col = t.col;
        t.finish(col)?;
    }
    if g.optind < toks.len() {
        return lerr(toks[g.optind].col, "unknown arguments found on commandline");
    }
    if c.command == 0 {
        return lerr(
            toks.first().map(|t| t.col).unwrap_or(1),
            "no command specified",
        );
    }
    if invert {
        return lerr(invert_col, "nothing appropriate following !");
    }
    Ok(c)
}

/// `xtables_ipparse_multiple`: a comma list of `addr[/len|/mask]`, masked.
fn parse_addr_list(t: &Tok) -> Result<Vec<Ipv4Net>, LErr> {
    let mut out = Vec::new();
    for item in t.text.split(',') {
        let item = item.trim_start_matches(|c: char| c.is_ascii() && c_isspace(c as u8));
        if item.len() > 255 {
            return lerr(t.col, "Hostname too long");
        }
        let (host, mask) = match item.rfind('/') {
            Some(i) => {
                let m = &item[i + 1..];
                let mask = match numeric_to_ipmask(m) {
                    Some(a) => a,
                    None => match xt_strtoui(m, 0, 32) {
                        Some(l) => Ipv4Addr::from(prefix_mask(l as u8)),
                        None => return lerr(t.col, format!("invalid mask `{m}' specified")),
                    },
                };
                (&item[..i], mask)
            }
            None => (item, Ipv4Addr::BROADCAST),
        };
        let host = if mask.is_unspecified() {
            "0.0.0.0"
        } else {
            host
        };
        let Some(addr) = numeric_to_ipaddr(host) else {
            return lerr(t.col, hostname_msg(host));
        };
        out.push(Ipv4Net::new(addr, mask));
    }
    Ok(out)
}

fn iface_of(t: &Tok) -> Iface {
    match t.text.strip_suffix('+') {
        Some(n) => Iface {
            name: n.to_string(),
            wildcard: true,
        },
        None => Iface {
            name: t.text.clone(),
            wildcard: false,
        },
    }
}

/// The rules a parsed `-A`/`-I`/`-D`/`-C`/`-R` command stands for: one per source and
/// destination pair, sources outermost (as iptables loops).
fn build_rules(c: &mut Cmd, line: usize, text: &str) -> Result<Vec<Rule>, LErr> {
    let srcs = match &c.src {
        Some((t, _)) => parse_addr_list(t)?,
        None => vec![Ipv4Net::ANY],
    };
    let dsts = match &c.dst {
        Some((t, _)) => parse_addr_list(t)?,
        None => vec![Ipv4Net::ANY],
    };
    let sneg = c.src.as_ref().is_some_and(|s| s.1);
    let dneg = c.dst.as_ref().is_some_and(|s| s.1);
    if (srcs.len() > 1 || dsts.len() > 1) && (sneg || dneg) {
        let col = c
            .src
            .as_ref()
            .or(c.dst.as_ref())
            .map(|s| s.0.col)
            .unwrap_or(1);
        return lerr(
            col,
            "! not allowed with multiple source or destination IP addresses",
        );
    }
    let mut base = Vec::new();
    // `-i +` matches every interface: iptables stores an empty mask and prints nothing.
    if let Some((t, neg)) = c.iniface.as_ref().filter(|(t, n)| *n || t.text != "+") {
        base.push(Match::InIface {
            iface: iface_of(t),
            neg: *neg,
        });
    }
    if let Some((t, neg)) = c.outiface.as_ref().filter(|(t, n)| *n || t.text != "+") {
        base.push(Match::OutIface {
            iface: iface_of(t),
            neg: *neg,
        });
    }
    if let Some((_, p, neg, _)) = &c.proto {
        if *p != 0 {
            base.push(Match::Proto {
                proto: *p,
                neg: *neg,
            });
        }
    }
    if let Some(neg) = c.frag {
        base.push(Match::Fragment { neg });
    }
    let mut mods = Vec::new();
    let mut mod_cols = Vec::new();
    let mut target = None;
    let insts = std::mem::take(&mut c.insts);
    for (i, inst) in insts.into_iter().enumerate() {
        let col = inst.col;
        match build(inst) {
            Built::M(mut m) => {
                if let Match::Unsupported { loc, .. } = &mut m {
                    *loc = Loc { line, column: col };
                }
                mods.push(m);
                mod_cols.push(col);
            }
            Built::T(mut t) => {
                if Some(i) == c.target {
                    if let Target::Unsupported { loc, .. } = &mut t {
                        *loc = Loc { line, column: col };
                    }
                    target = Some(t);
                }
            }
        }
    }
    if target.is_none() {
        if let Some((name, _, goto)) = &c.jumpto {
            target = Some(if *goto {
                Target::Goto(name.clone())
            } else {
                Target::Jump(name.clone())
            });
        }
    }
    let counters = c.counters.unwrap_or_default();
    let loc = Loc {
        line,
        column: c.cmd_col,
    };
    let mut out = Vec::new();
    for s in &srcs {
        for d in &dsts {
            let mut matches = Vec::new();
            if *s != Ipv4Net::ANY || sneg {
                matches.push(Match::Src(NetMatch { net: *s, neg: sneg }));
            }
            if *d != Ipv4Net::ANY || dneg {
                matches.push(Match::Dst(NetMatch { net: *d, neg: dneg }));
            }
            matches.extend(base.iter().cloned());
            matches.extend(mods.iter().cloned());
            let rule = Rule {
                loc,
                counters,
                matches,
                target: target.clone(),
                text: text.to_string(),
            };
            nft_userspace_checks(&rule, &mod_cols)?;
            out.push(rule);
        }
    }
    Ok(out)
}

/// Checks iptables-nft makes in userspace when it builds the rule (`add_match`): a tcp or
/// udp match it translates natively needs the protocol given with `-p`.
fn nft_userspace_checks(rule: &Rule, col_of_match: &[usize]) -> Result<(), LErr> {
    let proto = rule.matches.iter().find_map(|m| match m {
        Match::Proto { proto, .. } => Some(*proto),
        _ => None,
    });
    let mods = rule.matches.iter().filter(|m| {
        !matches!(
            m,
            Match::Src(_)
                | Match::Dst(_)
                | Match::InIface { .. }
                | Match::OutIface { .. }
                | Match::Proto { .. }
                | Match::Fragment { .. }
        )
    });
    for (m, col) in mods.zip(col_of_match.iter().copied()) {
        match m {
            Match::Tcp(t) => {
                let native = t.option.is_none() && *t != TcpMatch::default();
                if native && proto != Some(6) {
                    return lerr(col, "TCP match requires '-p tcp'");
                }
            }
            Match::Udp(u) if *u != UdpMatch::default() && proto != Some(17) => {
                return lerr(col, "UDP match requires '-p udp'");
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The file: tables, chains, commands, and the checks made when a table is committed.
// ---------------------------------------------------------------------------------------

struct TableState {
    name: TableName,
    line: usize,
    chains: Vec<Chain>,
    /// Errors iptables-nft only finds when it prepares the table's batch at `COMMIT`, with
    /// the line of the command that causes them (the first in file order is reported; its
    /// `line` is 0 when iptables reports it at the `COMMIT` line itself).
    deferred: Vec<(usize, ParseError)>,
}

impl TableState {
    fn chain_index(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }
}

struct Parser {
    file: String,
    tables: Vec<Table>,
    cur: Option<TableState>,
    /// Chain names announced by chain lines (in any table): `-j NAME` then means the chain
    /// even when a target extension has that name (`xtables_announce_chain`).
    announced: HashSet<String>,
}

fn hook_bit(h: Hook) -> u8 {
    match h {
        Hook::PreRouting => 1,
        Hook::LocalIn => 2,
        Hook::Forward => 4,
        Hook::LocalOut => 8,
        Hook::PostRouting => 16,
    }
}

fn hook_names(mask: u8) -> String {
    Hook::ALL
        .iter()
        .filter(|h| mask & hook_bit(**h) != 0)
        .map(|h| h.chain_name())
        .collect::<Vec<_>>()
        .join("/")
}

const PRE: u8 = 1;
const IN: u8 = 2;
const FWD: u8 = 4;
const OUT: u8 = 8;
const POST: u8 = 16;

/// The hooks a match or target may run at, and whether the restriction follows jumps into
/// user chains. The kernel checks an extension's `.hooks` field against every hook a chain
/// is reached from, but the restrictions an extension's checkentry function makes (addrtype
/// --limit-iface-*, TCPMSS --clamp-mss-to-pmtu, policy, physdev) only see a rule's own
/// hook, which nf_tables gives to rules in built-in chains only. `None` = anywhere.
fn allowed_hooks_match(m: &Match) -> Option<(u8, bool, String)> {
    match m {
        Match::AddrType(AddrTypeMatch { limit: Some(l), .. }) => Some(match l {
            AddrTypeLimit::In => (
                PRE | IN | FWD,
                false,
                "match `addrtype --limit-iface-in`".into(),
            ),
            AddrTypeLimit::Out => (
                FWD | OUT | POST,
                false,
                "match `addrtype --limit-iface-out`".into(),
            ),
        }),
        Match::Unsupported {
            module, options, ..
        } => {
            let has = |o: &str| options.iter().any(|x| x == o);
            let (mask, follows) = match module.as_str() {
                "owner" => (OUT | POST, true),
                "mac" => (PRE | IN | FWD, true),
                "socket" => (PRE | IN, true),
                "rpfilter" => (PRE, true),
                "realm" => (IN | FWD | OUT | POST, true),
                "policy" => {
                    let dir = options
                        .iter()
                        .position(|x| x == "--dir")
                        .and_then(|i| options.get(i + 1));
                    match dir.map(|s| s.as_str()) {
                        Some("in") => (PRE | IN | FWD, false),
                        Some("out") => (FWD | OUT | POST, false),
                        _ => return None,
                    }
                }
                "physdev" if has("--physdev-out") && !has("--physdev-is-bridged") => {
                    (PRE | IN | FWD | POST, false)
                }
                _ => return None,
            };
            Some((mask, follows, format!("match `{module}`")))
        }
        _ => None,
    }
}

fn allowed_hooks_target(t: &Target) -> Option<(u8, bool, &'static str)> {
    Some(match t {
        Target::Reject(_) => (IN | FWD | OUT, true, "REJECT"),
        Target::Snat(_) => (POST | IN, true, "SNAT"),
        Target::Dnat(_) => (PRE | OUT, true, "DNAT"),
        Target::Masquerade(_) => (POST, true, "MASQUERADE"),
        Target::Redirect(_) => (PRE | OUT, true, "REDIRECT"),
        Target::TcpMss(TcpMssAction::ClampToPmtu) => {
            (FWD | OUT | POST, false, "TCPMSS --clamp-mss-to-pmtu")
        }
        _ => return None,
    })
}

fn rule_proto(r: &Rule) -> Option<(u8, bool)> {
    r.matches.iter().find_map(|m| match m {
        Match::Proto { proto, neg } => Some((*proto, *neg)),
        _ => None,
    })
}

/// The checks the kernel makes on each rule when the table is committed that do not
/// depend on the chain graph (table-restricted targets, protocol requirements, …).
fn kernel_rule_check(table: TableName, t: &TableState, r: &Rule) -> Option<String> {
    let proto = rule_proto(r);
    let plain = |p: u8| proto == Some((p, false));
    if let Some(target) = &r.target {
        let need_table = match target {
            Target::Reject(_) => Some(TableName::Filter),
            Target::Snat(_)
            | Target::Dnat(_)
            | Target::Masquerade(_)
            | Target::Redirect(_)
            | Target::Netmap(_) => Some(TableName::Nat),
            Target::NoTrack | Target::Ct(_) => Some(TableName::Raw),
            Target::Ttl(_) | Target::Tos { .. } | Target::Dscp(_) | Target::Checksum => {
                Some(TableName::Mangle)
            }
            _ => None,
        };
        if let Some(need) = need_table {
            if need != table {
                let name = r.spec();
                let tname = name
                    .split_whitespace()
                    .skip_while(|w| *w != "-j")
                    .nth(1)
                    .unwrap_or("target")
                    .to_string();
                return Some(format!(
                    "target `{tname}` is only valid in the `{need}` table, not `{table}` (kernel: Invalid argument)"
                ));
            }
        }
        match target {
            Target::Reject(RejectWith::TcpReset) if !plain(6) => {
                return Some(
                    "REJECT --reject-with tcp-reset needs `-p tcp` (kernel: Invalid argument)"
                        .into(),
                )
            }
            Target::ConnMark(c) if c.shift_bits > 31 => {
                return Some(
                    "CONNMARK: a mark shifted by 32 bits or more (kernel: Invalid argument)".into(),
                )
            }
            Target::TcpMss(_) if !plain(6) => {
                return Some("target `TCPMSS` needs `-p tcp` (kernel: Invalid argument)".into())
            }
            // With --notrack the kernel returns before it looks the helper up.
            Target::Ct(CtTarget {
                helper: Some(h),
                notrack: false,
                ..
            }) => {
                let ok = CT_HELPERS
                    .iter()
                    .any(|(n, ps)| n == h && proto.is_some_and(|(p, neg)| !neg && ps.contains(&p)));
                if !ok {
                    return Some(format!(
                        "CT --helper {h}: the kernel has no helper `{h}` for this rule's protocol (it needs a plain `-p tcp` or `-p udp` the helper exists for; kernel: No such file or directory)"
                    ));
                }
            }
            Target::Jump(c) | Target::Goto(c) => {
                if let Some(i) = t.chain_index(c) {
                    if t.chains[i].builtin {
                        return Some(format!(
                            "cannot jump to built-in chain `{c}` (kernel: Operation not supported)"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    for m in &r.matches {
        if let Match::Src(n) | Match::Dst(n) = m {
            if n.neg && n.net.mask.is_unspecified() {
                return Some(
                    "a negated address with a /0 mask can never match (kernel: Invalid argument)"
                        .into(),
                );
            }
        }
        let need = match m {
            Match::Tcp(x) if x.option.is_some() || *x == TcpMatch::default() => Some((6, "tcp")),
            Match::Udp(x) if *x == UdpMatch::default() => Some((17, "udp")),
            Match::Icmp(_) => Some((1, "icmp")),
            Match::Sctp(_) => Some((132, "sctp")),
            _ => None,
        };
        if let Some((p, name)) = need {
            if !plain(p) {
                return Some(format!(
                    "match `{name}` needs `-p {name}` (not negated; kernel: Invalid argument)"
                ));
            }
        }
        if let Match::Recent(rc) = m {
            if matches!(rc.op, RecentOp::Set | RecentOp::Remove)
                && (rc.seconds != 0 || rc.hitcount != 0 || rc.rttl || rc.reap)
            {
                return Some(
                    "recent: --set and --remove take no --seconds, --hitcount, --rttl or --reap (kernel: Invalid argument)"
                        .into(),
                );
            }
            if rc.hitcount > super::recent::MAX_HITCOUNT {
                return Some(format!(
                    "recent: --hitcount {} is more than the kernel keeps ({}; kernel: Invalid argument)",
                    rc.hitcount,
                    super::recent::MAX_HITCOUNT
                ));
            }
            if rc.name.is_empty() || rc.name == "." || rc.name == ".." || rc.name.contains('/') {
                return Some(format!(
                    "recent: invalid list name `{}` (kernel: Invalid argument)",
                    rc.name
                ));
            }
        }
        if let Match::Unsupported { module, .. } = m {
            let need = match module.as_str() {
                "esp" => Some(50),
                "ah" => Some(51),
                "dccp" => Some(33),
                "tcpmss" => Some(6),
                _ => None,
            };
            if let Some(p) = need {
                if !plain(p) {
                    return Some(format!(
                        "match `{module}` needs `-p {module}` (not negated; kernel: Invalid argument)"
                    ));
                }
            }
            if module == "rpfilter" && !matches!(table, TableName::Raw | TableName::Mangle) {
                return Some(
                    "match `rpfilter` is only valid in the raw and mangle tables (kernel: Invalid argument)"
                        .into(),
                );
            }
        }
    }
    None
}

/// The chain graph checks of the kernel (nf_tables): from each built-in chain, user chains
/// reached through jumps and gotos must not loop, must be at most 15 jumps deep, and their
/// rules must be allowed at the built-in chain's hook. Only rules on lines `<= limit`
/// count. Returns (message, rule line, column) of a violation.
fn graph_check(t: &TableState, limit: usize) -> Option<String> {
    let n = t.chains.len();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in t.chains.iter().enumerate() {
        for r in c.rules.iter().filter(|r| r.loc.line <= limit) {
            if let Some(Target::Jump(name) | Target::Goto(name)) = &r.target {
                if let Some(j) = t.chain_index(name) {
                    if !t.chains[j].builtin {
                        adj[i].push(j);
                    }
                }
            }
        }
    }
    // Loops and depth: iterative DFS from every built-in chain.
    let mut color = vec![0u8; n];
    let mut height = vec![0u32; n];
    let mut below = vec![usize::MAX; n];
    for root in (0..n).filter(|i| t.chains[*i].builtin) {
        if color[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = 1;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if let Some(&w) = adj[v].get(*k) {
                *k += 1;
                match color[w] {
                    0 => {
                        color[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(x, _)| *x == w).unwrap_or(0);
                        let mut names: Vec<&str> = stack[pos..]
                            .iter()
                            .map(|(x, _)| t.chains[*x].name.as_str())
                            .collect();
                        names.push(&t.chains[w].name);
                        return Some(format!(
                            "jump loop: {} (reachable from built-in chain `{}`; kernel: Too many links)",
                            names.join(" -> "),
                            t.chains[root].name
                        ));
                    }
                    _ => {}
                }
            } else {
                color[v] = 2;
                let mut h = 0;
                for &w in &adj[v] {
                    if height[w] + 1 > h {
                        h = height[w] + 1;
                        below[v] = w;
                    }
                }
                height[v] = h;
                stack.pop();
            }
        }
        if height[root] >= 16 {
            let mut path = vec![t.chains[root].name.as_str()];
            let mut v = root;
            while below[v] != usize::MAX && path.len() <= 17 {
                v = below[v];
                path.push(&t.chains[v].name);
            }
            return Some(format!(
                "jumps nested too deep: {} is {} jumps below `{}` (nf_tables allows 15; kernel: Too many links)",
                path.last().copied().unwrap_or(""),
                height[root],
                path.first().copied().unwrap_or("")
            ));
        }
    }
    // Hooks reaching each chain.
    let mut mask = vec![0u8; n];
    for (i, c) in t.chains.iter().enumerate() {
        if let Some(h) = c.hook() {
            let bit = hook_bit(h);
            let mut seen = vec![false; n];
            let mut todo = vec![i];
            while let Some(v) = todo.pop() {
                if seen[v] {
                    continue;
                }
                seen[v] = true;
                mask[v] |= bit;
                todo.extend(adj[v].iter().copied());
            }
        }
    }
    for (i, c) in t.chains.iter().enumerate() {
        let m = mask[i];
        if m == 0 {
            continue;
        }
        for r in c.rules.iter().filter(|r| r.loc.line <= limit) {
            let mut items: Vec<(u8, bool, String)> =
                r.matches.iter().filter_map(allowed_hooks_match).collect();
            if let Some((a, f, name)) = r.target.as_ref().and_then(allowed_hooks_target) {
                items.push((a, f, format!("target `{name}`")));
            }
            for (allowed, follows, what) in items {
                if (c.builtin || follows) && m & !allowed != 0 {
                    let via = if c.builtin {
                        String::new()
                    } else {
                        format!(" (chain `{}` is reached from {})", c.name, hook_names(m))
                    };
                    return Some(format!(
                        "{what} (line {}) is only valid in {}, not in {}{via} (kernel: Invalid argument)",
                        r.loc.line,
                        hook_names(allowed),
                        hook_names(m & !allowed)
                    ));
                }
            }
        }
    }
    None
}

/// Do two rules match the same packets the same way (iptables' rule comparison for `-D`
/// and `-C`)?
fn same_rule(a: &Rule, b: &Rule) -> bool {
    fn norm(m: &Match) -> Match {
        let mut m = m.clone();
        if let Match::Unsupported { loc, .. } = &mut m {
            *loc = Loc::default();
        }
        m
    }
    fn normt(t: &Option<Target>) -> Option<Target> {
        let mut t = t.clone();
        if let Some(Target::Unsupported { loc, .. }) = &mut t {
            *loc = Loc::default();
        }
        t
    }
    a.matches.len() == b.matches.len()
        && a.matches
            .iter()
            .zip(&b.matches)
            .all(|(x, y)| norm(x) == norm(y))
        && normt(&a.target) == normt(&b.target)
}

impl Parser {
    fn err(&self, line: usize, column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    fn lerr_at(&self, line: usize, e: LErr) -> ParseError {
        self.err(line, e.col, e.msg)
    }

    fn run(&mut self, data: &[u8]) -> Result<(), ParseError> {
        let lines = split_lines(data);
        let total = lines.len();
        for (no, c) in lines {
            match c.first() {
                Some(b'\n') | Some(b'#') => continue,
                _ => {}
            }
            let in_table = self.cur.is_some();
            if in_table && c.starts_with(b"COMMIT") && matches!(c.get(6), None | Some(b'\n')) {
                self.commit(no)?;
            } else if c.first() == Some(&b'*') && !in_table {
                self.table_line(no, c)?;
            } else if c.first() == Some(&b':') && in_table {
                self.chain_line(no, c)?;
            } else if in_table {
                self.rule_line(no, c)?;
            } else {
                let what = if c.first() == Some(&b':') {
                    " (a chain line outside a `*table` section)"
                } else if c.starts_with(b"COMMIT") {
                    " (COMMIT outside a `*table` section)"
                } else if c.first() == Some(&b'*') {
                    ""
                } else {
                    " (not a table, chain, rule, comment or blank line)"
                };
                return Err(self.err(no, 1, format!("iptables-restore: line {no} failed{what}")));
            }
        }
        if self.cur.is_some() {
            return Err(self.err(
                total + 1,
                1,
                format!("COMMIT expected at line {}", total + 1),
            ));
        }
        Ok(())
    }

    fn table_line(&mut self, no: usize, c: &[u8]) -> Result<(), ParseError> {
        let mut buf = c.to_vec();
        let mut pos = 1;
        let Some((s, e)) = strtok(&mut buf, &mut pos, b" \t\n") else {
            return Err(self.err(
                no,
                1,
                format!("iptables-restore: line {no} table name invalid"),
            ));
        };
        let name = String::from_utf8_lossy(&buf[s..e]).into_owned();
        let Some(tn) = TableName::from_name(&name) else {
            return Err(self.err(
                no,
                col_of(c, s),
                format!(
                    "iptables-restore: line {no} table name '{}' invalid",
                    escape(&name)
                ),
            ));
        };
        // A second section for the same table flushes the first.
        self.tables.retain(|t| t.name != tn);
        let chains = tn
            .hooks()
            .iter()
            .map(|h| Chain {
                name: h.chain_name().to_string(),
                builtin: true,
                policy: Some(Policy::Accept),
                counters: Counters::default(),
                rules: Vec::new(),
                line: 0,
            })
            .collect();
        self.cur = Some(TableState {
            name: tn,
            line: no,
            chains,
            deferred: Vec::new(),
        });
        Ok(())
    }

    fn chain_line(&mut self, no: usize, c: &[u8]) -> Result<(), ParseError> {
        let mut buf = c.to_vec();
        let mut pos = 1;
        let Some((s, e)) = strtok(&mut buf, &mut pos, b" \t\n") else {
            return Err(self.err(
                no,
                1,
                format!("iptables-restore: line {no} chain name invalid"),
            ));
        };
        let name = String::from_utf8_lossy(&buf[s..e]).into_owned();
        check_chain_name(&name, col_of(c, s)).map_err(|e| self.lerr_at(no, e))?;
        // The name is announced before the clash check, so only the standard verdicts clash.
        if matches!(name.as_str(), "ACCEPT" | "DROP" | "QUEUE" | "RETURN") {
            return Err(self.err(
                no,
                col_of(c, s),
                "chain name may not clash with target name",
            ));
        }
        self.announced.insert(name.clone());
        let Some((ps, pe)) = strtok(&mut buf, &mut pos, b" \t\n") else {
            return Err(self.err(no, 1, format!("iptables-restore: line {no} policy invalid")));
        };
        let policy = String::from_utf8_lossy(&buf[ps..pe]).into_owned();
        let pcol = col_of(c, ps);
        let counters = strtok(&mut buf, &mut pos, b" \t\n").and_then(|(cs, ce)| {
            let s = String::from_utf8_lossy(&buf[cs..ce]).into_owned();
            let inner = s.strip_prefix('[')?;
            let (p, rest) = inner.split_once(':')?;
            Some(Counters {
                packets: scan_llu(p)?,
                bytes: scan_llu(rest)?,
            })
        });
        let file = self.file.clone();
        let Some(t) = self.cur.as_mut() else {
            return Ok(());
        };
        let mk = |col: usize, message: String| ParseError {
            file: file.clone(),
            line: no,
            column: col,
            message,
        };
        match t.chain_index(&name) {
            Some(i) if t.chains[i].builtin => {
                let p = match policy.as_str() {
                    "ACCEPT" => Policy::Accept,
                    "DROP" => Policy::Drop,
                    _ => {
                        return Err(mk(
                            pcol,
                            format!("Can't set policy `{policy}' on `{name}' line {no}: Bad policy name"),
                        ))
                    }
                };
                let ch = &mut t.chains[i];
                ch.policy = Some(p);
                ch.counters = counters.unwrap_or_default();
                ch.line = no;
            }
            Some(_) => {
                return Err(mk(
                    col_of(c, s),
                    format!("chain `{name}' declared twice (iptables-legacy: error creating chain '{name}': File exists)"),
                ))
            }
            None => {
                if policy != "-" {
                    return Err(mk(
                        pcol,
                        format!(
                            "Can't set policy `{policy}' on `{name}' line {no}: Bad built-in chain name (`{name}' is not a built-in chain of table `{}'; a user-defined chain's policy is `-')",
                            t.name
                        ),
                    ));
                }
                t.chains.push(Chain {
                    name,
                    builtin: false,
                    policy: None,
                    counters: counters.unwrap_or_default(),
                    rules: Vec::new(),
                    line: no,
                });
            }
        }
        Ok(())
    }

    fn rule_line(&mut self, no: usize, c: &[u8]) -> Result<(), ParseError> {
        let text = String::from_utf8_lossy(c)
            .trim_end_matches('\n')
            .to_string();
        let mut buf = c.to_vec();
        let mut start = 0;
        let mut prefix_counters = None;
        if buf.first() == Some(&b'[') {
            let Some(close) = buf.iter().position(|b| *b == b']') else {
                return Err(self.err(no, 1, format!("Bad line {no}: need ]")));
            };
            let mut pos = 1;
            let Some((ps, pe)) = strtok(&mut buf, &mut pos, b":") else {
                return Err(self.err(no, 1, format!("Bad line {no}: need :")));
            };
            let Some((bs, be)) = strtok(&mut buf, &mut pos, b"]") else {
                return Err(self.err(no, 1, format!("Bad line {no}: need ]")));
            };
            let p = scan_llu(&String::from_utf8_lossy(&buf[ps..pe])).unwrap_or(0);
            let b = scan_llu(&String::from_utf8_lossy(&buf[bs..be])).unwrap_or(0);
            prefix_counters = Some(Counters {
                packets: p,
                bytes: b,
            });
            start = close + 1;
        }
        let cend = buf
            .get(start..)
            .and_then(|r| r.iter().position(|b| *b == 0))
            .map(|i| start + i)
            .unwrap_or(buf.len());
        let body = &buf[..cend.max(start.min(buf.len()))];
        let toks = tokenize(body, start).map_err(|e| self.lerr_at(no, e))?;
        let Some(table) = self.cur.as_ref().map(|t| t.name) else {
            return Ok(());
        };
        let env = LineEnv {
            table,
            announced: &self.announced,
        };
        let mut cmd = parse_command(&toks, &env).map_err(|e| self.lerr_at(no, e))?;
        if cmd.ignored {
            return Ok(());
        }
        if let Some(pc) = prefix_counters {
            cmd.counters = Some(pc);
        }
        self.apply(no, cmd, &text).map_err(|e| self.lerr_at(no, e))
    }

    fn apply(&mut self, no: usize, mut cmd: Cmd, text: &str) -> Result<(), LErr> {
        let file = self.file.clone();
        let Some(t) = self.cur.as_mut() else {
            return Ok(());
        };
        let cmd_col = cmd.cmd_col;
        // generic_opt_check
        for (i, oc) in OPT_CHARS.iter().enumerate() {
            if cmd.options & (1 << i) == 0 {
                continue;
            }
            let legal = (0..15)
                .filter(|j| cmd.command & (1 << j) != 0)
                .any(|j| illegal_options(j).as_bytes().get(i) != Some(&b'x'));
            if !legal {
                return lerr(cmd_col, format!("Illegal option `-{oc}' with this command"));
            }
        }
        let chain_tok = cmd.chain.clone();
        let chain = chain_tok.as_ref().map(|c| c.text.clone());
        let ccol = chain_tok.as_ref().map(|c| c.col).unwrap_or(cmd_col);
        if let Some(ch) = &chain {
            if ch.len() >= 29 {
                return lerr(
                    ccol,
                    format!("chain name `{ch}' too long (must be under 29 chars)"),
                );
            }
        }
        let defer = |t: &mut TableState, col: usize, message: String| {
            t.deferred.push((
                no,
                ParseError {
                    file: file.clone(),
                    line: no,
                    column: col,
                    message,
                },
            ));
        };
        if is_idrac(cmd.command) {
            let ch = chain.clone().unwrap_or_default();
            if matches!(ch.as_str(), "PREROUTING" | "INPUT") {
                if let Some((o, _)) = &cmd.outiface {
                    return lerr(o.col, format!("Can't use -o with {ch}"));
                }
            }
            if matches!(ch.as_str(), "POSTROUTING" | "OUTPUT") {
                if let Some((i, _)) = &cmd.iniface {
                    return lerr(i.col, format!("Can't use -i with {ch}"));
                }
            }
            let rules = build_rules(&mut cmd, no, text)?;
            if cmd.command == CMD_REPLACE && rules.len() != 1 {
                return lerr(
                    cmd_col,
                    "Replacement rule does not specify a unique address",
                );
            }
            let Some(ci) = t.chain_index(&ch) else {
                defer(
                    t,
                    ccol,
                    format!(
                        "chain `{ch}' does not exist in table `{}' (iptables: No chain/target/match by that name)",
                        t.name
                    ),
                );
                return Ok(());
            };
            if cmd.command & (CMD_APPEND | CMD_INSERT | CMD_REPLACE) != 0 {
                if let Some((name, jcol, goto)) = &cmd.jumpto {
                    let is_chain = *goto || cmd.target.is_none();
                    if is_chain && name != "QUEUE" && t.chain_index(name).is_none() {
                        // iptables-nft reports this at the COMMIT line (line 0 here).
                        t.deferred.push((
                            no,
                            ParseError {
                                file: file.clone(),
                                line: 0,
                                column: 1,
                                message: format!(
                                    "Chain '{name}' does not exist (jump at line {no}, column {jcol})"
                                ),
                            },
                        ));
                        return Ok(());
                    }
                }
            }
            let len = t.chains[ci].rules.len();
            match cmd.command {
                CMD_APPEND => t.chains[ci].rules.extend(rules),
                CMD_INSERT => {
                    let (num, ncol) = cmd.rulenum.unwrap_or((1, cmd_col));
                    let pos = num as usize - 1;
                    if pos > len {
                        defer(t, ncol, "Index of insertion too big".into());
                        return Ok(());
                    }
                    for r in rules {
                        t.chains[ci].rules.insert(pos, r);
                    }
                }
                CMD_REPLACE => {
                    let (num, ncol) = cmd.rulenum.unwrap_or((1, cmd_col));
                    let pos = num as usize - 1;
                    if pos >= len {
                        defer(t, ncol, "Index of replacement too big".into());
                        return Ok(());
                    }
                    if let Some(r) = rules.into_iter().next() {
                        t.chains[ci].rules[pos] = r;
                    }
                }
                CMD_DELETE | CMD_CHECK => {
                    for r in rules {
                        match t.chains[ci].rules.iter().position(|x| same_rule(x, &r)) {
                            Some(p) => {
                                if cmd.command == CMD_DELETE {
                                    t.chains[ci].rules.remove(p);
                                }
                            }
                            None => {
                                defer(
                                    t,
                                    cmd_col,
                                    "Bad rule (does a matching rule exist in that chain?)".into(),
                                );
                                return Ok(());
                            }
                        }
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        let ci = chain.as_ref().and_then(|c| t.chain_index(c));
        if let (Some(ch), None) = (&chain, ci) {
            if cmd.command
                & (CMD_DELETE_NUM
                    | CMD_FLUSH
                    | CMD_ZERO
                    | CMD_ZERO_NUM
                    | CMD_DELETE_CHAIN
                    | CMD_RENAME_CHAIN
                    | CMD_SET_POLICY)
                != 0
            {
                defer(
                    t,
                    ccol,
                    format!(
                        "chain `{ch}' does not exist in table `{}' (iptables: No chain/target/match by that name)",
                        t.name
                    ),
                );
                return Ok(());
            }
        }
        let referenced = |t: &TableState, name: &str, except: &[usize]| {
            t.chains.iter().enumerate().any(|(i, c)| {
                !except.contains(&i)
                    && c.rules.iter().any(|r| {
                        matches!(&r.target, Some(Target::Jump(n) | Target::Goto(n)) if n == name)
                    })
            })
        };
        match cmd.command {
            CMD_DELETE_NUM => {
                if let (Some(ci), Some((num, ncol))) = (ci, cmd.rulenum) {
                    let pos = num as usize - 1;
                    if pos >= t.chains[ci].rules.len() {
                        defer(t, ncol, "Index of deletion too big".into());
                    } else {
                        t.chains[ci].rules.remove(pos);
                    }
                }
            }
            CMD_FLUSH => {
                // Without a chain, iptables-nft flushes what the kernel has, not the rules
                // of the batch being built: a no-op here (the section started flushed).
                if let Some(ci) = ci {
                    t.chains[ci].rules.clear();
                }
            }
            CMD_ZERO | CMD_ZERO_NUM => {
                for (i, c) in t.chains.iter_mut().enumerate() {
                    if ci.is_none() || ci == Some(i) {
                        c.counters = Counters::default();
                        for (k, r) in c.rules.iter_mut().enumerate() {
                            if cmd.rulenum.is_none_or(|(n, _)| n as usize == k + 1) {
                                r.counters = Counters::default();
                            }
                        }
                    }
                }
            }
            CMD_NEW_CHAIN => {
                let name = chain.unwrap_or_default();
                if t.chain_index(&name).is_some() {
                    defer(t, ccol, format!("Chain already exists: `{name}'"));
                } else {
                    t.chains.push(Chain {
                        name,
                        builtin: false,
                        policy: None,
                        counters: Counters::default(),
                        rules: Vec::new(),
                        line: no,
                    });
                }
            }
            CMD_DELETE_CHAIN => {
                let victims: Vec<usize> = match ci {
                    Some(i) => vec![i],
                    None => (0..t.chains.len())
                        .filter(|i| !t.chains[*i].builtin)
                        .collect(),
                };
                for &v in &victims {
                    let c = &t.chains[v];
                    if c.builtin {
                        defer(t, ccol, format!("Can't delete built-in chain `{}'", c.name));
                        return Ok(());
                    }
                    let name = c.name.clone();
                    if !c.rules.is_empty() || referenced(t, &name, &victims) {
                        defer(
                            t,
                            ccol,
                            format!(
                                "CHAIN_DEL failed (Device or resource busy): chain {name} has rules or is referenced"
                            ),
                        );
                        return Ok(());
                    }
                }
                let mut i = 0;
                t.chains.retain(|_| {
                    let keep = !victims.contains(&i);
                    i += 1;
                    keep
                });
            }
            CMD_RENAME_CHAIN => {
                // iptables-nft cannot rename a chain created in the same batch, and every
                // user chain of a restored table is.
                let new = cmd.newname.as_ref().map(|n| n.text.as_str()).unwrap_or("");
                defer(
                    t,
                    cmd_col,
                    format!(
                        "CHAIN_RENAME failed (No such file or directory): chain {new} (iptables-nft cannot rename a chain created in the same restore batch)"
                    ),
                );
            }
            CMD_SET_POLICY => {
                if let (Some(ci), Some(p)) = (ci, cmd.policy.as_ref()) {
                    let policy = match p.text.as_str() {
                        "ACCEPT" => Policy::Accept,
                        "DROP" => Policy::Drop,
                        _ => {
                            defer(t, p.col, format!("Bad policy name `{}'", p.text));
                            return Ok(());
                        }
                    };
                    if !t.chains[ci].builtin {
                        defer(t, ccol, "Bad built-in chain name".into());
                    } else {
                        t.chains[ci].policy = Some(policy);
                        if let Some(cn) = cmd.counters {
                            t.chains[ci].counters = cn;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn commit(&mut self, no: usize) -> Result<(), ParseError> {
        let Some(t) = self.cur.take() else {
            return Ok(());
        };
        // iptables-nft prepares the batch command by command: the first failing command
        // is the error, before the kernel sees anything.
        if let Some((_, e)) = t.deferred.iter().min_by_key(|(order, _)| *order) {
            let mut e = e.clone();
            if e.line == 0 {
                e.line = no;
            }
            return Err(e);
        }
        let mut errs = Vec::new();
        for c in &t.chains {
            for r in &c.rules {
                if let Some(m) = kernel_rule_check(t.name, &t, r) {
                    errs.push(self.err(r.loc.line, r.loc.column, m));
                }
            }
        }
        let mut lines: Vec<usize> = t
            .chains
            .iter()
            .flat_map(|c| c.rules.iter().map(|r| r.loc.line))
            .collect();
        lines.sort_unstable();
        lines.dedup();
        if let Some(&max) = lines.last() {
            if graph_check(&t, max).is_some() {
                // The first line at which the chain graph becomes invalid: nf_tables
                // validates as rules are added, so that rule is the one that fails.
                let (mut lo, mut hi) = (0, lines.len() - 1);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if graph_check(&t, lines[mid]).is_some() {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                let line = lines[lo];
                let col = t
                    .chains
                    .iter()
                    .flat_map(|c| c.rules.iter())
                    .find(|r| r.loc.line == line)
                    .map(|r| r.loc.column)
                    .unwrap_or(1);
                if let Some(m) = graph_check(&t, line) {
                    errs.push(self.err(line, col, m));
                }
            }
        }
        if let Some(e) = errs.into_iter().min_by_key(|e| (e.line, e.column)) {
            return Err(e);
        }
        self.tables.push(Table {
            name: t.name,
            chains: t.chains,
            line: t.line,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str) -> Ruleset {
        match parse_str(text, "t.rules") {
            Ok(rs) => rs,
            Err(e) => panic!("unexpected error: {e}\n{text}"),
        }
    }

    #[track_caller]
    fn err(text: &str) -> ParseError {
        match parse_str(text, "t.rules") {
            Ok(rs) => panic!("expected an error, got {}", rs.to_save_format(false)),
            Err(e) => e,
        }
    }

    /// Error at (line, column) whose message contains `what`.
    #[track_caller]
    fn err_at(text: &str, line: usize, column: usize, what: &str) {
        let e = err(text);
        assert_eq!(
            (e.line, e.column),
            (line, column),
            "wrong position for {e}\n{text}"
        );
        assert!(e.message.contains(what), "`{}` lacks `{what}`", e.message);
    }

    /// Error on `line` at the column where `needle` first appears in that line.
    #[track_caller]
    fn err_w(text: &str, line: usize, needle: &str, what: &str) {
        let l = text.lines().nth(line - 1).unwrap_or("");
        let col = l.find(needle).map(|i| l[..i].chars().count() + 1);
        err_at(text, line, col.unwrap_or(0), what);
    }

    /// A filter table with one user chain U and one rule.
    fn filter(rule: &str) -> String {
        format!("*filter\n:INPUT ACCEPT [0:0]\n:U - [0:0]\n-A INPUT {rule}\nCOMMIT\n")
    }

    fn table(t: &str, chain: &str, rule: &str) -> String {
        format!("*{t}\n-A {chain} {rule}\nCOMMIT\n")
    }

    fn rules_of(rs: &Ruleset, t: TableName, chain: &str) -> Vec<Rule> {
        rs.table(t)
            .and_then(|t| t.chain(chain))
            .map(|c| c.rules.clone())
            .unwrap_or_default()
    }

    /// The single rule of INPUT in `filter(rule)`.
    #[track_caller]
    fn one(rule: &str) -> Rule {
        let rs = ok(&filter(rule));
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r.len(), 1, "{rule}");
        r[0].clone()
    }

    fn net(s: &str, len: u8) -> Ipv4Net {
        Ipv4Net::from_prefix(s.parse().unwrap(), len)
    }

    // ----- file structure -------------------------------------------------------------

    #[test]
    fn tables_chains_policies_counters() {
        let rs = ok("# Generated by iptables-save v1.8.9\n\
             *nat\n\
             :PREROUTING ACCEPT [12:3400]\n\
             :POSTROUTING ACCEPT\n\
             :DOCKER - [0:0]\n\
             :EMPTY -\n\
             -A POSTROUTING -o eth0 -j MASQUERADE\n\
             COMMIT\n\
             # Completed\n\
             *filter\n\
             :INPUT DROP [9728153615:4458431921948]\n\
             COMMIT\n");
        assert_eq!(rs.tables.len(), 2);
        let nat = rs.table(TableName::Nat).unwrap();
        assert_eq!(nat.line, 2);
        let names: Vec<&str> = nat.chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "PREROUTING",
                "INPUT",
                "OUTPUT",
                "POSTROUTING",
                "DOCKER",
                "EMPTY"
            ]
        );
        let pre = nat.chain("PREROUTING").unwrap();
        assert_eq!(
            pre.counters,
            Counters {
                packets: 12,
                bytes: 3400
            }
        );
        assert_eq!(pre.line, 3);
        assert_eq!(nat.chain("INPUT").unwrap().line, 0, "undeclared built-in");
        let docker = nat.chain("DOCKER").unwrap();
        assert!(!docker.builtin && docker.policy.is_none());
        let input = rs.table(TableName::Filter).unwrap().chain("INPUT").unwrap();
        assert_eq!(input.policy, Some(Policy::Drop));
        assert_eq!(input.counters.packets, 9728153615);
        assert_eq!(input.counters.bytes, 4458431921948);
        assert_eq!(input.hook(), Some(Hook::LocalIn));
    }

    #[test]
    fn every_table_has_its_builtin_chains() {
        let text: String = TableName::ALL
            .iter()
            .map(|t| format!("*{t}\nCOMMIT\n"))
            .collect();
        let rs = ok(&text);
        for t in TableName::ALL {
            let tb = rs.table(t).unwrap();
            let names: Vec<&str> = tb.chains.iter().map(|c| c.name.as_str()).collect();
            let want: Vec<&str> = t.hooks().iter().map(|h| h.chain_name()).collect();
            assert_eq!(names, want, "{t}");
        }
        // A built-in chain of another table is a user chain here.
        let rs = ok("*raw\n:INPUT - [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n");
        assert!(!rs.tables[0].chain("INPUT").unwrap().builtin);
    }

    #[test]
    fn comments_and_blank_lines() {
        let rs = ok("\n# top\n*filter\n# inside\n## annotation\n:INPUT ACCEPT [0:0]\n\n-A INPUT -j ACCEPT\n# before commit\nCOMMIT\n\n# end\n");
        assert_eq!(rules_of(&rs, TableName::Filter, "INPUT").len(), 1);
        assert!(ok("").tables.is_empty());
        assert!(ok("# only\n\n").tables.is_empty());
        // `#` only starts a comment at the start of a line.
        err_at("*filter\n  # indented\nCOMMIT\n", 2, 3, "Bad argument `#'");
        // A blank line inside a table must be empty: blanks make it a rule with no command.
        err_at("*filter\n   \nCOMMIT\n", 2, 1, "no command specified");
        err_at("   \n*filter\nCOMMIT\n", 1, 1, "line 1 failed");
    }

    #[test]
    fn commit_handling() {
        err_at(
            "*filter\n-A INPUT -j ACCEPT\n",
            3,
            1,
            "COMMIT expected at line 3",
        );
        err_at("COMMIT\n", 1, 1, "line 1 failed");
        err_at(":INPUT ACCEPT\n", 1, 1, "line 1 failed");
        err_at("-A INPUT -j ACCEPT\n", 1, 1, "line 1 failed");
        // "COMMIT " is not COMMIT: it is a rule with a bad argument (corpus 06).
        err_at("*filter\nCOMMIT \n", 2, 1, "Bad argument `COMMIT'");
        err_at("*filter\nCOMMITx\nCOMMIT\n", 2, 1, "Bad argument `COMMITx'");
        // The last line may lack its newline.
        ok("*filter\n-A INPUT -j ACCEPT\nCOMMIT");
        // A table header inside a table is a rule line.
        err_at("*filter\n*nat\nCOMMIT\n", 2, 1, "Bad argument `*nat'");
        err_at("*foo\nCOMMIT\n", 1, 2, "table name 'foo' invalid");
        err_at("*\nCOMMIT\n", 1, 1, "table name invalid");
        // strtok skips the blanks after `*`, and ignores what follows the name.
        ok("* filter extra\nCOMMIT\n");
    }

    #[test]
    fn crlf_is_rejected_like_the_kernel() {
        err_at("*nat\r\nCOMMIT\r\n", 1, 2, "table name 'nat\\r' invalid");
        err_at(
            "*filter\n-A INPUT -j ACCEPT\r\nCOMMIT\n",
            2,
            13,
            "Invalid target name `ACCEPT\\r'",
        );
        // A user chain's counters are not read: the `\r` after them goes unnoticed.
        ok("*filter\n:FOO - [0:0]\r\nCOMMIT\n");
        let e = err("*filter\n:FOO\r - [0:0]\nCOMMIT\n");
        assert!(e.message.contains("Invalid chain name `FOO\\r'"), "{e}");
    }

    #[test]
    fn trailing_blanks_are_fine_except_after_commit() {
        ok("*filter \n:INPUT ACCEPT [0:0] \n-A INPUT -j ACCEPT \nCOMMIT\n");
    }

    #[test]
    fn a_second_section_replaces_the_first() {
        let rs = ok("*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -j DROP\nCOMMIT\n");
        assert_eq!(rs.tables.len(), 1);
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].target, Some(Target::Drop));
    }

    #[test]
    fn chain_line_errors() {
        err_at(
            "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n",
            2,
            8,
            "Bad policy name",
        );
        err_at("*filter\n:INPUT accept\nCOMMIT\n", 2, 8, "Bad policy name");
        err_at("*filter\n:FOO\nCOMMIT\n", 2, 1, "policy invalid");
        err_at("*filter\n:\nCOMMIT\n", 2, 1, "chain name invalid");
        err_at(
            "*filter\n:FOO - [0:0]\n:FOO - [0:0]\nCOMMIT\n",
            3,
            2,
            "declared twice",
        );
        err_at(
            "*filter\n:FOO ACCEPT [0:0]\nCOMMIT\n",
            2,
            6,
            "Bad built-in chain name",
        );
        err_at(
            "*nat\n:FORWARD ACCEPT [0:0]\nCOMMIT\n",
            2,
            10,
            "not a built-in chain",
        );
        ok("*filter\n:ABCDEFGHIJKLMNOPQRSTUVWXYZAB - [0:0]\nCOMMIT\n");
        err_at(
            "*filter\n:ABCDEFGHIJKLMNOPQRSTUVWXYZABC - [0:0]\nCOMMIT\n",
            2,
            2,
            "too long",
        );
        err_at(
            "*filter\n:!x - [0:0]\nCOMMIT\n",
            2,
            2,
            "not allowed to start with `!'",
        );
        err_at("*filter\n:ACCEPT - [0:0]\nCOMMIT\n", 2, 2, "clash");
        // A built-in declared twice just sets the policy again; bad counters are ignored
        // (iptables-restore without -c does not read them).
        let rs = ok("*filter\n:INPUT DROP [1:2]\n:INPUT ACCEPT [x:y]\nCOMMIT\n");
        let c = rs.tables[0].chain("INPUT").unwrap();
        assert_eq!(c.policy, Some(Policy::Accept));
        assert_eq!(c.counters, Counters::default());
        // nat chains may have a DROP policy (only -j DROP is refused there).
        ok("*nat\n:PREROUTING DROP [0:0]\nCOMMIT\n");
    }

    #[test]
    fn a_chain_named_like_a_target_is_the_chain() {
        let rs = ok("*filter\n:LOG - [0:0]\n-A INPUT -j LOG\n-A LOG -j DROP\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r[0].target, Some(Target::Jump("LOG".into())));
    }

    // ----- rule lines: counters, tokens, options ---------------------------------------

    #[test]
    fn counters_forms() {
        let rs = ok("*filter\n[1:2] -A INPUT -j ACCEPT\n[3:4]-A INPUT -j DROP\n[x:y] -A INPUT\n-A INPUT -c 5 6 -j RETURN\n-A INPUT -c 7,8\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        let c: Vec<(u64, u64)> = r
            .iter()
            .map(|r| (r.counters.packets, r.counters.bytes))
            .collect();
        assert_eq!(c, [(1, 2), (3, 4), (0, 0), (5, 6), (7, 8)]);
        assert_eq!(r[2].target, None);
        err_at("*filter\n[1:2 -A INPUT\nCOMMIT\n", 2, 1, "need ]");
        err_at("*filter\n[12] -A INPUT\nCOMMIT\n", 2, 1, "need ]");
        err_at("*filter\n[::] -A INPUT\nCOMMIT\n", 2, 1, "need ]");
        err_at(
            "*filter\n-A INPUT -c 5\nCOMMIT\n",
            2,
            10,
            "requires packet and byte counter",
        );
        err_at(
            "*filter\n-A INPUT -c x 5\nCOMMIT\n",
            2,
            10,
            "packet counter not numeric",
        );
        err_at(
            "*filter\n-A INPUT -c 5 6 -c 6 7\nCOMMIT\n",
            2,
            17,
            "multiple -c flags",
        );
    }

    #[test]
    fn tokenizer_quoting() {
        let toks = |s: &str| -> Vec<String> {
            tokenize(s.as_bytes(), 0)
                .unwrap()
                .into_iter()
                .map(|t| t.text)
                .collect()
        };
        assert_eq!(toks("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(toks("\"a b\" c"), ["a b", "c"]);
        assert_eq!(toks("ab\"c d\"e"), ["abc d", "e"]);
        assert_eq!(toks("\"\" x"), ["", "x"]);
        assert_eq!(toks(r#""\'[INPUT]\'""#), ["'[INPUT]'"]);
        assert_eq!(toks(r#""a\"b\\c""#), ["a\"b\\c"]);
        assert_eq!(toks(r"a\b"), [r"a\b"]);
        assert_eq!(toks("a#b # c"), ["a#b", "#", "c"]);
        assert_eq!(toks("'two words'"), ["'two", "words'"]);
        // An unterminated quote runs to the end of the line, newline included.
        assert_eq!(toks("\"abc def\n"), ["abc def\n"]);
        // Columns are where the word (or its opening quote) starts.
        let cols: Vec<usize> = tokenize("-A  \"x y\" z".as_bytes(), 0)
            .unwrap()
            .iter()
            .map(|t| t.col)
            .collect();
        assert_eq!(cols, [1, 5, 11]);
        let long = format!("a{}", "b".repeat(1023));
        assert!(tokenize(long.as_bytes(), 0).is_err());
        let many = "x ".repeat(252);
        assert!(tokenize(many.as_bytes(), 0).is_err());
        assert!(tokenize("x ".repeat(251).as_bytes(), 0).is_ok());
    }

    #[test]
    fn comments_with_quotes_and_hashes() {
        let r = one(
            r#"-m comment --comment "NOTE: this must go before \'-j KUBE-FORWARD\'" -j ACCEPT"#,
        );
        assert_eq!(
            r.matches,
            [Match::Comment(
                "NOTE: this must go before '-j KUBE-FORWARD'".into()
            )]
        );
        let r = one("-m comment --comment ns2/svc2:p80 -j ACCEPT");
        assert_eq!(r.matches, [Match::Comment("ns2/svc2:p80".into())]);
        let r = one("-m set --match-set weave-;rGqy^cfDki~Z$3]6!N#x dst -j DROP");
        match &r.matches[0] {
            Match::Unsupported {
                module, options, ..
            } => {
                assert_eq!(module, "set");
                assert_eq!(
                    options,
                    &["--match-set", "weave-;rGqy^cfDki~Z$3]6!N#x", "dst"]
                );
            }
            m => panic!("{m:?}"),
        }
        let long = "c".repeat(300);
        let r = one(&format!("-m comment --comment {long} -j ACCEPT"));
        assert_eq!(r.matches, [Match::Comment("c".repeat(255))]);
    }

    #[test]
    fn rule_text_and_location() {
        let rs = ok("*filter\n  -A INPUT -s 1.2.3.4 -j ACCEPT\nCOMMIT\n");
        let r = &rules_of(&rs, TableName::Filter, "INPUT")[0];
        assert_eq!(r.loc, Loc { line: 2, column: 3 });
        assert_eq!(r.text, "  -A INPUT -s 1.2.3.4 -j ACCEPT");
        assert_eq!(r.spec(), "-s 1.2.3.4/32 -j ACCEPT");
    }

    #[test]
    fn base_flags() {
        let rs = ok("*filter\n-A FORWARD ! -s 10.1.2.3/8 -d 192.168.1.7/255.255.255.0 -i eth+ ! -o tun0 -p tcp -f -j ACCEPT\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "FORWARD")[0].clone();
        assert_eq!(
            r.matches,
            [
                Match::Src(NetMatch {
                    net: net("10.0.0.0", 8),
                    neg: true
                }),
                Match::Dst(NetMatch {
                    net: net("192.168.1.0", 24),
                    neg: false
                }),
                Match::InIface {
                    iface: Iface {
                        name: "eth".into(),
                        wildcard: true
                    },
                    neg: false
                },
                Match::OutIface {
                    iface: Iface {
                        name: "tun0".into(),
                        wildcard: false
                    },
                    neg: true
                },
                Match::Proto {
                    proto: 6,
                    neg: false
                },
                Match::Fragment { neg: false },
            ]
        );
        assert_eq!(r.target, Some(Target::Accept));
        let Match::InIface { iface, .. } = &r.matches[2] else {
            panic!()
        };
        assert!(iface.matches("eth0") && iface.matches("eth") && !iface.matches("et"));
        assert_eq!(one("! -f").matches, [Match::Fragment { neg: true }]);
        // -i + matches everything: nothing to test.
        assert!(one("-i + -j ACCEPT").matches.is_empty());
        assert_eq!(one("! -i + -j ACCEPT").matches.len(), 1);
        // Base flags come first whatever the order on the line (the kernel checks them
        // before any match).
        let r = one("-m comment --comment x -s 1.1.1.1 -j DROP");
        assert!(matches!(r.matches[0], Match::Src(_)));
        assert!(matches!(r.matches[1], Match::Comment(_)));
    }

    #[test]
    fn addresses() {
        let src = |s: &str| match &one(&format!("-s {s}")).matches[0] {
            Match::Src(n) => n.net,
            m => panic!("{m:?}"),
        };
        assert_eq!(src("1.2.3.4"), net("1.2.3.4", 32));
        assert_eq!(src("10.1.2.3/8"), net("10.0.0.0", 8));
        assert_eq!(src("192.168.122.0/255.255.255.0"), net("192.168.122.0", 24));
        assert_eq!(src("10"), net("10.0.0.0", 32));
        assert_eq!(src("10.1"), net("10.1.0.0", 32));
        assert_eq!(src("0x0a.1.2.010"), net("10.1.2.8", 32));
        let odd = src("10.1.2.3/255.0.255.0");
        assert_eq!(odd.mask, Ipv4Addr::new(255, 0, 255, 0));
        assert_eq!(odd.addr, Ipv4Addr::new(10, 0, 2, 0));
        assert_eq!(odd.prefix_len(), None);
        assert!(odd.contains(Ipv4Addr::new(10, 9, 2, 9)));
        // 0.0.0.0/0 matches everything: nothing to test.
        assert!(one("-s 0.0.0.0/0 -j DROP").matches.is_empty());
        assert!(one("-s anything/0 -j DROP").matches.is_empty());
        err_at(&filter("-s localhost -j DROP"), 4, 13, "never resolves");
        err_at(&filter("-s 1.2.3.4/33"), 4, 13, "invalid mask `33'");
        err_at(
            &filter("-s 256.1.1.1"),
            4,
            13,
            "host/network `256.1.1.1' not found",
        );
        err_at(&filter("-s 1.2.3.4,"), 4, 13, "host/network `' not found");
        err_at(
            &filter("-s 1.2.3.4 --source 5.6.7.8"),
            4,
            21,
            "multiple -s flags",
        );
        err_at(&filter("! -s 0.0.0.0/0 -j DROP"), 4, 1, "never match");
    }

    #[test]
    fn address_lists_expand_to_one_rule_per_pair() {
        let rs = ok(&filter("-s 1.1.1.1,2.2.2.2 -d 3.3.3.3,4.4.4.4 -j DROP"));
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r.len(), 4);
        let pairs: Vec<String> = r.iter().map(|r| r.spec()).collect();
        assert_eq!(
            pairs,
            [
                "-s 1.1.1.1/32 -d 3.3.3.3/32 -j DROP",
                "-s 1.1.1.1/32 -d 4.4.4.4/32 -j DROP",
                "-s 2.2.2.2/32 -d 3.3.3.3/32 -j DROP",
                "-s 2.2.2.2/32 -d 4.4.4.4/32 -j DROP",
            ]
        );
        assert!(r.iter().all(|x| x.loc == r[0].loc && x.text == r[0].text));
        err_at(
            &filter("! -s 1.1.1.1,2.2.2.2 -j DROP"),
            4,
            15,
            "! not allowed with multiple",
        );
        // Inserted lists come out reversed, as each is inserted at the same position.
        let rs = ok("*filter\n-I INPUT -s 1.1.1.1,2.2.2.2 -j DROP\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r[0].spec(), "-s 2.2.2.2/32 -j DROP");
    }

    #[test]
    fn protocols() {
        let p = |s: &str| {
            one(&format!("-p {s}"))
                .matches
                .iter()
                .find_map(|m| match m {
                    Match::Proto { proto, neg } => Some((*proto, *neg)),
                    _ => None,
                })
        };
        for (name, n) in [
            ("tcp", 6),
            ("udp", 17),
            ("icmp", 1),
            ("esp", 50),
            ("ah", 51),
            ("gre", 47),
            ("sctp", 132),
            ("igmp", 2),
            ("udplite", 136),
            ("TCP", 6),
            ("47", 47),
            ("255", 255),
        ] {
            assert_eq!(p(name), Some((n, false)), "{name}");
        }
        assert_eq!(p("all"), None);
        assert_eq!(p("0"), None);
        assert_eq!(
            one("! -p tcp").matches,
            [Match::Proto {
                proto: 6,
                neg: true
            }]
        );
        err_at(&filter("-p foo"), 4, 13, "unknown protocol \"foo\"");
        err_at(&filter("-p 256"), 4, 13, "unknown protocol");
        err_at(&filter("! -p all"), 4, 12, "never match protocol");
        err_at(&filter("-p tcp -p udp"), 4, 17, "multiple -p flags");
        // 1.8.9 reads -p from the word before optind: `-ptcp` is protocol "-ptcp".
        err_at(&filter("-ptcp"), 4, 10, "unknown protocol \"-ptcp\"");
    }

    #[test]
    fn interfaces() {
        err_at(
            &filter("-i 0123456789abcdef"),
            4,
            13,
            "shorter than IFNAMSIZ",
        );
        one("-i 0123456789abcde");
        err_at(&filter("-i \"\""), 4, 13, "Empty interface");
        err_at(
            "*filter\n-A OUTPUT -i eth0 -j ACCEPT\nCOMMIT\n",
            2,
            14,
            "Can't use -i with OUTPUT",
        );
        err_at(
            "*nat\n-A POSTROUTING -i eth0 -j ACCEPT\nCOMMIT\n",
            2,
            19,
            "Can't use -i with POSTROUTING",
        );
        err_at(
            "*raw\n-A PREROUTING -o eth0 -j ACCEPT\nCOMMIT\n",
            2,
            18,
            "Can't use -o with PREROUTING",
        );
        err_at(&filter("-o eth0"), 4, 13, "Can't use -o with INPUT");
        ok("*filter\n-A FORWARD -i a -o b\n-A OUTPUT -o c\nCOMMIT\n");
    }

    #[test]
    fn negation_placement() {
        // `! --opt` is the only form iptables 1.8 takes; `--opt !` makes `!` the argument
        // and the real argument a bad one (corpus 05).
        err_at(
            &filter("-d ! 192.168.122.0/255.255.255.0 -j ACCEPT"),
            4,
            15,
            "Bad argument `192.168.122.0/255.255.255.0'",
        );
        err_at(
            &filter("-p tcp --dport ! 22"),
            4,
            25,
            "invalid port/service `!'",
        );
        let r = one("-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j RETURN");
        assert_eq!(
            r.matches,
            [Match::Conntrack(ConntrackMatch {
                state: Some((
                    ctstate::RELATED | ctstate::ESTABLISHED | ctstate::DNAT,
                    true
                )),
                ..Default::default()
            })]
        );
        err_at(&filter("! ! -s 1.2.3.4"), 4, 12, "multiple consecutive !");
        err_at(
            &filter("-j ACCEPT !"),
            4,
            20,
            "nothing appropriate following !",
        );
        err_at(&filter("! -j ACCEPT"), 4, 12, "cannot have ! before -j");
        err_at(
            &filter("! -m tcp"),
            4,
            10,
            "unexpected ! flag before --match",
        );
        err_at(
            &filter("-m comment ! --comment x"),
            4,
            23,
            "cannot be inverted",
        );
        err_at(&filter("! -A INPUT"), 4, 12, "unexpected '!' flag");
    }

    #[test]
    fn getopt_details() {
        // Unambiguous abbreviations and --opt=value work; ambiguous ones do not.
        let r = one("--src 1.2.3.4 --proto tcp --dp 22 --jump ACCEPT");
        assert_eq!(r.spec(), "-s 1.2.3.4/32 -p tcp -m tcp --dport 22 -j ACCEPT");
        let r = one("-p tcp --dport=22 -j ACCEPT");
        assert_eq!(r.spec(), "-p tcp -m tcp --dport 22 -j ACCEPT");
        err_at(&filter("-p tcp --d 22"), 4, 17, "ambiguous");
        err_at(&filter("--fragments=x"), 4, 10, "doesn't allow an argument");
        err_at(&filter("-j"), 4, 10, "requires an argument");
        err_at(&filter("-p tcp --dport"), 4, 17, "requires an argument");
        err_at(&filter("--bogus"), 4, 10, "unknown option \"--bogus\"");
        err_at(&filter("-b"), 4, 10, "unknown option");
        err_at(&filter("-j ACCEPT extra"), 4, 20, "Bad argument `extra'");
        err_at(&filter("-j ACCEPT -- x"), 4, 23, "unknown arguments");
        err_at(
            &filter("-t filter"),
            4,
            10,
            "cannot be used in iptables-restore",
        );
        err_at(&filter("-n"), 4, 1, "Illegal option `-n'");
        err_at(&filter("-w"), 4, 10, "You cannot use `-w'");
        err_at(&filter("-h"), 4, 10, "help");
        err_at(&filter("-N FOO"), 4, 10, "Cannot use -N with -A");
        // -v is harmless; a -6 line is ignored by the IPv4 restore.
        one("-v -j ACCEPT");
        let rs = ok(&filter("-6 -j ACCEPT"));
        assert!(rules_of(&rs, TableName::Filter, "INPUT").is_empty());
        // -j takes its name from the word before optind in 1.8.9.
        err_at(&filter("-jACCEPT"), 5, 1, "Chain '-jACCEPT' does not exist");
    }

    #[test]
    fn no_target_is_a_counting_rule() {
        let r = one("-s 10.0.0.1");
        assert_eq!(r.target, None);
        let rs = ok("*filter\n:Drop - [0:0]\n-A Drop\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "Drop");
        assert!(r[0].matches.is_empty() && r[0].target.is_none());
    }

    // ----- matches --------------------------------------------------------------------

    #[test]
    fn tcp_udp_sctp() {
        let r = one(
            "-p tcp --sport 1024: ! --dport 1:1024 --tcp-flags SYN,RST,ACK SYN ! --tcp-option 2",
        );
        let want = TcpMatch {
            sport: Some(PortMatch {
                range: PortRange {
                    lo: 1024,
                    hi: 65535,
                },
                neg: false,
            }),
            dport: Some(PortMatch {
                range: PortRange { lo: 1, hi: 1024 },
                neg: true,
            }),
            flags: Some(TcpFlags {
                mask: 0x16,
                comp: 0x02,
                neg: false,
            }),
            option: Some((2, true)),
        };
        assert_eq!(r.matches[1], Match::Tcp(want));
        let t = |s: &str| match &one(&format!("-p tcp {s}")).matches[1] {
            Match::Tcp(t) => t.clone(),
            m => panic!("{m:?}"),
        };
        assert_eq!(t("--syn").flags.unwrap().mask, 0x17);
        assert!(t("! --syn").flags.unwrap().neg);
        assert_eq!(t("--tcp-flags ALL NONE").flags.unwrap().mask, 0x3f);
        assert_eq!(t("--tcp-flags syn,ack syn").flags.unwrap().comp, 0x02);
        assert_eq!(
            t("--dport :1024").dport.unwrap().range,
            PortRange { lo: 0, hi: 1024 }
        );
        assert_eq!(t("--dport ssh").dport.unwrap().range, PortRange::single(22));
        assert_eq!(
            t("--dport 0x16").dport.unwrap().range,
            PortRange::single(22)
        );
        assert_eq!(
            t("--sport 0:65535").sport,
            None,
            "the default range is no test"
        );
        err_at(&filter("-p tcp --dport 100:10"), 4, 25, "min > max");
        err_at(
            &filter("-p tcp --dport 70000"),
            4,
            25,
            "invalid port/service `70000'",
        );
        err_at(
            &filter("-p tcp --tcp-flags SYN -j DROP"),
            4,
            17,
            "requires two args",
        );
        err_at(
            &filter("-p tcp --tcp-flags FOO SYN"),
            4,
            29,
            "Unknown TCP flag `FOO'",
        );
        err_at(&filter("-p tcp --tcp-option 0"), 4, 30, "Bad TCP option");
        err_at(
            &filter("-p tcp --syn --tcp-flags A B"),
            4,
            23,
            "Only one of `--syn'",
        );
        err_at(
            &filter("-p tcp --dport 1 --dport 2"),
            4,
            27,
            "Only one `--destination-port'",
        );
        // udp ports wrap as getaddrinfo does and a reversed range is kept (never matches).
        let u = |s: &str| match &one(&format!("-p udp {s}")).matches[1] {
            Match::Udp(u) => u.clone(),
            m => panic!("{m:?}"),
        };
        assert_eq!(
            u("--dport 70000").dport.unwrap().range,
            PortRange::single(4464)
        );
        assert_eq!(
            u("--dport 100:10").dport.unwrap().range,
            PortRange { lo: 100, hi: 10 }
        );
        assert_eq!(
            u("--sport domain").sport.unwrap().range,
            PortRange::single(53)
        );
        err_at(
            &filter("-p udp --dport 1:2:3"),
            4,
            25,
            "Too many components",
        );
        let r = one("-p sctp --dport 50000");
        assert!(matches!(r.matches[1], Match::Sctp(_)));
        let r = one("-p sctp --chunk-types any INIT");
        assert!(matches!(r.matches[1], Match::Unsupported { .. }));
    }

    #[test]
    fn protocol_requirements() {
        err_at(
            &filter("-m tcp --dport 1"),
            4,
            13,
            "TCP match requires '-p tcp'",
        );
        err_at(
            &filter("-p tcp -m udp --dport 1"),
            4,
            20,
            "UDP match requires '-p udp'",
        );
        // Native nf_tables translation does not look at the negation.
        one("! -p tcp -m tcp --dport 80");
        // What goes through xt compat is checked by the kernel at COMMIT, at the rule.
        err_at(&filter("-m tcp"), 4, 1, "needs `-p tcp`");
        ok(&filter("-p tcp -m tcp"));
        err_at(&filter("-m icmp --icmp-type 8"), 4, 1, "needs `-p icmp`");
        err_at(&filter("! -p icmp --icmp-type 8"), 4, 1, "needs `-p icmp`");
        err_at(
            &filter("-p tcp -m multiport --dports 1 -p udp"),
            4,
            41,
            "multiple -p",
        );
        err_at(
            &filter("-m multiport --dports 80"),
            4,
            23,
            "multiport needs `-p tcp'",
        );
        err_at(
            &filter("-p icmp -m multiport --dports 80"),
            4,
            31,
            "only works with TCP",
        );
        err_at(
            &filter("! -p tcp -m multiport --dports 80"),
            4,
            32,
            "only works with TCP",
        );
        // Options are parsed when they appear: -p must come before them.
        err_at(
            &filter("-m multiport --dports 80 -p tcp"),
            4,
            23,
            "multiport needs",
        );
        err_at(
            "*mangle\n-A FORWARD -j TCPMSS --set-mss 1400\nCOMMIT\n",
            2,
            1,
            "needs `-p tcp`",
        );
        err_at(
            &filter("-j REJECT --reject-with tcp-reset"),
            4,
            1,
            "needs `-p tcp`",
        );
        ok(&filter("-p tcp -j REJECT --reject-with tcp-reset"));
        err_at(&filter("-m esp --espspi 5"), 4, 1, "needs `-p esp`");
    }

    #[test]
    fn implicit_protocol_match_and_option_ownership() {
        // kube-proxy's order: the option belongs to the loaded tcp match.
        let r = one("-m tcp -p tcp -d 172.30.0.46 --dport 80 -j ACCEPT");
        assert_eq!(
            r.spec(),
            "-d 172.30.0.46/32 -p tcp -m tcp --dport 80 -j ACCEPT"
        );
        // The implicit match is loaded where its first option appears.
        let r = one("-p tcp -m comment --comment x --dport 1 -j ACCEPT");
        assert!(matches!(r.matches[1], Match::Comment(_)));
        assert!(matches!(r.matches[2], Match::Tcp(_)));
        // An option goes to the most recently loaded extension that has it.
        let r = one("-p udp -m multiport --dports 53 -m udp --dport 5 -j ACCEPT");
        assert!(matches!(r.matches[2], Match::Udp(_)));
        // A repeated match is a clone whose options are not merged again: here `--mark`
        // resolves to connmark, loaded in between, which already has it (iptables 1.8.9).
        err_w(
            &filter("-m mark --mark 1 -m connmark ! --mark 2 -m mark --mark 3"),
            4,
            "--mark 3",
            "connmark: option \"--mark\" can only be used once",
        );
        let r = one("-m mark --mark 1 -m length --length 5 -m mark --mark 3 -j ACCEPT");
        assert!(matches!(r.matches[2], Match::Mark { value: 3, .. }));
        // Numbers load the protocol's match too.
        let r = one("-p 6 --dport 22 -j ACCEPT");
        assert!(matches!(r.matches[1], Match::Tcp(_)));
        // gre has no match: --dport is unknown.
        err_at(
            &filter("-p gre --dport 1"),
            4,
            17,
            "unknown option \"--dport\"",
        );
        // A target's options: LOG does not know --dport, so tcp gets loaded.
        let r = one("-p tcp -j LOG --dport 22");
        assert!(matches!(r.matches[1], Match::Tcp(_)));
        err_at(&filter("-j LOG --foo"), 4, 17, "unknown option \"--foo\"");
        err_at(&filter("-j ACCEPT --log-prefix x"), 4, 20, "unknown option");
    }

    #[test]
    fn icmp() {
        let i = |s: &str| match &one(&format!("-p icmp --icmp-type {s}")).matches[1] {
            Match::Icmp(i) => (i.icmp_type, i.code_min, i.code_max, i.neg),
            m => panic!("{m:?}"),
        };
        assert_eq!(i("echo-request"), (8, 0, 255, false));
        assert_eq!(i("ECHO-REQ"), (8, 0, 255, false));
        assert_eq!(i("port-unreachable"), (3, 3, 3, false));
        assert_eq!(i("any"), (255, 0, 255, false));
        assert_eq!(i("8"), (8, 0, 255, false));
        assert_eq!(i("3/4"), (3, 4, 4, false));
        assert_eq!(i("3/1:3"), (3, 1, 3, false));
        let r = one("-p icmp ! --icmp-type 11 -j ACCEPT");
        assert!(matches!(
            r.matches[1],
            Match::Icmp(IcmpMatch { neg: true, .. })
        ));
        err_at(
            &filter("-p icmp --icmp-type echo"),
            4,
            30,
            "Ambiguous ICMP type",
        );
        err_at(
            &filter("-p icmp --icmp-type 3:4"),
            4,
            30,
            "type range not supported",
        );
        err_at(
            &filter("-p icmp --icmp-type 300"),
            4,
            30,
            "Unknown ICMP type",
        );
        err_at(
            &filter("-p icmp --icmp-type 3/x"),
            4,
            30,
            "Unknown ICMP code",
        );
        err_at(
            &filter("-p icmp -m icmp"),
            4,
            21,
            "--icmp-type\" must be specified",
        );
    }

    #[test]
    fn multiport_iprange_addrtype() {
        let r = one("-p tcp -m multiport ! --dports 80,https,8000:8080 -j ACCEPT");
        assert_eq!(
            r.matches[1],
            Match::Multiport(MultiportMatch {
                dir: MultiportDir::Destination,
                ports: vec![
                    PortRange::single(80),
                    PortRange::single(443),
                    PortRange { lo: 8000, hi: 8080 }
                ],
                neg: true,
            })
        );
        let fifteen: Vec<String> = (1..=15).map(|p| p.to_string()).collect();
        one(&format!(
            "-p tcp -m multiport --ports {}",
            fifteen.join(",")
        ));
        err_at(
            &filter(&format!(
                "-p tcp -m multiport --ports {},16",
                fifteen.join(",")
            )),
            4,
            38,
            "too many ports",
        );
        err_at(
            &filter("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15:16"),
            4,
            38,
            "too many ports",
        );
        err_at(
            &filter("-p tcp -m multiport --dports 5:5"),
            4,
            39,
            "invalid portrange",
        );
        err_at(&filter("-p tcp -m multiport"), 4, 20, "expection an option");
        err_at(
            &filter("-p tcp -m multiport --dports 1 --sports 2"),
            4,
            20,
            "cannot be used together",
        );
        let r = one("-m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 10.1 -j ACCEPT");
        assert_eq!(
            r.matches[0],
            Match::IpRange(IpRangeMatch {
                src: Some(AddrRange {
                    lo: "10.0.0.1".parse().unwrap(),
                    hi: "10.0.0.9".parse().unwrap(),
                    neg: false
                }),
                dst: Some(AddrRange {
                    lo: "10.1.0.0".parse().unwrap(),
                    hi: "10.1.0.0".parse().unwrap(),
                    neg: true
                }),
            })
        );
        err_at(
            &filter("-m iprange --src-range x"),
            4,
            33,
            "Bad value for \"--src-range\"",
        );
        err_at(&filter("-m iprange"), 4, 13, "You must specify");
        let r = one("-m addrtype --src-type LOCAL,broadcast ! --dst-type LOC --limit-iface-in");
        assert_eq!(
            r.matches[0],
            Match::AddrType(AddrTypeMatch {
                src: Some((rtn::LOCAL | rtn::BROADCAST, false)),
                dst: Some((rtn::LOCAL, true)),
                limit: Some(AddrTypeLimit::In),
            })
        );
        err_at(&filter("-m addrtype --dst-type FOO"), 4, 33, "bad type");
        err_at(
            &filter("-m addrtype --limit-iface-in"),
            4,
            13,
            "--src-type or --dst-type",
        );
        err_at(
            &filter("-m addrtype --dst-type LOCAL --limit-iface-in --limit-iface-out"),
            4,
            13,
            "cannot be used together",
        );
    }

    #[test]
    fn marks_lengths_ttl_tos_dscp_pkttype() {
        assert_eq!(
            one("-m mark ! --mark 0x4000/0x4000").matches[0],
            Match::Mark {
                value: 0x4000,
                mask: 0x4000,
                neg: true
            }
        );
        assert_eq!(
            one("-m connmark --mark 2").matches[0],
            Match::ConnMark {
                value: 2,
                mask: u32::MAX,
                neg: false
            }
        );
        err_at(&filter("-m mark --mark 1/2/3"), 4, 25, "trailing garbage");
        err_at(
            &filter("-m mark --mark 0x100000000"),
            4,
            25,
            "bad integer value",
        );
        let len = |s: &str| one(&format!("-m length {s}")).matches[0].clone();
        assert_eq!(
            len("--length 100:200"),
            Match::Length {
                min: 100,
                max: 200,
                neg: false
            }
        );
        assert_eq!(
            len("! --length 1500"),
            Match::Length {
                min: 1500,
                max: 1500,
                neg: true
            }
        );
        assert_eq!(
            len("--length 100:"),
            Match::Length {
                min: 100,
                max: 65535,
                neg: false
            }
        );
        err_at(
            &filter("-m length --length 1:2:3"),
            4,
            29,
            "Too many components",
        );
        err_at(&filter("-m length --length 70000"), 4, 29, "out of range");
        let ttl = |s: &str| one(&format!("-m ttl {s}")).matches[0].clone();
        assert_eq!(
            ttl("! --ttl-eq 64"),
            Match::Ttl {
                op: TtlOp::Ne,
                value: 64
            }
        );
        assert_eq!(
            ttl("--ttl-lt 5"),
            Match::Ttl {
                op: TtlOp::Lt,
                value: 5
            }
        );
        err_at(&filter("-m ttl ! --ttl-gt 5"), 4, 19, "cannot be inverted");
        err_at(
            &filter("-m ttl --ttl-eq 5 --ttl-lt 6"),
            4,
            13,
            "cannot be used together",
        );
        assert_eq!(
            one("-m tos --tos Minimize-Delay").matches[0],
            Match::Tos {
                value: 0x10,
                mask: 0x3f,
                neg: false
            }
        );
        assert_eq!(
            one("-m tos ! --tos 0x10").matches[0],
            Match::Tos {
                value: 0x10,
                mask: 0xff,
                neg: true
            }
        );
        assert_eq!(
            one("-m dscp --dscp-class af41").matches[0],
            Match::Dscp {
                dscp: 0x22,
                neg: false
            }
        );
        err_at(&filter("-m dscp --dscp 64"), 4, 25, "out of range (0-63)");
        assert_eq!(
            one("-m pkttype ! --pkt-type bcast").matches[0],
            Match::PktType {
                kind: PktType::Broadcast,
                neg: true
            }
        );
        err_at(
            &filter("-m pkttype --pkt-type foo"),
            4,
            32,
            "Bad packet type",
        );
    }

    #[test]
    fn state_and_conntrack() {
        assert_eq!(
            one("-m state --state new,est").matches[0],
            Match::State {
                states: ctstate::NEW | ctstate::ESTABLISHED,
                neg: false
            }
        );
        err_at(&filter("-m state --state SNAT"), 4, 27, "Bad state");
        err_at(
            &filter("-m state --state NEW,"),
            4,
            27,
            "requires a list of states",
        );
        let r = one("-m conntrack --ctstate INVALID,NEW,UNTRACKED --ctproto 6 --ctorigdstport 53 --ctorigsrcport 1024:65535 --ctorigdst 131.159.20.148 --ctorigsrc 10.1.2.3/8 ! --ctstatus ASSURED --ctexpire 10:20 --ctdir REPLY");
        assert_eq!(
            r.matches[0],
            Match::Conntrack(ConntrackMatch {
                state: Some((ctstate::INVALID | ctstate::NEW | ctstate::UNTRACKED, false)),
                proto: Some((6, false)),
                orig_src: Some(NetMatch {
                    net: net("10.0.0.0", 8),
                    neg: false
                }),
                orig_dst: Some(NetMatch {
                    net: net("131.159.20.148", 32),
                    neg: false
                }),
                orig_src_port: Some(PortMatch {
                    range: PortRange {
                        lo: 1024,
                        hi: 65535
                    },
                    neg: false
                }),
                orig_dst_port: Some(PortMatch {
                    range: PortRange::single(53),
                    neg: false
                }),
                status: Some((ctstatus::ASSURED, true)),
                expire: Some((10, 20, false)),
                dir: Some(CtDir::Reply),
                ..Default::default()
            })
        );
        err_at(&filter("-m conntrack"), 4, 13, "At least one option");
        err_at(
            &filter("-m conntrack --ctstate NEW --ctstate NEW"),
            4,
            37,
            "only be used once",
        );
        err_at(&filter("-m conntrack --ctstate FOO"), 4, 33, "Bad ctstate");
        err_at(
            &filter("-m conntrack --ctorigsrc host.example"),
            4,
            35,
            "never resolves",
        );
        err_at(
            &filter("-m conntrack ! --ctdir REPLY"),
            4,
            25,
            "cannot be inverted",
        );
    }

    #[test]
    fn statistic_limit_recent() {
        let st = |s: &str| match &one(&format!("-m statistic {s}")).matches[0] {
            Match::Statistic(m) => *m,
            m => panic!("{m:?}"),
        };
        assert_eq!(
            st("--mode random --probability 0.5").mode,
            StatisticMode::Random {
                probability: 0x4000_0000
            }
        );
        assert_eq!(
            st("--mode random --probability 0.33333333349").mode,
            StatisticMode::Random {
                probability: 715_827_883
            }
        );
        assert_eq!(
            st("--mode random --probability 0.5000000000").mode,
            StatisticMode::Random {
                probability: 0x4000_0000
            }
        );
        assert!(st("--mode random ! --probability 0.25").neg);
        assert_eq!(
            st("--mode nth --every 3 --packet 2").mode,
            StatisticMode::Nth {
                every: 3,
                packet: 2
            }
        );
        err_at(
            &filter("-m statistic --mode nth --every 3 --packet 3"),
            4,
            13,
            "0 <= p <= n-1",
        );
        err_at(
            &filter("-m statistic --mode nth --every 3"),
            4,
            13,
            "also requires",
        );
        err_at(
            &filter("-m statistic --mode random"),
            4,
            13,
            "--probability must be",
        );
        err_at(
            &filter("-m statistic --mode random --probability 1.5"),
            4,
            51,
            "out of range",
        );
        err_at(&filter("-m statistic --mode foo"), 4, 30, "Bad mode");
        let lim = |s: &str| match &one(&format!("-m limit {s}")).matches[0] {
            Match::Limit(l) => *l,
            m => panic!("{m:?}"),
        };
        let l = lim("--limit 3/min --limit-burst 10");
        assert_eq!((l.avg, l.burst, l.count, l.per_secs), (200_000, 10, 3, 60));
        let l = lim("");
        assert_eq!(
            (l.avg, l.burst, l.count, l.per_secs),
            (12_000_000, 5, 3, 3600)
        );
        assert_eq!(lim("--limit 1/s").avg, 10_000);
        assert_eq!(lim("--limit 5/M").avg, 120_000);
        assert_eq!(lim("--limit 2/day").avg, 432_000_000);
        assert_eq!(lim("--limit 7").avg, 1428);
        err_at(&filter("-m limit --limit 10001/s"), 4, 27, "Rate too fast");
        err_at(&filter("-m limit --limit 5/minutes"), 4, 27, "bad rate");
        err_at(
            &filter("-m limit ! --limit 1/s"),
            4,
            21,
            "cannot be inverted",
        );
        err_at(
            &filter("-m limit --limit-burst 10001"),
            4,
            33,
            "out of range",
        );
        let rc = |s: &str| match &one(&format!("-m recent {s}")).matches[0] {
            Match::Recent(r) => r.clone(),
            m => panic!("{m:?}"),
        };
        let r = rc("--update --seconds 60 --hitcount 4 --name SSH --rdest --mask 255.255.0.0");
        assert_eq!(r.op, RecentOp::Update);
        assert_eq!((r.seconds, r.hitcount), (60, 4));
        assert_eq!(r.name, "SSH");
        assert_eq!(r.side, RecentSide::Dest);
        assert_eq!(r.mask, Ipv4Addr::new(255, 255, 0, 0));
        let r = rc("! --rcheck");
        assert!(r.neg && r.op == RecentOp::Check && r.name == "DEFAULT");
        assert_eq!(r.mask, Ipv4Addr::BROADCAST);
        err_at(&filter("-m recent"), 4, 13, "you must specify one of");
        err_at(
            &filter("-m recent --set --rcheck"),
            4,
            13,
            "cannot be used together",
        );
        err_at(&filter("-m recent --update --reap"), 4, 13, "also requires");
        // The kernel keeps at most 65535 hits per address (XT_RECENT_MAX_NSTAMPS - 1).
        rc("--rcheck --hitcount 65535 --name x");
        err_at(
            &filter("-m recent --rcheck --hitcount 65536 --name x"),
            4,
            1,
            "more than the kernel keeps",
        );
        err_at(
            &filter("-m recent --set --rttl"),
            4,
            13,
            "cannot be used together",
        );
        err_at(
            &filter("-m recent --set --seconds 5"),
            4,
            1,
            "take no --seconds",
        );
        err_at(
            &filter("-m recent --set --name a/b"),
            4,
            1,
            "invalid list name",
        );
    }

    #[test]
    fn unsupported_matches_are_kept_not_errors() {
        let rs = ok("*filter\n\
             -A INPUT -m set ! --match-set KUBE-LOOP-BACK dst,dst,src -j ACCEPT\n\
             -A OUTPUT -m owner --uid-owner 1000 -j ACCEPT\n\
             -A INPUT -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name x -j DROP\n\
             -A INPUT -m foo --bar 1 2 ! --baz -j DROP\n\
             -A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP\n\
             COMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        match &r[0].matches[0] {
            Match::Unsupported {
                module,
                options,
                loc,
                reason,
            } => {
                assert_eq!(module, "set");
                assert_eq!(
                    options,
                    &["!", "--match-set", "KUBE-LOOP-BACK", "dst,dst,src"]
                );
                assert_eq!(
                    *loc,
                    Loc {
                        line: 2,
                        column: 13
                    }
                );
                assert!(reason.contains("ipset"));
            }
            m => panic!("{m:?}"),
        }
        match &r[2].matches[0] {
            Match::Unsupported {
                module, options, ..
            } => {
                assert_eq!(module, "foo");
                assert_eq!(options, &["--bar", "1", "2", "!", "--baz"]);
            }
            m => panic!("{m:?}"),
        }
        let list = rs.unsupported();
        assert_eq!(list.len(), 5);
        assert_eq!(
            list[0].0,
            Loc {
                line: 2,
                column: 13
            }
        );
        assert!(list[0]
            .1
            .starts_with("match `set` (ipset) is not supported"));
        assert!(list.iter().any(|(_, m)| m.contains("xtables-addons")));
        // The mac address must still be a valid one (corpus 01).
        err_at(
            &filter("-m mac --mac-source XX:XX:XX:XX:XX:XX -j DROP"),
            4,
            30,
            "Invalid MAC address",
        );
        // Hook restrictions of unsupported matches are still the kernel's.
        err_at(
            &filter("-m owner --uid-owner 0"),
            4,
            1,
            "only valid in OUTPUT/POSTROUTING",
        );
        err_at(
            &table("filter", "OUTPUT", "-m mac"),
            2,
            1,
            "only valid in PREROUTING",
        );
    }

    // ----- targets --------------------------------------------------------------------

    fn target(t: &str, chain: &str, spec: &str) -> Target {
        let rs = ok(&table(t, chain, spec));
        let r = rules_of(&rs, TableName::from_name(t).unwrap(), chain);
        r[0].target.clone().unwrap()
    }

    #[test]
    fn simple_targets() {
        assert_eq!(target("filter", "INPUT", "-j ACCEPT"), Target::Accept);
        assert_eq!(target("filter", "INPUT", "-j DROP"), Target::Drop);
        assert_eq!(target("raw", "OUTPUT", "-j RETURN"), Target::Return);
        assert_eq!(target("raw", "OUTPUT", "-j TRACE"), Target::Trace);
        assert_eq!(target("raw", "OUTPUT", "-j NOTRACK"), Target::NoTrack);
        assert_eq!(
            target(
                "mangle",
                "POSTROUTING",
                "-p udp -j CHECKSUM --checksum-fill"
            ),
            Target::Checksum
        );
        let rs = ok("*filter\n:U - [0:0]\n-A INPUT -j U\n-A INPUT -g U\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        assert_eq!(r[0].target, Some(Target::Jump("U".into())));
        assert_eq!(r[1].target, Some(Target::Goto("U".into())));
        err_at(&filter("-j DROP -j ACCEPT"), 4, 18, "multiple -j flags");
        err_at(&filter("-j U -g U"), 4, 15, "multiple -j flags");
        err_at(
            &table("nat", "PREROUTING", "-j DROP"),
            2,
            18,
            "not intended for filtering",
        );
        err_at(
            "*nat\n-P PREROUTING DROP\nCOMMIT\n",
            2,
            15,
            "not intended for filtering",
        );
    }

    #[test]
    fn reject_and_log() {
        let rj = |s: &str| target("filter", "INPUT", s);
        assert_eq!(rj("-j REJECT"), Target::Reject(RejectWith::PortUnreachable));
        assert_eq!(
            rj("-j REJECT --reject-with net-unreach"),
            Target::Reject(RejectWith::NetUnreachable)
        );
        assert_eq!(
            rj("-j REJECT --reject-with icmp-h"),
            Target::Reject(RejectWith::HostUnreachable)
        );
        assert_eq!(
            rj("-p tcp -j REJECT --reject-with tcp-rst"),
            Target::Reject(RejectWith::TcpReset)
        );
        assert_eq!(
            rj("-j REJECT --reject-with admin-prohib"),
            Target::Reject(RejectWith::AdminProhibited)
        );
        err_at(
            &filter("-j REJECT --reject-with foo"),
            4,
            34,
            "unknown reject type",
        );
        let log = rj(
            r#"-j LOG --log-prefix "\'[INPUT]\' and a very long prefix" --log-level info --log-tcp-sequence --log-uid"#,
        );
        assert_eq!(
            log,
            Target::Log(LogTarget {
                level: 6,
                prefix: "'[INPUT]' and a very long pre".into(),
                flags: logflag::TCPSEQ | logflag::UID,
            })
        );
        err_at(
            &filter("-j LOG --log-level warn"),
            4,
            29,
            "log level \"warn\" unknown",
        );
        err_at(&filter("-j LOG --log-prefix \"\""), 4, 30, "minimum length");
        err_at(
            &filter("-j LOG --log-prefix a --log-prefix b"),
            4,
            32,
            "only be used once",
        );
        let nf =
            rj("-j NFLOG --nflog-group 5 --nflog-prefix hi --nflog-size 100 --nflog-threshold 3");
        assert_eq!(
            nf,
            Target::Nflog(NflogTarget {
                group: 5,
                prefix: "hi".into(),
                len: 100,
                size_given: true,
                threshold: 3,
            })
        );
        err_at(
            &filter("-j NFLOG --nflog-range 1 --nflog-size 2"),
            4,
            13,
            "cannot be used together",
        );
    }

    #[test]
    fn mark_connmark_ttl_tos_dscp_tcpmss() {
        let m = |s: &str| target("mangle", "PREROUTING", &format!("-j MARK {s}"));
        assert_eq!(
            m("--set-mark 5"),
            Target::Mark {
                value: 5,
                mask: u32::MAX
            }
        );
        assert_eq!(
            m("--set-mark 5/0xff"),
            Target::Mark {
                value: 5,
                mask: 0xff
            }
        );
        assert_eq!(
            m("--set-xmark 0x4000/0x4000"),
            Target::Mark {
                value: 0x4000,
                mask: 0x4000
            }
        );
        assert_eq!(
            m("--or-mark 0x4000"),
            Target::Mark {
                value: 0x4000,
                mask: 0x4000
            }
        );
        assert_eq!(
            m("--and-mark 0xff"),
            Target::Mark {
                value: 0,
                mask: !0xff
            }
        );
        assert_eq!(m("--xor-mark 3"), Target::Mark { value: 3, mask: 0 });
        err_w(
            &table("mangle", "PREROUTING", "-j MARK"),
            2,
            "MARK",
            "options is required",
        );
        let c = |s: &str| match target("mangle", "PREROUTING", &format!("-j CONNMARK {s}")) {
            Target::ConnMark(c) => c,
            t => panic!("{t:?}"),
        };
        assert_eq!(
            c("--save-mark").op,
            ConnmarkOp::Save {
                nfmask: u32::MAX,
                ctmask: u32::MAX
            }
        );
        assert_eq!(
            c("--restore-mark --nfmask 0xff --ctmask 0xf").op,
            ConnmarkOp::Restore {
                nfmask: 0xff,
                ctmask: 0xf
            }
        );
        assert_eq!(
            c("--save-mark --mask 0xff").op,
            ConnmarkOp::Save {
                nfmask: 0xff,
                ctmask: 0xff
            }
        );
        assert_eq!(
            c("--set-mark 0xa00/0xff00").op,
            ConnmarkOp::Set {
                value: 0xa00,
                mask: 0xff00
            }
        );
        assert_eq!(
            c("--set-xmark 1/1 --ctmask 0xff").op,
            ConnmarkOp::Set {
                value: 1,
                mask: 0xff
            }
        );
        let sh = c("--restore-mark --right-shift-mark 3");
        assert!(sh.shift_right && sh.shift_bits == 3);
        // iptables takes 0-32, the kernel only 0-31.
        err_at(
            &table(
                "mangle",
                "PREROUTING",
                "-j CONNMARK --save-mark --left-shift-mark 32",
            ),
            2,
            1,
            "32 bits or more",
        );
        let tt = |s: &str| target("mangle", "FORWARD", s);
        assert_eq!(tt("-j TTL --ttl-set 64"), Target::Ttl(TtlAction::Set(64)));
        assert_eq!(tt("-j TTL --ttl-dec 1"), Target::Ttl(TtlAction::Dec(1)));
        assert_eq!(tt("-j TTL --ttl-inc 2"), Target::Ttl(TtlAction::Inc(2)));
        err_at(
            &table("mangle", "FORWARD", "-j TTL --ttl-inc 0"),
            2,
            29,
            "out of range (1-255)",
        );
        assert_eq!(
            tt("-j TOS --set-tos Minimize-Delay"),
            Target::Tos {
                value: 0x10,
                mask: 0x3f
            }
        );
        assert_eq!(
            tt("-j TOS --and-tos 0x10"),
            Target::Tos {
                value: 0,
                mask: 0xef
            }
        );
        assert_eq!(tt("-j DSCP --set-dscp-class EF"), Target::Dscp(0x2e));
        assert_eq!(
            tt("-p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"),
            Target::TcpMss(TcpMssAction::ClampToPmtu)
        );
        assert_eq!(
            tt("-p tcp -j TCPMSS --set-mss 1400"),
            Target::TcpMss(TcpMssAction::Set(1400))
        );
    }

    #[test]
    fn ct_and_nat_targets() {
        let ct = |s: &str| match target("raw", "PREROUTING", &format!("-j CT {s}")) {
            Target::Ct(c) => c,
            t => panic!("{t:?}"),
        };
        assert!(ct("--notrack").notrack);
        assert_eq!(ct("--zone 5").zone.map(|z| z.id), Some(5));
        assert!(ct("--zone-reply mark")
            .zone
            .is_some_and(|z| z.from_mark && z.reply_only));
        assert_eq!(ct("--ctevents new,destroy").ct_events, 0b101);
        let h = target("raw", "PREROUTING", "-p udp --dport 69 -j CT --helper tftp");
        assert!(matches!(
            h,
            Target::Ct(CtTarget {
                helper: Some(_),
                ..
            })
        ));
        err_at(
            &table("raw", "PREROUTING", "-j CT --helper ftp"),
            2,
            1,
            "no helper `ftp`",
        );
        err_at(
            &table("raw", "PREROUTING", "-p udp -j CT --helper ftp"),
            2,
            1,
            "no helper",
        );
        // The kernel accepts any helper name with --notrack: it never looks it up.
        target("raw", "PREROUTING", "-j CT --notrack --helper ftp");
        err_w(
            &table("raw", "PREROUTING", "-j CT --ctevents new,foo"),
            2,
            "new,foo",
            "Unknown event",
        );
        let t = target("raw", "PREROUTING", "-j CT --timeout x");
        assert!(matches!(t, Target::Unsupported { ref target, .. } if target == "CT"));

        let nat = |c: &str, s: &str| target("nat", c, s);
        assert_eq!(
            nat("POSTROUTING", "-j SNAT --to-source 1.2.3.4-1.2.3.10"),
            Target::Snat(NatRange {
                addrs: Some(("1.2.3.4".parse().unwrap(), "1.2.3.10".parse().unwrap())),
                ..Default::default()
            })
        );
        assert_eq!(
            nat(
                "POSTROUTING",
                "-p tcp -j SNAT --to-source 1.2.3.4:1000-2000 --random --persistent"
            ),
            Target::Snat(NatRange {
                addrs: Some(("1.2.3.4".parse().unwrap(), "1.2.3.4".parse().unwrap())),
                ports: Some(PortRange { lo: 1000, hi: 2000 }),
                random: true,
                persistent: true,
                ..Default::default()
            })
        );
        assert_eq!(
            nat(
                "PREROUTING",
                "-p tcp -j DNAT --to-destination 10.0.0.1:80-90/100"
            ),
            Target::Dnat(NatRange {
                addrs: Some(("10.0.0.1".parse().unwrap(), "10.0.0.1".parse().unwrap())),
                ports: Some(PortRange { lo: 80, hi: 90 }),
                base_port: Some(100),
                ..Default::default()
            })
        );
        assert_eq!(
            nat(
                "POSTROUTING",
                "-p tcp -j MASQUERADE --to-ports 1024-65535 --random-fully"
            ),
            Target::Masquerade(NatRange {
                ports: Some(PortRange {
                    lo: 1024,
                    hi: 65535
                }),
                random_fully: true,
                ..Default::default()
            })
        );
        assert_eq!(
            nat("OUTPUT", "-p tcp -j REDIRECT --to-ports 8080"),
            Target::Redirect(NatRange {
                ports: Some(PortRange::single(8080)),
                ..Default::default()
            })
        );
        assert_eq!(
            nat("PREROUTING", "-j NETMAP --to 10.1.2.3/8"),
            Target::Netmap(net("10.0.0.0", 8))
        );
        let e =
            |c: &str, s: &str, col: usize, what: &str| err_at(&table("nat", c, s), 2, col, what);
        e(
            "POSTROUTING",
            "-j SNAT",
            19,
            "--to-source\" must be specified",
        );
        e(
            "POSTROUTING",
            "-j SNAT --to-source 1.2.3.4 --to-source 5.6.7.8",
            44,
            "only be used once",
        );
        e(
            "POSTROUTING",
            "-j SNAT --to-source 1.2.3.4:80",
            36,
            "Need TCP, UDP, SCTP or DCCP",
        );
        e(
            "POSTROUTING",
            "-j SNAT --to-source 01.2.3.4",
            36,
            "Bad IP address \"01.2.3.4\"",
        );
        // Two colons make the whole thing an (IPv6-style) address.
        e(
            "POSTROUTING",
            "-p tcp -j SNAT --to-source 1.2.3.4:80:90",
            43,
            "Bad IP address \"1.2.3.4:80:90\"",
        );
        e(
            "PREROUTING",
            "-p tcp -j REDIRECT --to-ports 80:90",
            45,
            "use dash",
        );
        e(
            "POSTROUTING",
            "-p tcp -j SNAT --to-source 1.2.3.4:90-80",
            43,
            "funky",
        );
        // Corpus 30: --to-destination takes "--random" as its address.
        e(
            "PREROUTING",
            "-p tcp -j DNAT --to-destination  --random --to-destination  --random",
            48,
            "Bad IP address \"\"",
        );
        e(
            "PREROUTING",
            "-p tcp -j REDIRECT --to-ports 1-2/3",
            25,
            "Shifted portmap",
        );
    }

    #[test]
    fn unsupported_targets() {
        let rs = ok("*filter\n-A INPUT -j NFQUEUE --queue-num 3 --queue-bypass\n-A INPUT -j QUEUE\nCOMMIT\n");
        let r = rules_of(&rs, TableName::Filter, "INPUT");
        match &r[0].target {
            Some(Target::Unsupported {
                target, options, ..
            }) => {
                assert_eq!(target, "NFQUEUE");
                assert_eq!(options, &["--queue-num", "3", "--queue-bypass"]);
            }
            t => panic!("{t:?}"),
        }
        assert!(matches!(r[1].target, Some(Target::Unsupported { .. })));
        assert_eq!(rs.unsupported().len(), 2);
    }

    // ----- validation at COMMIT -------------------------------------------------------

    #[test]
    fn chains_must_exist() {
        // iptables-nft reports a missing jump target at the COMMIT line.
        err_at(
            &filter("-j NOPE"),
            5,
            1,
            "Chain 'NOPE' does not exist (jump at line 4, column 13)",
        );
        err_at(&filter("-g NOPE"), 5, 1, "Chain 'NOPE' does not exist");
        err_at(&filter("-g ACCEPT"), 5, 1, "Chain 'ACCEPT' does not exist");
        err_at(
            "*filter\n-A INPUT -j FOO\n:FOO - [0:0]\nCOMMIT\n",
            4,
            1,
            "Chain 'FOO'",
        );
        err_at(
            "*nat\n:X - [0:0]\nCOMMIT\n*filter\n-A INPUT -j X\nCOMMIT\n",
            6,
            1,
            "Chain 'X' does not exist",
        );
        // -A to an undeclared chain fails at the rule.
        err_at(
            "*filter\n-A FOO -j ACCEPT\n-A INPUT -j ACCEPT\nCOMMIT\n",
            2,
            4,
            "chain `FOO' does not exist",
        );
        // The first command that fails is the error, parse errors come first.
        err_at(
            "*filter\n-A INPUT -j FOO\n-A INPUT --bogus\nCOMMIT\n",
            3,
            10,
            "unknown option",
        );
        err_at(
            "*filter\n-A BAR\n-A INPUT -j FOO\nCOMMIT\n",
            2,
            4,
            "chain `BAR'",
        );
        err_at(
            "*filter\n-A INPUT -j FOO\n-A BAR\nCOMMIT\n",
            4,
            1,
            "Chain 'FOO'",
        );
        // Jumping to a built-in chain is refused by the kernel.
        err_at(&filter("-j INPUT"), 4, 1, "built-in chain `INPUT`");
    }

    #[test]
    fn table_restricted_targets() {
        let bad = [
            ("mangle", "INPUT", "-j REJECT", "`filter` table"),
            (
                "filter",
                "INPUT",
                "-j SNAT --to-source 1.2.3.4",
                "`nat` table",
            ),
            ("filter", "INPUT", "-j NOTRACK", "`raw` table"),
            ("mangle", "PREROUTING", "-j CT --notrack", "`raw` table"),
            ("filter", "FORWARD", "-j TTL --ttl-set 3", "`mangle` table"),
            (
                "filter",
                "FORWARD",
                "-p udp -j CHECKSUM --checksum-fill",
                "`mangle` table",
            ),
            (
                "nat",
                "PREROUTING",
                "-j SNAT --to-source 1.2.3.4",
                "INPUT/POSTROUTING",
            ),
            (
                "nat",
                "POSTROUTING",
                "-j DNAT --to-destination 1.2.3.4",
                "PREROUTING/OUTPUT",
            ),
            (
                "nat",
                "OUTPUT",
                "-j MASQUERADE",
                "only valid in POSTROUTING",
            ),
            (
                "nat",
                "POSTROUTING",
                "-p tcp -j REDIRECT",
                "PREROUTING/OUTPUT",
            ),
            (
                "mangle",
                "INPUT",
                "-p tcp -j TCPMSS --clamp-mss-to-pmtu",
                "FORWARD/OUTPUT",
            ),
            (
                "raw",
                "OUTPUT",
                "-m addrtype --dst-type LOCAL --limit-iface-in",
                "PREROUTING/INPUT",
            ),
        ];
        for (t, c, spec, what) in bad {
            err_at(&table(t, c, spec), 2, 1, what);
        }
        for (t, c, spec) in [
            ("nat", "INPUT", "-j SNAT --to-source 1.2.3.4"),
            ("nat", "OUTPUT", "-j DNAT --to-destination 1.2.3.4"),
            ("nat", "OUTPUT", "-p tcp -j REDIRECT --to-ports 80"),
            ("nat", "POSTROUTING", "-j NETMAP --to 10.0.0.0/8"),
            ("raw", "PREROUTING", "-j TRACE"),
            ("filter", "INPUT", "-j TRACE"),
            ("nat", "PREROUTING", "-j MARK --set-mark 1"),
            ("security", "INPUT", "-j CONNMARK --save-mark"),
        ] {
            ok(&table(t, c, spec));
        }
    }

    #[test]
    fn hook_restrictions_follow_jumps() {
        // SNAT in a user chain reached from PREROUTING fails at the jump that makes it so.
        err_at(
            "*nat\n:U - [0:0]\n-A U -j SNAT --to-source 1.2.3.4\n-A PREROUTING -j ACCEPT\n-A PREROUTING -j U\nCOMMIT\n",
            5,
            1,
            "target `SNAT` (line 3) is only valid in INPUT/POSTROUTING, not in PREROUTING (chain `U` is reached from PREROUTING)",
        );
        // ... or at the rule, when the chain was reachable first.
        err_at(
            "*nat\n:U - [0:0]\n:V - [0:0]\n-A OUTPUT -j V\n-A V -j U\n-A U -j MASQUERADE\nCOMMIT\n",
            6,
            1,
            "MASQUERADE",
        );
        ok("*nat\n:U - [0:0]\n-A U -j SNAT --to-source 1.2.3.4\n-A POSTROUTING -j U\n-A INPUT -j U\nCOMMIT\n");
        // Unreachable chains are not restricted.
        ok("*filter\n:U - [0:0]\n-A U -j REJECT\nCOMMIT\n");
        // checkentry restrictions only see rules in built-in chains.
        ok("*mangle\n:U - [0:0]\n-A U -p tcp -j TCPMSS --clamp-mss-to-pmtu\n-A INPUT -j U\nCOMMIT\n");
        err_at(
            "*filter\n:U - [0:0]\n-A U -m owner --uid-owner 0 -j ACCEPT\n-A INPUT -j U\nCOMMIT\n",
            4,
            1,
            "match `owner`",
        );
    }

    #[test]
    fn loops_and_depth() {
        err_at(
            "*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\n-A INPUT -j A\nCOMMIT\n",
            6,
            1,
            "jump loop: A -> B -> A (reachable from built-in chain `INPUT`",
        );
        err_at(
            "*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A INPUT -j ACCEPT\n-A B -g A\nCOMMIT\n",
            7,
            1,
            "jump loop",
        );
        err_at(
            "*filter\n:A - [0:0]\n-A INPUT -j A\n-A A -j A\nCOMMIT\n",
            4,
            1,
            "jump loop",
        );
        // Loops nothing reaches are fine, as in the kernel.
        ok("*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j A\nCOMMIT\n");
        let deep = |n: usize, attach_last: bool| {
            let mut s = String::from("*filter\n");
            for i in 1..=n {
                s += &format!(":C{i} - [0:0]\n");
            }
            if !attach_last {
                s += "-A INPUT -j C1\n";
            }
            for i in 1..n {
                s += &format!("-A C{i} -g C{}\n", i + 1);
            }
            if attach_last {
                s += "-A INPUT -j C1\n";
            }
            s + "COMMIT\n"
        };
        ok(&deep(15, false));
        err_at(&deep(16, false), 2 + 16 + 15, 1, "16 jumps below `INPUT`");
        err_at(&deep(16, true), 2 + 16 + 15, 1, "nested too deep");
    }

    #[test]
    fn other_commands() {
        let rs = ok("*filter\n-A INPUT -j ACCEPT\n-I INPUT -j DROP\n-I INPUT 2 -s 1.2.3.4 -j RETURN\nCOMMIT\n");
        let specs: Vec<String> = rules_of(&rs, TableName::Filter, "INPUT")
            .iter()
            .map(|r| r.spec())
            .collect();
        assert_eq!(specs, ["-j DROP", "-s 1.2.3.4/32 -j RETURN", "-j ACCEPT"]);
        err_at(
            "*filter\n-I INPUT 3 -j DROP\nCOMMIT\n",
            2,
            10,
            "insertion too big",
        );
        let rs = ok("*filter\n-A INPUT -s 1.2.3.4 -j ACCEPT\n-A INPUT -j DROP\n-D INPUT -s 1.2.3.4/32 -j ACCEPT\n-C INPUT -j DROP\nCOMMIT\n");
        assert_eq!(rules_of(&rs, TableName::Filter, "INPUT").len(), 1);
        err_at("*filter\n-D INPUT -j ACCEPT\nCOMMIT\n", 2, 1, "Bad rule");
        let rs = ok("*filter\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\n-D INPUT 1\nCOMMIT\n");
        assert_eq!(
            rules_of(&rs, TableName::Filter, "INPUT")[0].target,
            Some(Target::Drop)
        );
        let rs = ok("*filter\n-N FOO\n-A FOO -j ACCEPT\n-A INPUT -j FOO\n-P INPUT DROP\nCOMMIT\n");
        let t = &rs.tables[0];
        assert_eq!(t.chain("FOO").unwrap().line, 2);
        assert_eq!(t.chain("INPUT").unwrap().policy, Some(Policy::Drop));
        err_at("*filter\n-P INPUT FOO\nCOMMIT\n", 2, 10, "Bad policy name");
        err_at("*filter\n-N LOG\nCOMMIT\n", 2, 4, "clash");
        err_at(
            "*filter\n:FOO - [0:0]\n-N FOO\nCOMMIT\n",
            3,
            4,
            "already exists",
        );
        let rs = ok("*filter\n-A INPUT -j ACCEPT\n-F INPUT\n-A INPUT -j DROP\n:FOO - [0:0]\n-X FOO\nCOMMIT\n");
        assert_eq!(rules_of(&rs, TableName::Filter, "INPUT").len(), 1);
        assert!(rs.tables[0].chain("FOO").is_none());
        err_at(
            "*filter\n:FOO - [0:0]\n-A INPUT -j FOO\n-X FOO\nCOMMIT\n",
            4,
            4,
            "busy",
        );
        err_at(
            "*filter\n:FOO - [0:0]\n-E FOO BAR\nCOMMIT\n",
            3,
            1,
            "CHAIN_RENAME failed",
        );
        err_at(
            "*filter\n-N FOO -s 1.2.3.4\nCOMMIT\n",
            2,
            1,
            "Illegal option `-s'",
        );
        ok("*filter\n-A INPUT -j ACCEPT\n-L\n-S INPUT\n-Z\nCOMMIT\n");
    }

    // ----- printing -------------------------------------------------------------------

    const ROUND_TRIP: &str = r#"*raw
:PREROUTING ACCEPT [1:2]
:OUTPUT ACCEPT [3:4]
-A PREROUTING -p udp -m udp --dport 69 -j CT --helper tftp
-A PREROUTING -i lo -j NOTRACK
-A OUTPUT -j CT --zone 3 --ctevents new,related
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
-A PREROUTING -m connmark --mark 0x1/0xff -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
-A PREROUTING -m mark ! --mark 0x0 -j MARK --or-mark 0x4000
-A PREROUTING -j TOS --set-tos Minimize-Delay
-A PREROUTING -m dscp ! --dscp-class EF -j DSCP --set-dscp 10
-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A FORWARD -j TTL --ttl-dec 1
-A FORWARD -p udp -j CHECKSUM --checksum-fill
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SEP - [0:0]
-A PREROUTING -d 10.0.0.0/8 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.1.2.3:8080
-A PREROUTING -p tcp -j REDIRECT --to-ports 3128 --random
-A PREROUTING -j NETMAP --to 192.168.0.0/16
-A POSTROUTING -s 10.0.0.0/255.0.255.0 -o eth+ -p tcp -j MASQUERADE --to-ports 1024-65535 --random-fully
-A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4-1.2.3.8:1000-2000 --persistent
-A KUBE-SEP -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP
COMMIT
*filter
:INPUT DROP [10:20]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:LOGDROP - [0:0]
[5:600] -A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m state --state NEW -p tcp -m multiport --dports 22,80,8000:8080 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 3/1:3 -j ACCEPT
-A INPUT -p icmp ! --icmp-type any -j DROP
-A INPUT -m recent --update --seconds 60 --hitcount 4 --name SSH --rsource -j LOGDROP
-A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "it's \"x\" " --log-level 6
-A INPUT -m addrtype --dst-type BROADCAST,MULTICAST -m pkttype --pkt-type broadcast -j DROP
-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -m length --length 0:100 -m ttl --ttl-lt 5
-A INPUT -m tos --tos 0x10/0x3f -m comment --comment "a comment # with hash" -j RETURN
-A OUTPUT -m set --match-set blocklist src -m owner --uid-owner 0 -j NFQUEUE --queue-num 1
-A INPUT -p tcp -m tcp ! --syn -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset
-A INPUT -f -m statistic --mode nth --every 3 --packet 1 -j NFLOG --nflog-group 5 --nflog-prefix "p x"
-A FORWARD ! -s 192.168.0.0/16 -d 1.2.3.4/32 -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -m conntrack --ctorigsrc 10.0.0.0/8 --ctorigdstport 53 ! --ctstatus ASSURED --ctexpire 1:5 --ctdir REPLY
-A LOGDROP -j LOG --log-tcp-options --log-macdecode
-A LOGDROP -g LOGDROP2
COMMIT
"#;

    #[test]
    fn save_format_round_trips() {
        let text = ROUND_TRIP.replace("-A LOGDROP -g LOGDROP2\n", "");
        let text = text.replace(
            ":LOGDROP - [0:0]\n",
            ":LOGDROP - [0:0]\n:LOGDROP2 - [0:0]\n",
        );
        let text = text.replace("COMMIT\n\"#", "");
        let rs = ok(&text);
        for counters in [false, true] {
            let printed = rs.to_save_format(counters);
            let again = ok(&printed);
            let mut want = rs.without_positions();
            if !counters {
                for t in &mut want.tables {
                    for c in &mut t.chains {
                        c.counters = Counters::default();
                        for r in &mut c.rules {
                            r.counters = Counters::default();
                        }
                    }
                }
            }
            assert_eq!(again.without_positions(), want, "{printed}");
            // Printing is stable.
            assert_eq!(again.to_save_format(counters), printed);
        }
        let printed = rs.to_save_format(true);
        assert!(printed.contains(":INPUT DROP [10:20]\n"));
        assert!(printed.contains("[5:600] -A INPUT -i lo -j ACCEPT\n"));
        assert!(printed.contains(
            "-A INPUT -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix \"it\\'s \\\"x\\\" \" --log-level 6\n"
        ));
        assert!(printed.contains(
            "-A INPUT -p tcp -m state --state NEW -m multiport --dports 22,80,8000:8080 -j ACCEPT\n"
        ));
        assert!(printed.contains("-A POSTROUTING -s 10.0.0.0/255.0.255.0 -o eth+ -p tcp -j MASQUERADE --to-ports 1024-65535 --random-fully\n"));
        assert!(printed.contains("--mode random --probability 0.33333333349 "));
    }

    // ----- robustness -----------------------------------------------------------------

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_garbage_or_mutations() {
        let start = std::time::Instant::now();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let pieces: [&str; 40] = [
            "*filter\n",
            "*nat\n",
            "COMMIT\n",
            ":INPUT ACCEPT [0:0]\n",
            ":U - [0:0]\n",
            "-A INPUT ",
            "-A U ",
            "-j ",
            "-g U ",
            "-m ",
            "-p tcp ",
            "--dport ",
            "! ",
            "\"",
            "\\",
            "#",
            "[1:2] ",
            "-s 1.2.3.4/8,5.6.7.8 ",
            "tcp ",
            "udp ",
            "icmp ",
            "--",
            ":",
            ",",
            "/",
            "-",
            "\n",
            "\r\n",
            " ",
            "\t",
            "\0",
            "multiport ",
            "conntrack ",
            "--ctstate NEW ",
            "LOG ",
            "SNAT --to-source ",
            "recent --set ",
            "255.255.255.0",
            "99999999999999999999",
            "é",
        ];
        let mut cases = 0;
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..rng.below(40) {
                s.push_str(pieces[rng.below(pieces.len())]);
            }
            let _ = parse_str(&s, "fuzz");
            cases += 1;
        }
        for _ in 0..1500 {
            let n = rng.below(200);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let _ = parse_bytes(&bytes, "fuzz");
            cases += 1;
        }
        let base = ROUND_TRIP.as_bytes();
        for _ in 0..3000 {
            let mut b = base.to_vec();
            match rng.below(5) {
                0 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                }
                1 => b.truncate(rng.below(b.len())),
                2 => {
                    let mut lines: Vec<&[u8]> = base.split(|c| *c == b'\n').collect();
                    for _ in 0..1 + rng.below(5) {
                        let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                        lines.swap(i, j);
                    }
                    b = lines.join(&b'\n');
                }
                3 => {
                    // Delete a word.
                    let words: Vec<&[u8]> = base.split(|c| *c == b' ').collect();
                    let k = rng.below(words.len());
                    b = words
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != k)
                        .map(|(_, w)| *w)
                        .collect::<Vec<_>>()
                        .join(&b' ');
                }
                _ => {
                    // Duplicate a line.
                    let lines: Vec<&[u8]> = base.split(|c| *c == b'\n').collect();
                    let k = rng.below(lines.len());
                    let mut out: Vec<&[u8]> = lines.clone();
                    out.insert(rng.below(lines.len()), lines[k]);
                    b = out.join(&b'\n');
                }
            }
            if let Ok(rs) = parse_bytes(&b, "fuzz") {
                // Whatever parses prints and parses back to the same thing.
                let printed = rs.to_save_format(true);
                if let Ok(again) = parse_str(&printed, "again") {
                    assert_eq!(again.to_save_format(true), printed);
                }
                let _ = rs.unsupported();
            }
            cases += 1;
        }
        assert!(cases >= 7500);
        assert!(
            start.elapsed().as_secs_f64() < 20.0,
            "fuzzing took {:?}",
            start.elapsed()
        );
    }
}
