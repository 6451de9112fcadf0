//! `iptables -nvxL` as the router lists it, against iptables itself: the same rules loaded
//! into a fresh namespace with `iptables-restore`, listed by `iptables -t T -nvxL`, and by
//! the router's `Tables::listing`, for rules covering every extension whose wording the
//! router prints (`netfilter::tables::list`). Needs `unshare -Urn` and iptables, as CI has.

use router::netfilter::tables::{ast::TableName, eval::Tables, parse::parse_str};
use std::process::Command;

const RULES: &str = "*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m conntrack --ctstate INVALID
-A PREROUTING -m mark --mark 0x1/0xff -j MARK --set-xmark 0x2/0xffffffff
-A FORWARD -o wan0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400
-A POSTROUTING -m iprange --src-range 10.0.0.1-10.0.0.9 -m ttl --ttl-gt 5 -m length --length 100:200 -j MARK --or-mark 0x4
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 203.0.113.1/32 -i wan0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.10:80
-A PREROUTING -i wan0 -p udp -m udp --dport 5000:5009 -j DNAT --to-destination 10.0.0.11-10.0.0.12
-A POSTROUTING -s 10.0.0.0/24 -o wan0 -j MASQUERADE
-A POSTROUTING -o dmz0 -p udp -j SNAT --to-source 198.51.100.1:6000-6001 --random
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -s 10.0.0.0/8 -d 192.0.2.1/32 -p udp -m udp --sport 53 --dport 1024:65535 -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -m comment --comment \"web traffic\" -j ACCEPT
-A INPUT -m mark ! --mark 0x1 -j DROP
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp-port-unreachable
-A INPUT -j LOG --log-prefix \"IN: \" --log-level 4
-A FORWARD -o docker0 -j DOCKER
-A FORWARD ! -i lan0 ! -s 10.0.0.0/24 -j ACCEPT
-A FORWARD -f -j DROP
-A FORWARD -p tcp -m tcp ! --dport 25 -j ACCEPT
-A FORWARD -g DOCKER
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER -p udp -m length ! --length 28 -j RETURN
COMMIT
";

/// More extensions: CT and NOTRACK, connmark/tos/dscp/pkttype/statistic matches, the TTL,
/// TOS and DSCP targets, REDIRECT, NETMAP, MASQUERADE ports, icmp types, limit rates,
/// addrtype, every conntrack option, inverted state.
const MORE: &str = "*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 9 -j NOTRACK
-A PREROUTING -j CT --zone 5
-A PREROUTING -j CT --notrack
-A OUTPUT -j CT
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m tos --tos 0x10/0x3f -j TOS --set-tos 0x08/0xff
-A PREROUTING -m dscp --dscp 0x0a -j DSCP --set-dscp 0x12
-A FORWARD -j TTL --ttl-set 9
-A FORWARD -j TTL --ttl-dec 1
-A FORWARD -j TTL --ttl-inc 2
-A FORWARD -m pkttype --pkt-type broadcast
-A FORWARD -m statistic --mode nth --every 3 --packet 1
-A FORWARD -m statistic --mode random --probability 0.25
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i lan0 -p udp -m udp --dport 53 -j REDIRECT --to-ports 5353
-A PREROUTING -p tcp -j REDIRECT
-A PREROUTING -d 198.18.5.0/24 -j NETMAP --to 198.51.100.0/24
-A POSTROUTING -o wan0 -p tcp -j MASQUERADE --to-ports 1024-2048 --random
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 3/3
-A INPUT -p icmp -m icmp --icmp-type any
-A INPUT -p icmp -m icmp ! --icmp-type echo-reply
-A INPUT -m limit --limit 3/min
-A INPUT -m limit --limit 100/hour --limit-burst 3
-A INPUT -m addrtype --dst-type LOCAL
-A INPUT -m addrtype --src-type BROADCAST,MULTICAST --limit-iface-in
-A INPUT -m addrtype ! --dst-type UNICAST
-A INPUT -m conntrack --ctstate ESTABLISHED --ctproto tcp
-A INPUT -m conntrack --ctorigsrc 10.0.0.0/8 --ctorigdstport 80 --ctdir ORIGINAL
-A INPUT -m conntrack --ctstatus ASSURED,SEEN_REPLY
-A INPUT -m conntrack ! --ctstate NEW
-A INPUT -m state ! --state NEW
-A INPUT -j TRACE
-A INPUT -p tcp -m tcp --tcp-option 2 --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE
COMMIT
";

/// The rest: every CT and CONNMARK form, TOS with any mask, CHECKSUM, NFLOG, shifted DNAT
/// port maps, `-m recent`, sctp ports, inverted multiport and inverted icmp with codes.
const REST: &str = "*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -j CT --zone-orig 5
-A PREROUTING -j CT --zone-reply 6
-A PREROUTING -j CT --zone mark
-A PREROUTING -j CT --zone-orig mark
-A PREROUTING -j CT --ctevents new,related,destroy
-A PREROUTING -j CT --expevents new
-A OUTPUT -j CT --notrack --zone 3
-A OUTPUT -j CT --zone-reply mark
-A OUTPUT -j CT --ctevents reply,assured,protoinfo,helper,mark,natseqinfo,secmark,new --zone-orig 0
-A OUTPUT -j CT --zone 0
-A OUTPUT -j CT --notrack --helper ftp
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -j CONNMARK --save-mark
-A PREROUTING -j CONNMARK --restore-mark
-A PREROUTING -j CONNMARK --set-xmark 0x5/0xff
-A PREROUTING -j CONNMARK --set-mark 0x5
-A PREROUTING -j CONNMARK --set-mark 0x5/0xf0
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xf
-A PREROUTING -j CONNMARK --restore-mark --mask 0xff
-A PREROUTING -j CONNMARK --and-mark 0xf
-A PREROUTING -j CONNMARK --or-mark 0x10
-A PREROUTING -j CONNMARK --xor-mark 0x3
-A PREROUTING -j CONNMARK --set-xmark 0x0/0xffffffff
-A PREROUTING -j CONNMARK --save-mark --left-shift-mark 4
-A PREROUTING -j CONNMARK --restore-mark --right-shift-mark 8
-A PREROUTING -j CONNMARK --save-mark --mask 0xf0
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xf
-A PREROUTING -j CONNMARK --set-xmark 0x5/0x5
-A PREROUTING -j CONNMARK --set-xmark 0x0/0xf0
-A PREROUTING -j CONNMARK --set-mark 0x1 --left-shift-mark 2
-A PREROUTING -j TOS --set-tos 0x10/0x3f
-A PREROUTING -j TOS --set-tos 0x10
-A PREROUTING -j TOS --and-tos 0x0f
-A PREROUTING -j TOS --or-tos 0x08
-A PREROUTING -j TOS --xor-tos 0x04
-A PREROUTING -j TOS --set-tos Minimize-Delay
-A PREROUTING -p udp -j CHECKSUM --checksum-fill
-A FORWARD -j DSCP --set-dscp-class EF
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:1000-2000/1500
-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.5:1000-2000/1500
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m recent --set --name SSH --rsource
-A INPUT -m recent --update --seconds 60 --hitcount 4 --name SSH --rsource
-A INPUT -m recent --rcheck --seconds 60 --reap --name X --rdest
-A INPUT -m recent --remove
-A INPUT -m recent ! --rcheck --rttl --name Y --mask 255.255.255.0
-A INPUT -m recent --update --hitcount 2
-A INPUT -p sctp -m sctp --sport 5 --dport 6:7
-A INPUT -p sctp -m sctp ! --dport 9
-A INPUT -p tcp -m multiport ! --dports 80,443
-A INPUT -p tcp -m multiport ! --sports 1:5
-A INPUT -p tcp -m multiport ! --ports 22
-A INPUT -p icmp -m icmp ! --icmp-type 3/3
-A INPUT -p icmp -m icmp ! --icmp-type 3
-A INPUT -j NFLOG --nflog-prefix x --nflog-group 5
-A INPUT -j NFLOG
-A INPUT -j NFLOG --nflog-range 100 --nflog-threshold 3
-A INPUT -j NFLOG --nflog-size 64
-A INPUT -j NFLOG --nflog-prefix \"a b\"
-A INPUT -j LOG --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode
COMMIT
";

#[test]
fn listings_match_iptables() {
    compare(
        RULES,
        &[TableName::Mangle, TableName::Nat, TableName::Filter],
    );
    compare(
        MORE,
        &[
            TableName::Raw,
            TableName::Mangle,
            TableName::Nat,
            TableName::Filter,
        ],
    );
    compare(
        REST,
        &[
            TableName::Raw,
            TableName::Mangle,
            TableName::Nat,
            TableName::Filter,
        ],
    );
}

fn compare(rules: &str, which: &[TableName]) {
    let dir = std::env::temp_dir().join(format!("router-listing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.v4");
    std::fs::write(&file, rules).unwrap();
    let tables = Tables::load(&parse_str(rules, "rules.v4").unwrap(), 1).unwrap();
    for &t in which {
        let o = Command::new("unshare")
            .args(["-Urn", "sh", "-c"])
            .arg(format!(
                "iptables-restore < {} && iptables -t {} -nvxL",
                file.display(),
                t.as_str()
            ))
            .output()
            .expect("unshare and iptables are needed (CI installs them)");
        assert!(
            o.status.success(),
            "iptables: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let kernel = String::from_utf8_lossy(&o.stdout).to_string();
        let ours = tables.listing(t);
        assert!(!ours.is_empty() && kernel.lines().count() > 3, "{kernel}");
        if kernel != ours {
            let k: Vec<&str> = kernel.lines().collect();
            let r: Vec<&str> = ours.lines().collect();
            for i in 0..k.len().max(r.len()) {
                let (a, b) = (
                    k.get(i).copied().unwrap_or(""),
                    r.get(i).copied().unwrap_or(""),
                );
                if a != b {
                    panic!(
                        "table {}: line {}\n  iptables: {a:?}\n  router:   {b:?}",
                        t.as_str(),
                        i + 1
                    );
                }
            }
            assert_eq!(kernel, ours, "table {}: line endings differ", t.as_str());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
