//! A second, lenient reading of an answer the resolver library refuses whole.
//!
//! hickory-proto rejects a whole response when one of its records has empty RDATA
//! (`DecodeError::InvalidEmptyRecord`, since RDLENGTH 0 means "any" only in updates, RFC 2136
//! §2.4). A TXT record with no character-string is such a record: RFC 1035 §3.3.14 does not
//! allow it, but zones publish it beside a domain's SPF record, and receivers read the other
//! records of the answer (the RFC 7208 test suite's `null-text`). So does this module: the
//! question is asked again, over UDP and over TCP when the answer is truncated, and the answer
//! section is read one record at a time, the empty ones left out.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::op::{Header, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, Record, RecordData, RecordType};
use hickory_resolver::proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

/// The largest answer read over UDP (EDNS is not offered, so 512 bytes is the most a server
/// sends; a bigger buffer costs nothing and tolerates servers that ignore that).
const UDP_BUFFER: usize = 4096;

/// What a server answered, read leniently.
pub(super) struct Lenient {
    pub response_code: ResponseCode,
    /// The answer section's records, those with empty RDATA left out.
    pub answers: Vec<Record>,
}

/// Whether the resolver library refused an answer only because one of its records is empty.
pub(super) fn is_empty_record(error: &ProtoError) -> bool {
    matches!(error, ProtoError::Decode(DecodeError::InvalidEmptyRecord))
}

/// Asks `servers` in turn for (`name`, `record_type`) and reads the first answer that can be
/// read; `None` when none can (the caller keeps the failure it had).
pub(super) async fn ask(
    servers: &[SocketAddr],
    name: &Name,
    record_type: RecordType,
    wait: Duration,
) -> Option<Lenient> {
    let mut query = Message::query();
    query.add_query(Query::query(name.clone(), record_type));
    query.metadata.recursion_desired = true;
    let id = query.metadata.id;
    let bytes = query.to_vec().ok()?;
    for &server in servers {
        let Some(mut reply) = timeout(wait, over_udp(server, &bytes)).await.ok().flatten() else {
            continue;
        };
        if read(&reply, id).is_some_and(|(truncated, _)| truncated) {
            match timeout(wait, over_tcp(server, &bytes)).await {
                Ok(Some(whole)) => reply = whole,
                _ => continue,
            }
        }
        if let Some((_, lenient)) = read(&reply, id) {
            return Some(lenient);
        }
    }
    None
}

/// One datagram to `server`, the first reply carrying the query's ID back.
async fn over_udp(server: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(server).await.ok()?;
    socket.send(query).await.ok()?;
    let mut buffer = vec![0; UDP_BUFFER];
    loop {
        let length = socket.recv(&mut buffer).await.ok()?;
        // Another reply (a late answer to nothing we asked on this port) is not ours.
        if length >= 2 && buffer[..2] == query[..2] {
            buffer.truncate(length);
            return Some(buffer);
        }
    }
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

/// Reads a reply to query `id`: whether it is truncated, and its code and answer records.
fn read(reply: &[u8], id: u16) -> Option<(bool, Lenient)> {
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
    let lenient = Lenient {
        response_code: metadata.response_code,
        answers,
    };
    Some((metadata.truncation, lenient))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::RData;
    use hickory_resolver::proto::rr::rdata::TXT;
    use hickory_resolver::proto::serialize::binary::{BinEncodable, BinEncoder};

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
        let (truncated, lenient) = read(&reply, 7).expect("readable");
        assert!(!truncated);
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
        assert!(read(&reply, 8).is_none());
        assert!(read(&reply[..20], 7).is_none(), "a cut reply is unreadable");
    }
}
