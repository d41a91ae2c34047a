//! Questions asked and read here rather than through the resolver library, for what it does not
//! do:
//!
//! - a lenient reading of an answer the library refuses whole. hickory-proto rejects a whole
//!   response when one of its records has empty RDATA (`DecodeError::InvalidEmptyRecord`, since
//!   RDLENGTH 0 means "any" only in updates, RFC 2136 §2.4). A TXT record with no
//!   character-string is such a record: RFC 1035 §3.3.14 does not allow it, but zones publish it
//!   beside a domain's SPF record, and receivers read the other records of the answer (the RFC
//!   7208 test suite's `null-text`). So does this module: the answer section is read one record
//!   at a time, the empty ones left out;
//! - DNSSEC's header bits, which the library does not pass on: a question asked with the DO bit
//!   of EDNS set (RFC 3225 §3, RFC 6891 §6.1.4), and optionally CD (RFC 4035 §3.2.2: "do not
//!   validate"), and the answer's AD bit read (RFC 4035 §3.2.3: a validating resolver sets it
//!   when every `RRset` of the answer and authority sections validated).
//!
//! Questions go over UDP, and over TCP when the answer is truncated.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::op::{Edns, Header, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, Record, RecordData, RecordType};
use hickory_resolver::proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout};

/// The largest answer read over UDP (without EDNS 512 bytes is the most a server sends; with
/// DO set, [`EDNS_PAYLOAD`]; a bigger buffer costs nothing and tolerates servers that ignore
/// either).
const UDP_BUFFER: usize = 4096;

/// The UDP payload offered with EDNS: the size that avoids IP fragmentation (DNS Flag Day 2020);
/// a bigger answer comes back truncated and is asked again over TCP.
const EDNS_PAYLOAD: u16 = 1232;

/// The header bits a question is asked with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Flags {
    /// EDNS with DO set: "send DNSSEC records, and tell me whether they validated".
    pub dnssec_ok: bool,
    /// CD set: the resolver answers without validating (a bogus zone's data too).
    pub checking_disabled: bool,
}

/// When a question's datagram is sent again, and how long it is waited for in all: the flow's
/// retransmission time-out (RFC 6298, from the round trips seen) and wait, as for the
/// questions the resolver library asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timing {
    pub resend_after: Duration,
    pub wait: Duration,
}

/// What [`ask`] got, and whether a datagram had to be sent again.
pub(super) struct Asked {
    pub reply: Option<Reply>,
    pub resent: bool,
}

/// What a server answered, read leniently.
pub(super) struct Reply {
    /// The server that answered.
    pub server: SocketAddr,
    pub response_code: ResponseCode,
    /// The AD bit: the resolver validated the answer (RFC 4035 §3.2.3).
    pub authentic_data: bool,
    /// The answer section's records, those with empty RDATA left out.
    pub answers: Vec<Record>,
    /// The owner of an SOA record in the authority section: the zone a negative answer comes
    /// from (RFC 2308 §3).
    pub authority_zone: Option<Name>,
}

/// Whether the resolver library refused an answer only because one of its records is empty.
pub(super) fn is_empty_record(error: &ProtoError) -> bool {
    matches!(error, ProtoError::Decode(DecodeError::InvalidEmptyRecord))
}

/// Asks `servers` in turn for (`name`, `record_type`) with `flags` and reads the first answer
/// that can be read; no reply when none can (no server answered in the wait, or only
/// unreadably).
pub(super) async fn ask(
    servers: &[SocketAddr],
    name: &Name,
    record_type: RecordType,
    flags: Flags,
    timing: Timing,
) -> Asked {
    let mut resent = false;
    let reply = ask_servers(servers, name, record_type, flags, timing, &mut resent).await;
    Asked { reply, resent }
}

async fn ask_servers(
    servers: &[SocketAddr],
    name: &Name,
    record_type: RecordType,
    flags: Flags,
    timing: Timing,
    resent: &mut bool,
) -> Option<Reply> {
    let mut query = Message::query();
    query.add_query(Query::query(name.clone(), record_type));
    query.metadata.recursion_desired = true;
    query.metadata.checking_disabled = flags.checking_disabled;
    if flags.dnssec_ok {
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true).set_max_payload(EDNS_PAYLOAD);
        query.edns = Some(edns);
    }
    let id = query.metadata.id;
    let bytes = query.to_vec().ok()?;
    // One wait for the question, whatever the number of servers asked in turn.
    let deadline = Instant::now() + timing.wait;
    let left = || deadline.saturating_duration_since(Instant::now());
    for &server in servers {
        if left().is_zero() {
            break;
        }
        let timing = Timing {
            wait: left(),
            ..timing
        };
        let Some(mut reply) = over_udp(server, &bytes, timing, resent).await else {
            continue;
        };
        if read(&reply, id, server).is_some_and(|(truncated, _)| truncated) {
            match timeout(left(), over_tcp(server, &bytes)).await {
                Ok(Some(whole)) => reply = whole,
                _ => continue,
            }
        }
        if let Some((_, read)) = read(&reply, id, server) {
            return Some(read);
        }
    }
    None
}

/// The query to `server` in a datagram, sent again after `timing.resend_after` (at most half
/// the wait, so that the second has time to be answered) when no reply came (a datagram may be
/// lost; `resent` then says so); the first reply carrying the query's ID back, within
/// `timing.wait`.
async fn over_udp(
    server: SocketAddr,
    query: &[u8],
    timing: Timing,
    resent: &mut bool,
) -> Option<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(server).await.ok()?;
    let receive = || async {
        let mut buffer = vec![0; UDP_BUFFER];
        loop {
            let length = socket.recv(&mut buffer).await.ok()?;
            // Another reply (a late answer to nothing we asked on this port) is not ours.
            if length >= 2 && buffer[..2] == query[..2] {
                buffer.truncate(length);
                return Some(buffer);
            }
        }
    };
    let first = timing.resend_after.min(timing.wait / 2);
    socket.send(query).await.ok()?;
    if let Ok(reply) = timeout(first, receive()).await {
        return reply;
    }
    socket.send(query).await.ok()?;
    *resent = true;
    timeout(timing.wait.saturating_sub(first), receive())
        .await
        .ok()
        .flatten()
}

/// The query over TCP, length-prefixed (RFC 1035 §4.2.2).
async fn over_tcp(server: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await.ok()?;
    let length = u16::try_from(query.len()).ok()?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.ok()?;
    let length = stream.read_u16().await.ok()?;
    let mut reply = vec![0; usize::from(length)];
    stream.read_exact(&mut reply).await.ok()?;
    Some(reply)
}

/// Reads a reply to query `id` from `server`: whether it is truncated, and what it says.
fn read(reply: &[u8], id: u16, server: SocketAddr) -> Option<(bool, Reply)> {
    let mut decoder = BinDecoder::new(reply);
    let Header { metadata, counts } = Header::read(&mut decoder).ok()?;
    if metadata.id != id || metadata.message_type != MessageType::Response {
        return None;
    }
    for _ in 0..counts.queries {
        Query::read(&mut decoder).ok()?;
    }
    let mut answers = Vec::new();
    for _ in 0..counts.answers {
        let record = Record::read(&mut decoder).ok()?;
        if !record.data.is_update() {
            answers.push(record);
        }
    }
    // The authority section, for its SOA; a record past it that cannot be read is no reason
    // to drop the answer.
    let mut authority_zone = None;
    for _ in 0..counts.authorities {
        let Ok(record) = Record::read(&mut decoder) else {
            break;
        };
        if record.record_type() == RecordType::SOA {
            authority_zone = Some(record.name.clone());
        }
    }
    let read = Reply {
        server,
        response_code: metadata.response_code,
        authentic_data: metadata.authentic_data,
        answers,
        authority_zone,
    };
    Some((metadata.truncation, read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::RData;
    use hickory_resolver::proto::rr::rdata::TXT;
    use hickory_resolver::proto::serialize::binary::{BinEncodable, BinEncoder};

    fn server() -> SocketAddr {
        "192.0.2.53:53".parse().unwrap()
    }

    /// A response to `id` holding `records` in its answer section, as a server sends it.
    fn response(id: u16, records: &[Record]) -> Vec<u8> {
        let mut message = Message::response(id, hickory_resolver::proto::op::OpCode::Query);
        let name = Name::from_ascii("null.example.com.").unwrap();
        message.add_query(Query::query(name, RecordType::TXT));
        for record in records {
            message.add_answer(record.clone());
        }
        let mut bytes = Vec::new();
        message.emit(&mut BinEncoder::new(&mut bytes)).unwrap();
        bytes
    }

    fn txt(strings: &[&str]) -> Record {
        let name = Name::from_ascii("null.example.com.").unwrap();
        Record::from_rdata(
            name,
            300,
            RData::TXT(TXT::new(strings.iter().map(|s| (*s).to_owned()).collect())),
        )
    }

    #[test]
    fn the_empty_record_is_left_out_and_the_others_kept() {
        let reply = response(7, &[txt(&["v=spf1 ip4:", "192.0.2.5 -all"]), txt(&[])]);
        assert!(
            Message::from_vec(&reply).is_err(),
            "the library refuses this answer whole: the reason this module exists"
        );
        let (truncated, lenient) = read(&reply, 7, server()).expect("readable");
        assert!(!truncated);
        assert!(!lenient.authentic_data);
        assert_eq!(lenient.response_code, ResponseCode::NoError);
        assert_eq!(lenient.answers.len(), 1);
        assert_eq!(
            lenient.answers[0].data,
            RData::TXT(TXT::new(vec![
                "v=spf1 ip4:".to_owned(),
                "192.0.2.5 -all".to_owned()
            ]))
        );
    }

    #[test]
    fn a_reply_to_another_question_is_not_read() {
        let reply = response(7, &[txt(&["v=spf1 -all"])]);
        assert!(read(&reply, 8, server()).is_none());
        assert!(
            read(&reply[..20], 7, server()).is_none(),
            "a cut reply is unreadable"
        );
    }

    /// A server on loopback that drops the first datagram of a question (lost on the way) and
    /// answers the second: the question is sent again after `resend_after`, not after half of
    /// a long wait, and says it was.
    #[tokio::test]
    async fn a_lost_datagram_is_sent_again_after_the_retransmission_time_out() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut buffer = vec![0; 512];
            let (_, _) = socket.recv_from(&mut buffer).await.unwrap();
            let (_, client) = socket.recv_from(&mut buffer).await.unwrap();
            let id = u16::from_be_bytes([buffer[0], buffer[1]]);
            socket
                .send_to(&response(id, &[txt(&["v=spf1 -all"])]), client)
                .await
                .unwrap();
        });
        let name = Name::from_ascii("null.example.com.").unwrap();
        let timing = Timing {
            resend_after: Duration::from_millis(50),
            wait: Duration::from_mins(1),
        };
        // Far below half the wait (30 s), far above a resend after 50 ms on a loaded machine.
        let asked = timeout(
            Duration::from_secs(10),
            ask(&[address], &name, RecordType::TXT, Flags::default(), timing),
        )
        .await
        .expect("answered after the resend, long before half the wait");
        assert!(asked.resent);
        let reply = asked.reply.expect("the second datagram's answer");
        assert_eq!(reply.answers.len(), 1);
        server.await.unwrap();
    }
}
