//! The synthetic DNS server of the bulk-audit benchmark (`benches/bulk.sh`, `BENCHMARKS.md`).
//!
//! It serves `--domains N` generated domains `d00001.bench.test` ... with the records a real
//! sending domain publishes, on a loopback address, optionally waiting `--delay-ms` before each
//! answer (a resolver across the internet answers in 10 to 100 ms), and counts the questions it
//! answers so that the benchmark can report queries per second.
//!
//! ```sh
//! cargo run --release --example bench_dns -- --listen 127.0.0.53:53 --domains 2000 \
//!     --delay-ms 20 --stats /tmp/bench-stats --list /tmp/domains.txt
//! ```
//!
//! Each domain `D` = `dNNNNN.bench.test` publishes:
//!
//! * `D MX 10 mx1.D`, `D MX 20 mx2.D`; each host one A (a documentation IPv4 address: there are
//!   only 762 of them, so hosts share them, as on shared hosting) and one AAAA (a documentation
//!   IPv6 address of its own); a PTR for every address;
//! * `D TXT "v=spf1 include:_spf.provider-a.bench.test include:_spf.provider-b.bench.test mx
//!   -all"`, whose includes nest as real providers' do (6 DNS-querying terms in all), and a
//!   site-verification TXT beside it;
//! * `_dmarc.D TXT "v=DMARC1; p=quarantine; rua=..."` with one report address in the domain and
//!   one at an external report processor, which authorises it (RFC 7489 §7.1);
//! * `selector1._domainkey.D`: a DKIM key record with a real 2048-bit RSA key (one key shared by
//!   every domain); the other built-in selectors mailaudit probes are NXDOMAIN;
//! * the domain blocklist `dbl.bench.test` of `benches/dnsbl.toml` lists only its RFC 5782 §5
//!   test entry.
//!
//! With `--hostile`, the domains are `dNNNNN.t` and each publishes instead what a hostile
//! publisher would, the records of `fixtures/zones/bloat.test.zone` (`benches/bulk.sh hostile`,
//! the memory bound):
//!
//! * `_dmarc.D`: a 55 KB DMARC record (over UDP's limit: fetched over TCP) of 3,500 `mailto:`
//!   report URIs, each at another organisational domain (`N.t`, `fN.t`), none authorised;
//! * `s1._domainkey.D` (a built-in selector) instead of `selector1`: 1,500 TXT records, each a
//!   testing key record whose `p=` is not a key. (The short names make the 1,500 records fit in
//!   one 64 KB message: hickory-server compresses only the first 120 names of an answer.)
//!
//! With `--no-dkim`, no domain publishes a DKIM key: `_domainkey.D` does not exist (NXDOMAIN),
//! as for a domain that signs nothing (the queries such a domain costs).
//!
//! With `--dead-every N`, every Nth domain (`d00010`, `d00020`, ... for 10: 10 % of them) is dead:
//! its name servers never answer. Asked by a stub (recursion desired: mailaudit asking this
//! server directly), its names get no answer at all. Asked by a resolver (no recursion desired:
//! unbound, for which this server is the root, `benches/bulk.sh`), they get a referral to the
//! domain's own name server, an address of its own (`--dead-servers` plus the domain's number:
//! `127.1.0.10` for `d00010`), where this server listens (UDP) and never answers: the resolver
//! waits on a dead server as it would on the internet, one per dead domain.
//!
//! Everything else is in one zone, the root, so every name outside the data is NXDOMAIN (never
//! REFUSED). The server runs on loopback only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser as _;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{MX, NS, PTR, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

/// A 2048-bit RSA public key (DER `SubjectPublicKeyInfo`, base64), generated once with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 | openssl pkey -pubout
/// -outform DER | base64 -w0`; its private half was thrown away.
const DKIM_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1y0Y4OtFaHwZ7cHXuGjVAysykG8xrm\
qqIuGefoJ1a2U7YrWuehpv9f9hDKcDx2xzN+iqvjdVKe4D3lKvKiUS+D0xwiSJL37Oa8C4DLZzJKrWRyE+xqg+cxt2p20ON\
taJdV+wl/0VQiPfBQRTAUaJfy0p9wd70swBI+0RyhRtIR1s0Sz+FJqBx55Lw8kOlUgzOfGRKhJzuQRMyH/X9OmRKtvhrKSX\
IrNKlW5nLmFLI+mzKrAxUMswdTNQqes3e0bdNTp6fG2RLE3YW6CD+As8PADlGse+9U6MXv2g2znWA98azNM3vDEFLIYJ/tb\
bUg/Tt/8p6Nxgi/ymuQKPnqvpCwIDAQAB";

/// The records every domain shares: the SPF providers (nested includes, as Google's
/// `_spf.google.com` → `_netblocks*.google.com`), the report processor, the blocklist.
const SHARED_ZONE: &str = r#"
$TTL 300
@ IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300
@ IN NS ns.bench.test.
bench.test. IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300
bench.test. IN NS ns.bench.test.
ns.bench.test. IN A 127.0.0.53
_spf.provider-a.bench.test. IN TXT "v=spf1 include:_netblocks.provider-a.bench.test include:_netblocks2.provider-a.bench.test ~all"
_netblocks.provider-a.bench.test. IN TXT "v=spf1 ip4:192.0.2.0/25 ip4:198.51.100.0/25 ip6:2001:db8:a::/48 ip6:2001:db8:a1::/48 ~all"
_netblocks2.provider-a.bench.test. IN TXT "v=spf1 ip4:203.0.113.0/25 ip6:2001:db8:a2::/48 ~all"
_spf.provider-b.bench.test. IN TXT "v=spf1 ip4:192.0.2.128/25 include:_ip6.provider-b.bench.test ~all"
_ip6.provider-b.bench.test. IN TXT "v=spf1 ip6:2001:db8:b::/48 ip6:2001:db8:b1::/48 ~all"
test.dbl.bench.test. IN A 127.0.1.2
test.dbl.bench.test. IN TXT "RFC 5782 test entry"
"#;

const SPF: &str =
    "v=spf1 include:_spf.provider-a.bench.test include:_spf.provider-b.bench.test mx -all";

/// The external report processor of every domain's `rua`.
const REPORT_HOST: &str = "rua.dmarc-reports.test";

#[derive(clap::Parser)]
#[command(about = "Synthetic DNS server for benches/bulk.sh (loopback only)")]
struct Args {
    /// Loopback address and port to serve on, UDP and TCP.
    #[arg(long, default_value = "127.0.0.53:53")]
    listen: SocketAddr,
    /// How many domains to generate: d00001.bench.test ... (at most 99999).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=99_999))]
    domains: u32,
    /// Milliseconds to wait before each answer (answers wait concurrently).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Rewrite the query counters to this file every 100 ms (`key=value` lines).
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Write the domain names here, one a line.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Publish the hostile records of `fixtures/zones/bloat.test.zone` at every domain (named
    /// `dNNNNN.t`): a 3,500-URI DMARC record and 1,500 TXT records at `s1._domainkey`.
    #[arg(long)]
    hostile: bool,
    /// No domain publishes a DKIM key (`_domainkey.D` is NXDOMAIN).
    #[arg(long)]
    no_dkim: bool,
    /// Every Nth domain is dead: its names are never answered (0: none).
    #[arg(long, default_value_t = 0)]
    dead_every: u32,
    /// The first address of the dead domains' name servers: domain N's is this plus N (port 53:
    /// a referral carries no port), on loopback; this server listens on each (UDP) and never
    /// answers.
    #[arg(long, default_value = "127.1.0.0")]
    dead_servers: Ipv4Addr,
}

fn main() {
    let args = Args::parse();
    assert!(
        args.listen.ip().is_loopback(),
        "the benchmark server listens on loopback only"
    );
    assert!(
        args.dead_servers.is_loopback()
            && Ipv4Addr::from(u32::from(args.dead_servers) + args.domains).is_loopback(),
        "the dead domains' servers listen on loopback"
    );
    let started = Instant::now();
    let data = build(args.domains, args.hostile, args.no_dkim);
    if let Some(path) = &args.list {
        let list: String = (1..=args.domains).fold(String::new(), |mut text, i| {
            let _ = writeln!(text, "{}", domain(i, args.hostile));
            text
        });
        std::fs::write(path, list).expect("write the domain list");
    }
    let counters = Arc::new(Counters::default());
    let records = data.records;
    let handler = Bench {
        data,
        delay: Duration::from_millis(args.delay_ms),
        counters: Arc::clone(&counters),
        dead_every: if args.hostile { 0 } else { args.dead_every },
        dead_servers: args.dead_servers,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("server runtime");
    runtime.block_on(async move {
        let udp = tokio::net::UdpSocket::bind(args.listen)
            .await
            .expect("bind UDP");
        let tcp = tokio::net::TcpListener::bind(args.listen)
            .await
            .expect("bind TCP");
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
        if args.dead_every > 0 && !args.hostile {
            for n in (args.dead_every..=args.domains).step_by(args.dead_every as usize) {
                let address = dead_server(args.dead_servers, n);
                tokio::spawn(never_answer(SocketAddr::new(IpAddr::V4(address), 53)));
            }
        }
        eprintln!(
            "bench_dns: {} {}domains, {records} records, built in {} ms; serving on {} (UDP and \
             TCP), {} ms per answer{}",
            args.domains,
            if args.hostile { "hostile " } else { "" },
            started.elapsed().as_millis(),
            args.listen,
            args.delay_ms,
            if args.dead_every > 0 {
                format!(
                    "; every {}th domain dead (its server: {} + its number)",
                    args.dead_every, args.dead_servers
                )
            } else {
                String::new()
            }
        );
        if let Some(path) = args.stats {
            tokio::spawn(write_stats(path, counters));
        }
        let _ = server.block_until_done().await;
    });
}

/// The name server of dead domain `n`.
fn dead_server(base: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + n)
}

/// Listens on `address` (UDP) and never answers: a dead domain's name server.
async fn never_answer(address: SocketAddr) {
    let udp = tokio::net::UdpSocket::bind(address)
        .await
        .expect("bind a dead server's UDP");
    let mut buffer = vec![0u8; 4096];
    while udp.recv_from(&mut buffer).await.is_ok() {}
}

/// The number of the generated domain `name` is or is below (`d00042.bench.test` → 42).
fn domain_number(name: &str) -> Option<u32> {
    let rest = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .strip_suffix(".bench.test")?
        .to_owned();
    rest.rsplit('.').next()?.strip_prefix('d')?.parse().ok()
}

fn domain(i: u32, hostile: bool) -> String {
    if hostile {
        format!("d{i:05}.t")
    } else {
        format!("d{i:05}.bench.test")
    }
}

fn name(text: &str) -> Name {
    let mut name = Name::from_ascii(text).expect("generated names are valid");
    name.set_fqdn(true);
    name
}

/// The shared IPv4 address of host `h` (0 or 1) of domain `i`: the three RFC 5737 ranges,
/// `.1` to `.254` each, in turn.
fn ipv4(i: u32, h: u16) -> (usize, Ipv4Addr) {
    let k = usize::try_from((2 * (i - 1) + u32::from(h)) % 762).expect("below 762");
    let host = u8::try_from(k % 254 + 1).expect("below 255");
    let address = match k / 254 {
        0 => Ipv4Addr::new(192, 0, 2, host),
        1 => Ipv4Addr::new(198, 51, 100, host),
        _ => Ipv4Addr::new(203, 0, 113, host),
    };
    (k, address)
}

/// The IPv6 address of host `h` of domain `i`, unique in `2001:db8::/32` (RFC 3849).
fn ipv6(i: u32, h: u16) -> Ipv6Addr {
    let [_, high, mid, low] = i.to_be_bytes();
    let (high, low) = (u16::from(high), u16::from_be_bytes([mid, low]));
    Ipv6Addr::new(0x2001, 0xdb8, 0xbe, high, low, 0, 0, h + 1)
}

/// Every record by owner name, and the SOA that negative answers carry.
///
/// Not hickory-server's `InMemoryZoneHandler`: to tell NXDOMAIN from NODATA it scans every name
/// of the zone (`store/in_memory/mod.rs`, `records.keys().any(..)`), so each negative answer costs
/// O(records): with only 500 domains the server spent 0.67 ms of CPU per query and was the
/// bottleneck of the benchmark. Here every name that exists, empty non-terminals included
/// (RFC 8020), is a key, so each answer is one hash lookup.
struct Data {
    names: HashMap<LowerName, Vec<Record>>,
    soa: Record,
    records: usize,
}

impl Data {
    fn add(&mut self, owner: &Name, data: RData) {
        let record = Record::from_rdata(owner.clone(), 300, data);
        self.names
            .entry(LowerName::from(owner))
            .or_default()
            .push(record);
        self.records += 1;
        // The names above it exist too (empty non-terminals answer NODATA, not NXDOMAIN).
        let mut parent = owner.base_name();
        while !parent.is_root() {
            let key = LowerName::from(&parent);
            if self.names.contains_key(&key) {
                break;
            }
            self.names.insert(key, Vec::new());
            parent = parent.base_name();
        }
    }
}

/// The 55 KB DMARC record of `fixtures/zones/bloat.test.zone`: 3,490 `rua` and 10 `ruf`
/// `mailto:` URIs, each host its own organisational domain.
fn hostile_dmarc() -> String {
    let uris = |prefix: &str, host: &str, count: u32| {
        (1..=count)
            .map(|n| format!("mailto:{prefix}@{host}{n}.t"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "v=DMARC1; p=reject; rua={}; ruf={}",
        uris("a", "", 3490),
        uris("f", "f", 10)
    )
}

/// The base64 alphabet: the hostile key records' `p=` values.
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `text` as TXT character-strings of at most 255 bytes (RFC 1035 §3.3.14).
fn character_strings(text: &str) -> Vec<String> {
    text.as_bytes()
        .chunks(255)
        .map(|chunk| String::from_utf8(chunk.to_vec()).expect("ASCII"))
        .collect()
}

/// Generates the records of `domains` domains (the hostile records of `bloat.test` with
/// `hostile`; no DKIM key with `no_dkim`).
fn build(domains: u32, hostile: bool, no_dkim: bool) -> Data {
    let (_, shared) = Parser::new(SHARED_ZONE, None, Some(Name::root()))
        .parse()
        .expect("shared records parse");
    let mut soa = None;
    let mut data = Data {
        names: HashMap::new(),
        soa: Record::from_rdata(Name::root(), 300, RData::from(Ipv4Addr::LOCALHOST)),
        records: 0,
    };
    for record in shared
        .into_values()
        .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
    {
        if record.record_type() == RecordType::SOA && record.name.is_root() {
            soa = Some(record.clone());
        }
        data.add(&record.name.clone(), record.data);
    }
    data.soa = soa.expect("the shared records have a SOA");
    let dkim_strings = character_strings(&format!("v=DKIM1; k=rsa; p={DKIM_KEY}"));
    let hostile_dmarc = character_strings(&hostile_dmarc());
    let mut ptr_done = vec![false; 762];
    for i in 1..=domains {
        let d = domain(i, hostile);
        let apex = name(&d);
        data.add(&apex, RData::TXT(TXT::new(vec![SPF.to_owned()])));
        data.add(
            &apex,
            RData::TXT(TXT::new(vec![format!(
                "google-site-verification=bench-{i:05}-x8Yq2rT"
            )])),
        );
        let dmarc = if hostile {
            hostile_dmarc.clone()
        } else {
            vec![format!(
                "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d},mailto:{i:05}@{REPORT_HOST}; adkim=r; aspf=r"
            )]
        };
        data.add(&name(&format!("_dmarc.{d}")), RData::TXT(TXT::new(dmarc)));
        data.add(
            &name(&format!("{d}._report._dmarc.{REPORT_HOST}")),
            RData::TXT(TXT::new(vec!["v=DMARC1".to_owned()])),
        );
        if hostile {
            let s1 = name(&format!("s1._domainkey.{d}"));
            for n in 0..1500 {
                let record = format!("t=y;p={}{}", BASE64[n / 64] as char, BASE64[n % 64] as char);
                data.add(&s1, RData::TXT(TXT::new(vec![record])));
            }
        } else if !no_dkim {
            data.add(
                &name(&format!("selector1._domainkey.{d}")),
                RData::TXT(TXT::new(dkim_strings.clone())),
            );
        }
        for h in 0..2u16 {
            let host = name(&format!("mx{}.{d}", h + 1));
            data.add(&apex, RData::MX(MX::new(10 * (h + 1), host.clone())));
            let (k, v4) = ipv4(i, h);
            data.add(&host, RData::from(v4));
            if !ptr_done[k] {
                ptr_done[k] = true;
                data.add(&Name::from(IpAddr::V4(v4)), RData::PTR(PTR(host.clone())));
            }
            let v6 = ipv6(i, h);
            data.add(&host, RData::from(v6));
            data.add(&Name::from(IpAddr::V6(v6)), RData::PTR(PTR(host)));
        }
    }
    data
}

/// What the server was asked and what it answered.
#[derive(Default)]
struct Counters {
    queries: AtomicU64,
    tcp: AtomicU64,
    by_type: [AtomicU64; 6],
    nxdomain: AtomicU64,
    nodata: AtomicU64,
    other_rcode: AtomicU64,
    /// Questions about dead domains: dropped, or referred to the dead server.
    dead: AtomicU64,
}

const TYPES: [(&str, RecordType); 5] = [
    ("A", RecordType::A),
    ("AAAA", RecordType::AAAA),
    ("MX", RecordType::MX),
    ("TXT", RecordType::TXT),
    ("PTR", RecordType::PTR),
];

impl Counters {
    fn text(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut text = format!(
            "queries={}\ntcp={}\nnxdomain={}\nnodata={}\nother_rcode={}\ndead={}\n",
            get(&self.queries),
            get(&self.tcp),
            get(&self.nxdomain),
            get(&self.nodata),
            get(&self.other_rcode),
            get(&self.dead)
        );
        for (index, (label, _)) in TYPES.iter().enumerate() {
            let _ = writeln!(text, "{label}={}", get(&self.by_type[index]));
        }
        let _ = writeln!(text, "other_type={}", get(&self.by_type[5]));
        text
    }
}

/// Rewrites the counters to `path` (through a temporary file, so a reader never sees half).
async fn write_stats(path: PathBuf, counters: Arc<Counters>) {
    let temporary = path.with_extension("tmp");
    let mut last = String::new();
    loop {
        let text = counters.text();
        if text != last {
            if std::fs::write(&temporary, &text).is_ok() {
                let _ = std::fs::rename(&temporary, &path);
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The records behind a delay and a counter.
struct Bench {
    data: Data,
    delay: Duration,
    counters: Arc<Counters>,
    /// Every this many domains one is dead (0: none).
    dead_every: u32,
    /// The first address of the dead domains' name servers.
    dead_servers: Ipv4Addr,
}

impl Bench {
    /// Whether `name` is a dead domain's or below one.
    fn is_dead(&self, name: &str) -> bool {
        self.dead_every > 0 && domain_number(name).is_some_and(|n| n % self.dead_every == 0)
    }

    /// A referral of the dead domain of `name` to its name server at the black hole.
    async fn refer<R: ResponseHandler>(
        &self,
        request: &Request,
        name: &str,
        mut response_handle: R,
    ) -> ResponseInfo {
        let number = domain_number(name).unwrap_or_default();
        let zone = self::name(&format!("d{number:05}.bench.test"));
        let server = self::name(&format!("ns.d{number:05}.bench.test"));
        let ns = Record::from_rdata(zone, 300, RData::NS(NS(server.clone())));
        let address = dead_server(self.dead_servers, number);
        let glue = Record::from_rdata(server, 300, RData::A(address.into()));
        let metadata = Metadata::response_from_request(&request.metadata);
        let response = MessageResponseBuilder::from_message_request(request).build(
            metadata,
            &[],
            std::slice::from_ref(&ns),
            &[],
            std::slice::from_ref(&glue),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata: Metadata::response_from_request(&request.metadata),
                counts: HeaderCounts::default(),
            }),
        }
    }

    /// Answers from the table: records, NODATA or NXDOMAIN (both with the SOA, RFC 2308 §3),
    /// EDNS echoed as hickory's `Catalog` does, so large answers fit in UDP.
    async fn answer<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> (ResponseInfo, ResponseCode, usize) {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().max(512));
            edns.set_version(0);
            edns
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let (code, answers): (ResponseCode, Vec<&Record>) = match request.request_info() {
            Err(_) => (ResponseCode::FormErr, Vec::new()),
            Ok(info) => match self.data.names.get(info.query.name()) {
                None => (ResponseCode::NXDomain, Vec::new()),
                Some(records) => (
                    ResponseCode::NoError,
                    records
                        .iter()
                        .filter(|r| r.record_type() == info.query.query_type())
                        .collect(),
                ),
            },
        };
        metadata.response_code = code;
        let count = answers.len();
        let soa: &[Record] = if count == 0 {
            std::slice::from_ref(&self.data.soa)
        } else {
            &[]
        };
        let response = builder.build(metadata, answers, &[], soa, &[]);
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => ResponseInfo::from(Header {
                metadata: Metadata::response_from_request(&request.metadata),
                counts: HeaderCounts::default(),
            }),
        };
        (info, code, count)
    }
}

#[async_trait::async_trait]
impl RequestHandler for Bench {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let counters = &self.counters;
        counters.queries.fetch_add(1, Ordering::Relaxed);
        if request.protocol() == Protocol::Tcp {
            counters.tcp.fetch_add(1, Ordering::Relaxed);
        }
        let mut dead = None;
        if let Ok(info) = request.request_info() {
            let asked = info.query.query_type();
            let index = TYPES
                .iter()
                .position(|(_, t)| *t == asked)
                .unwrap_or(TYPES.len());
            counters.by_type[index].fetch_add(1, Ordering::Relaxed);
            let name = info.query.name().to_string();
            if self.is_dead(&name) {
                dead = Some(name);
            }
        }
        if let Some(name) = dead {
            counters.dead.fetch_add(1, Ordering::Relaxed);
            if request.metadata.recursion_desired {
                // A stub asking: the dead server's silence, as its resolver would pass it on.
                return ResponseInfo::from(Header {
                    metadata: Metadata::response_from_request(&request.metadata),
                    counts: HeaderCounts::default(),
                });
            }
            return self.refer(request, &name, response_handle).await;
        }
        if !self.delay.is_zero() {
            // Each UDP request runs in a task of its own: the waits overlap.
            tokio::time::sleep(self.delay).await;
        }
        let (info, code, answers) = self.answer(request, response_handle).await;
        let counter = match code {
            ResponseCode::NoError if answers == 0 => &counters.nodata,
            ResponseCode::NoError => return info,
            ResponseCode::NXDomain => &counters.nxdomain,
            _ => &counters.other_rcode,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        info
    }
}
