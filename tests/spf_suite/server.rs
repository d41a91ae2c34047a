//! A DNS server on 127.0.0.1 serving one scenario's zone data, in the test's runtime:
//! hickory-server with a single root zone holding every name (so that no question is ever
//! REFUSED), over UDP and TCP on one port.
//!
//! The zone data follows the conventions of the suite's reference driver (pyspf `testspf.py`):
//! - `SPF` records are served as type 99 and, unless the name has a `TXT` entry, as TXT too;
//!   `TXT: NONE` means "no TXT record" (and stops that copying).
//! - `TIMEOUT` makes every question for the name go unanswered, except for the record types
//!   listed before it (which answer with those records).
//! - `SERVFAIL` (blitiri's marker, and mail-auth's `_dns_error` names) makes every question for
//!   the name get SERVFAIL.
//! - Names and TXT strings are served as written: labels may hold any byte (`foo:bar/baz`,
//!   spaces, `%`), strings are the UTF-8 bytes of the YAML text.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, NULL, PTR, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use serde_yaml::Value;

use crate::suite::Entry;

/// The record type of `SPF` (RFC 4408 §3.1.1; obsoleted by RFC 7208 §3.1, still served here
/// as the suite asks).
const SPF_TYPE: u16 = 99;

/// A scenario's records, and the names whose questions go unanswered.
pub struct Zone {
    records: Vec<Record>,
    /// Name → the record types still answered (those listed before `TIMEOUT`).
    timeouts: HashMap<LowerName, HashSet<RecordType>>,
    /// Names whose every question gets SERVFAIL.
    servfails: HashSet<LowerName>,
}

impl Zone {
    /// Builds the records of `zone` (a scenario's `zonedata`).
    pub fn new(zone: &[(String, Vec<Entry>)]) -> Zone {
        let mut records = Vec::new();
        let mut timeouts = HashMap::new();
        let mut servfails = HashSet::new();
        for (name, entries) in zone {
            let owner = name_of(name);
            let has_txt = entries
                .iter()
                .any(|e| matches!(e, Entry::Record { kind, .. } if kind == "TXT"));
            let mut answered = HashSet::new();
            let mut copies = Vec::new();
            let mut timed_out = false;
            for entry in entries {
                let (kind, value) = match entry {
                    Entry::Timeout => {
                        timeouts.insert(LowerName::from(&owner), answered.clone());
                        timed_out = true;
                        continue;
                    }
                    Entry::ServFail => {
                        servfails.insert(LowerName::from(&owner));
                        continue;
                    }
                    // The driver stops at TIMEOUT: what follows is never served.
                    Entry::Record { .. } if timed_out => continue,
                    Entry::Record { kind, value } => (kind.as_str(), value),
                };
                if value.as_str() == Some("NONE") {
                    continue;
                }
                let rdata = rdata(kind, value, name);
                answered.insert(rdata.record_type());
                if kind == "SPF" && !has_txt {
                    copies.push(Record::from_rdata(owner.clone(), 300, txt(value)));
                }
                records.push(Record::from_rdata(owner.clone(), 300, rdata));
            }
            // The copies come after everything, so after a TIMEOUT: never served then.
            if !timed_out {
                records.extend(copies);
            }
        }
        Zone {
            records,
            timeouts,
            servfails,
        }
    }
}

/// A name as written, each label its bytes (no escapes, any byte allowed).
fn name_of(text: &str) -> Name {
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Name::root();
    }
    let mut name = Name::from_labels(text.split('.').map(str::as_bytes))
        .unwrap_or_else(|e| panic!("zone data name {text}: {e}"));
    name.set_fqdn(true);
    name
}

fn strings(value: &Value) -> Vec<Vec<u8>> {
    match value {
        Value::String(text) => vec![text.as_bytes().to_vec()],
        Value::Sequence(parts) => parts
            .iter()
            .map(|p| p.as_str().unwrap_or_default().as_bytes().to_vec())
            .collect(),
        other => panic!("not TXT data: {other:?}"),
    }
}

fn txt(value: &Value) -> RData {
    let strings = strings(value);
    RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
}

fn rdata(kind: &str, value: &Value, owner: &str) -> RData {
    let text = || {
        value
            .as_str()
            .unwrap_or_else(|| panic!("{owner} {kind}: not a string: {value:?}"))
    };
    match kind {
        "TXT" => txt(value),
        "SPF" => {
            let mut wire = Vec::new();
            for string in strings(value) {
                wire.push(u8::try_from(string.len()).expect("suite strings are short"));
                wire.extend(string);
            }
            // `SPF: []` (no strings) is empty rdata: NULL::new, as NULL::with refuses empty.
            let rdata = if wire.is_empty() {
                NULL::new()
            } else {
                NULL::with(wire)
            };
            RData::Unknown {
                code: RecordType::from(SPF_TYPE),
                rdata,
            }
        }
        "A" => RData::A(A(text().parse::<Ipv4Addr>().expect("A address"))),
        "AAAA" => RData::AAAA(AAAA(text().parse::<Ipv6Addr>().expect("AAAA address"))),
        "PTR" => RData::PTR(PTR(name_of(text()))),
        "CNAME" => RData::CNAME(CNAME(name_of(text()))),
        "MX" => {
            let pair = value.as_sequence().expect("MX is [preference, host]");
            let preference = pair
                .first()
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .expect("MX preference");
            let host = pair.get(1).and_then(Value::as_str).expect("MX host");
            RData::MX(MX::new(preference, name_of(host)))
        }
        other => panic!("{owner}: record type {other} is not in the suite's vocabulary"),
    }
}

/// Starts a server for `zone` on 127.0.0.1 in the current runtime and returns its address.
pub async fn serve(zone: Zone) -> SocketAddr {
    let mut root = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        Name::root(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        None,
    );
    let soa = SOA::new(
        name_of("ns.test"),
        name_of("hostmaster.test"),
        1,
        3600,
        600,
        86400,
        300,
    );
    assert!(root.upsert_mut(Record::from_rdata(Name::root(), 300, RData::SOA(soa)), 1));
    for record in zone.records {
        // A duplicate of a record already there (the suite's `multispf1`) is merged, as DNS
        // merges identical records of an RRset.
        root.upsert_mut(record, 1);
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(Name::root()), vec![Arc::new(root)]);
    let handler = Faults {
        catalog,
        timeouts: zone.timeouts,
        servfails: zone.servfails,
    };
    // The UDP port the system picks may be taken for TCP: pick again until both are free.
    let mut attempts = 0;
    let (udp, tcp, addr) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind UDP on loopback");
        let addr = udp.local_addr().expect("UDP address");
        match tokio::net::TcpListener::bind(addr).await {
            Ok(tcp) => break (udp, tcp, addr),
            Err(_) if attempts < 20 => attempts += 1,
            Err(e) => panic!("no loopback port free for both UDP and TCP: {e}"),
        }
    };
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
    tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    addr
}

/// The catalog, except that questions for `TIMEOUT` names are never answered and questions for
/// `SERVFAIL` names get SERVFAIL.
struct Faults {
    catalog: Catalog,
    timeouts: HashMap<LowerName, HashSet<RecordType>>,
    servfails: HashSet<LowerName>,
}

#[async_trait::async_trait]
impl RequestHandler for Faults {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let no_response = || {
            ResponseInfo::from(Header {
                metadata: Metadata::response_from_request(&request.metadata),
                counts: HeaderCounts::default(),
            })
        };
        if let Ok(info) = request.request_info()
            && self.servfails.contains(info.query.name())
        {
            let response = MessageResponseBuilder::from_message_request(request)
                .error_msg(&request.metadata, ResponseCode::ServFail);
            return response_handle
                .send_response(response)
                .await
                .unwrap_or_else(|_| no_response());
        }
        if let Ok(info) = request.request_info()
            && let Some(answered) = self.timeouts.get(info.query.name())
            && !answered.contains(&info.query.query_type())
        {
            // No response at all: the client times out.
            return no_response();
        }
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}
