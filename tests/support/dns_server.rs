//! A real DNS server on 127.0.0.1, in the test process: hickory-server serving the zone files of
//! `fixtures/zones/`, over UDP and TCP on one port.
//!
//! Some suffixes are faults on purpose, so that the audit's handling of failure is tested over
//! real sockets: names under `dead.test.` are never answered (a firewalled or dead server) and
//! names under `servfail.test.` get SERVFAIL (a broken or DNSSEC-bogus zone): the whole zone
//! fails, SOA included. Servers that break on one type while the zone answers otherwise: AAAA
//! questions under `v6fail.test.`, TXT questions under `txtfail.test.` and MX questions under
//! `mxfail.test.` get SERVFAIL. `_domainkey.entlie.dkim.test.`, which has names below it, gets
//! NXDOMAIN, as from a server that denies such names (RFC 8020 §1).
//!
//! [`start_switchable`] and [`start_with_zones`] start a server of its own that a test can
//! silence mid-run ([`TestDns::go_silent`]: from then on it answers nothing, its root zone
//! included, as a resolver that died would) or degrade ([`TestDns::degrade`]: every question
//! but SOA questions gets SERVFAIL, as a resolver whose upstream fails while zones still look
//! alive), and bring back ([`TestDns::recover`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::TXT;
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};

/// One question the server received.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: String,
    pub record_type: RecordType,
    pub over_tcp: bool,
}

/// The running server: where it listens and what it was asked.
pub struct TestDns {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Query>>>,
    /// How it answers now: [`HEALTHY`], [`DEGRADED`] or [`SILENT`].
    mode: Arc<AtomicU8>,
}

/// Answers from the zones, with the fault suffixes.
const HEALTHY: u8 = 0;
/// SERVFAIL for every question but SOA questions.
const DEGRADED: u8 = 1;
/// No answer at all.
const SILENT: u8 = 2;

impl TestDns {
    /// `--resolver` argument for the binary.
    pub fn resolver_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Every question received so far for `name` (lowercase, no trailing dot).
    pub fn queries_for(&self, name: &str) -> Vec<Query> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.name == name)
            .cloned()
            .collect()
    }

    /// From now on, every question goes unanswered (the client times out), as if the server
    /// died. Only for a server of its own ([`start_switchable`]): never the shared [`server`].
    pub fn go_silent(&self) {
        self.mode.store(SILENT, Ordering::SeqCst);
    }

    /// From now on, every question but SOA questions gets SERVFAIL: the server and every zone
    /// still answer their SOA, but no record can be read. Only for a server of its own.
    pub fn degrade(&self) {
        self.mode.store(DEGRADED, Ordering::SeqCst);
    }

    /// Answers from the zones again.
    pub fn recover(&self) {
        self.mode.store(HEALTHY, Ordering::SeqCst);
    }
}

/// The server shared by every test of this test binary, started on first use.
pub fn server() -> &'static TestDns {
    static SERVER: OnceLock<TestDns> = OnceLock::new();
    SERVER.get_or_init(|| start("127.0.0.1:0".parse().expect("loopback address")))
}

/// Starts a server on `addr` (UDP and TCP on the same port) in a thread of its own.
pub fn start(addr: SocketAddr) -> TestDns {
    start_serving(addr, &[])
}

/// Starts a server of its own, like [`start`], that the test can silence mid-run with
/// [`TestDns::go_silent`].
pub fn start_switchable() -> TestDns {
    start("127.0.0.1:0".parse().expect("loopback address"))
}

/// Starts a server like [`start`] that also serves the zone files of `dir`, each replacing the
/// fixture zone of the same name: the same names with other data (e.g. the second run of
/// tests/monitor, where a record changed and an address got listed).
pub fn start_with_zones(addr: SocketAddr, dir: &Path) -> TestDns {
    start_serving(addr, &[dir])
}

/// [`start_with_zones`] with several directories, each later one replacing the zones of the
/// same name of the ones before (e.g. the migrate fixtures, and the zone of one run).
pub fn start_with_overlays(addr: SocketAddr, dirs: &[&Path]) -> TestDns {
    start_serving(addr, dirs)
}

fn start_serving(addr: SocketAddr, overlays: &[&Path]) -> TestDns {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let mut catalog = Catalog::new();
    load_zones(
        &mut catalog,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/zones"),
    );
    for dir in overlays {
        load_zones(&mut catalog, dir);
    }
    let handler = FaultyCatalog {
        catalog,
        log: Arc::clone(&log),
        mode: Arc::clone(&mode),
    };
    let addr = serve(addr, handler);
    TestDns { addr, log, mode }
}

/// Serves `handler` on `addr` (UDP and TCP on the same port; port 0: one free for both) in a
/// thread of its own, and returns where it listens.
pub fn serve(addr: SocketAddr, handler: impl RequestHandler) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test DNS runtime");
        runtime.block_on(async move {
            // With port 0 the UDP port the system picks may be taken for TCP: pick again.
            let mut attempts = 0;
            let (udp, tcp, addr) = loop {
                let udp = tokio::net::UdpSocket::bind(addr).await.expect("bind UDP");
                let bound = udp.local_addr().expect("UDP address");
                match tokio::net::TcpListener::bind(bound).await {
                    Ok(tcp) => break (udp, tcp, bound),
                    Err(_) if addr.port() == 0 && attempts < 20 => attempts += 1,
                    Err(e) => panic!("bind TCP on {bound}: {e}"),
                }
            };
            let mut server = Server::new(handler);
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
            tx.send(addr).expect("report address");
            let _ = server.block_until_done().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("test DNS server started")
}

/// Loads every `NAME.zone` file of `dir` as the zone `NAME.` (`root.zone` is the root zone),
/// replacing a zone of that name already in `catalog`.
fn load_zones(catalog: &mut Catalog, dir: &Path) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("zone dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zone"))
        .collect();
    files.sort();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let origin_text = if stem == "root" {
            ".".to_owned()
        } else {
            format!("{stem}.")
        };
        let origin = Name::from_ascii(&origin_text).expect("zone file name is a domain");
        let text = std::fs::read_to_string(&path).expect("read zone file");
        let (origin, records) = Parser::new(text, Some(path.clone()), Some(origin))
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let records: BTreeMap<_, _> = records.into_iter().collect();
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
                None,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for record in raw_records(&origin) {
            assert!(zone.upsert_mut(record, 1), "raw fixture record");
        }
        catalog.upsert(LowerName::from(origin), vec![Arc::new(zone)]);
    }
}

/// Records a zone file cannot spell: TXT strings with raw bytes (escape sequences, NUL, bytes that
/// are not UTF-8), added to the `hostile.test` zone, as a hostile publisher would.
fn raw_records(origin: &Name) -> Vec<Record> {
    if origin.to_ascii() != "hostile.test." {
        return Vec::new();
    }
    let spf: &[&[u8]] = &[
        b"v=spf1 include:<script>alert(1)</script>.hostile.test ",
        b"\x1b[2J\x1b[31m \x00\x01\xff\xfe\x07 ",
        b"-all",
    ];
    let binary: &[&[u8]] = &[b"v=DKIM1; k=rsa; p=\x1b]0;owned\x07\x00\xc3\x28"];
    vec![
        Record::from_rdata(
            origin.clone(),
            300,
            RData::TXT(TXT::from_bytes(spf.to_vec())),
        ),
        Record::from_rdata(
            Name::from_ascii("selector2._domainkey.hostile.test.").expect("fixture name"),
            300,
            RData::TXT(TXT::from_bytes(binary.to_vec())),
        ),
    ]
}

struct FaultyCatalog {
    catalog: Catalog,
    log: Arc<Mutex<Vec<Query>>>,
    mode: Arc<AtomicU8>,
}

#[async_trait::async_trait]
impl RequestHandler for FaultyCatalog {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let Ok(info) = request.request_info() else {
            return self
                .catalog
                .handle_request::<R, T>(request, response_handle)
                .await;
        };
        let name = info.query.name().to_string().to_ascii_lowercase();
        let name = name.trim_end_matches('.').to_owned();
        if std::env::var_os("FIXTURE_DNS_LOG").is_some() {
            eprintln!("{name} {}", info.query.query_type());
        }
        self.log.lock().unwrap().push(Query {
            name: name.clone(),
            record_type: info.query.query_type(),
            over_tcp: request.protocol() == Protocol::Tcp,
        });
        let mode = self.mode.load(Ordering::SeqCst);
        if mode == SILENT || name == "dead.test" || name.ends_with(".dead.test") {
            // Never answer: the client must time out.
            let metadata = Metadata::response_from_request(&request.metadata);
            return ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            });
        }
        let query_type = info.query.query_type();
        let type_broken = (name.ends_with(".v6fail.test") && query_type == RecordType::AAAA)
            || (name.ends_with(".txtfail.test") && query_type == RecordType::TXT)
            || (name.ends_with(".mxfail.test") && query_type == RecordType::MX);
        let degraded = mode == DEGRADED && query_type != RecordType::SOA;
        if name == "_domainkey.entlie.dkim.test" {
            let response = MessageResponseBuilder::from_message_request(request)
                .error_msg(&request.metadata, ResponseCode::NXDomain);
            return match response_handle.send_response(response).await {
                Ok(info) => info,
                Err(_) => ResponseInfo::from(Header {
                    metadata: Metadata::response_from_request(&request.metadata),
                    counts: HeaderCounts::default(),
                }),
            };
        }
        if name == "servfail.test" || name.ends_with(".servfail.test") || type_broken || degraded {
            let response = MessageResponseBuilder::from_message_request(request)
                .error_msg(&request.metadata, ResponseCode::ServFail);
            return match response_handle.send_response(response).await {
                Ok(info) => info,
                Err(_) => ResponseInfo::from(Header {
                    metadata: Metadata::response_from_request(&request.metadata),
                    counts: HeaderCounts::default(),
                }),
            };
        }
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}
