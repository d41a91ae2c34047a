//! A DNSSEC world on loopback for the DNSSEC and DANE tests: zones signed at test time by
//! hickory-server (its `dnssec-aws-lc-rs` feature: ECDSA P-256 keys, NSEC denial), served by
//! in-process name servers, and Debian's `unbound` started as a private instance in front of
//! them as the validating resolver mailaudit asks (`--resolver`).
//!
//! The root zone is signed, and unbound trusts its key (`trust-anchor`), as every validating
//! resolver trusts the real root's. Each test zone (`NAME.test.`) is delegated from the root,
//! with a DS record there when it is signed, so the chain of trust is the real one: root DS →
//! zone DNSKEY → RRSIG. Unbound reaches the root and each zone through `stub-zone`s (the name
//! servers listen on ports other than 53, which NS records cannot name); for a DS question it
//! asks the parent's server, as it does on the internet.
//!
//! [`Signing::Bogus`] signs a zone with a key the parent's DS does not name: validating
//! resolvers answer SERVFAIL for it, and answer with the checking-disabled bit set (RFC 4035
//! §3.2.2). [`World::start`] with `validating: false` runs unbound as a plain recursive
//! resolver (`module-config: "iterator"`): it never sets the AD bit.
//!
//! Unbound runs as root in the foreground (`-d`), killed when the [`World`] drops. Without
//! `/usr/sbin/unbound` the tests that need it print why and return outside CI (`scripts/test`
//! installs it), and fail in CI.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_server::dnssec::NxProofKind;
use hickory_server::proto::dnssec::crypto::EcdsaSigningKey;
use hickory_server::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_server::proto::dnssec::{
    Algorithm, DigestType, DnssecSigner, Nsec3HashAlgorithm, SigningKey,
};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::dns_server;

/// Debian's unbound.
pub const UNBOUND: &str = "/usr/sbin/unbound";

/// The zones of the fixture blocklist catalog (`fixtures/dnsbl/working.toml`).
const BLOCKLIST_ZONES: &[&str] = &[
    "rbl-major.test",
    "rbl-minor.test",
    "rbl-info.test",
    "dbl.test",
];

/// How a zone is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Not signed, and no DS at the parent.
    Unsigned,
    /// Signed, its key's DS at the parent: validates.
    Signed,
    /// Signed with one key while the parent's DS names another: does not validate.
    Bogus,
}

/// One zone of the world: `origin` (`signed.test`) and its records in zone-file syntax, names
/// relative to the origin (`@ MX 10 mx`, `mx A 127.0.0.1`); SOA and NS are added.
#[derive(Clone, Debug)]
pub struct Zone {
    pub origin: String,
    pub records: String,
    pub signing: Signing,
}

impl Zone {
    pub fn new(origin: &str, signing: Signing, records: &str) -> Zone {
        Zone {
            origin: origin.trim_end_matches('.').to_owned(),
            records: records.to_owned(),
            signing,
        }
    }
}

/// The name servers and the resolver in front of them.
pub struct World {
    /// Where unbound listens: mailaudit's `--resolver`.
    pub resolver: SocketAddr,
    /// The root zone's server (the zones' servers are others).
    pub root_server: SocketAddr,
    unbound: Child,
    dir: tempfile::TempDir,
}

impl World {
    /// Whether unbound is there; when it is not, says so (and fails in CI, where
    /// `scripts/test` installs it).
    pub fn available(test: &str) -> bool {
        if Path::new(UNBOUND).exists() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {UNBOUND} is missing in CI: scripts/test installs Debian's unbound"
        );
        eprintln!(
            "SKIPPED {test}: the DNSSEC tests need Debian's unbound as the validating resolver \
             ({UNBOUND} is missing): run scripts/test as root, or apt-get install unbound"
        );
        false
    }

    /// Signs and serves `zones` under a signed root, and starts unbound in front of them:
    /// validating against the root's key, or (`validating: false`) not validating at all.
    pub fn start(zones: &[Zone], validating: bool) -> World {
        let served = serve(zones);
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_udp_port();
        let anchor = validating.then(|| served.root_key.ds(&Name::root()).to_string());
        let config = unbound_config(dir.path(), port, anchor.as_deref(), zones, &served);
        let config_path = dir.path().join("unbound.conf");
        std::fs::write(&config_path, &config).expect("write unbound.conf");
        let stderr = std::fs::File::create(dir.path().join("unbound.stderr")).expect("stderr");
        let unbound = Command::new(UNBOUND)
            .arg("-d")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {UNBOUND}: {e}"));
        let world = World {
            resolver: SocketAddr::from(([127, 0, 0, 1], port)),
            root_server: served.root,
            unbound,
            dir,
        };
        world.wait_until_answering();
        world
    }

    /// `--resolver` argument for the binary.
    pub fn resolver_arg(&self) -> String {
        self.resolver.to_string()
    }

    /// Unbound's log (and what it wrote to standard error), for a failing test's message.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        read("unbound.stderr").unwrap_or_default() + &read("unbound.log").unwrap_or_default()
    }

    /// The directory of the instance (its configuration and log).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Waits until unbound answers the root's SOA (it starts in well under a second).
    fn wait_until_answering(&self) {
        let start = Instant::now();
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        // A query for `. SOA`, ID 0x5151, RD set.
        let query = [
            0x51, 0x51, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1,
        ];
        let mut buffer = [0u8; 1500];
        while start.elapsed() < Duration::from_secs(10) {
            if socket.send_to(&query, self.resolver).is_ok()
                && let Ok((length, _)) = socket.recv_from(&mut buffer)
                && length > 3
                && buffer[..2] == query[..2]
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "unbound did not answer on {} within 10 s; its log:\n{}",
            self.resolver,
            self.log()
        );
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.unbound.kill();
        let _ = self.unbound.wait();
    }
}

/// The name servers of a world: the root's, and the test zones' (one server for all).
struct Served {
    root_key: Key,
    root: SocketAddr,
    zones: SocketAddr,
}

/// Signs `zones` (each with a key of its own, its DS in the root zone unless unsigned) and the
/// root, and serves them on loopback.
fn serve(zones: &[Zone]) -> Served {
    let root_key = Key::generate();
    let mut root_text = String::from(
        "@ 300 IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300\n\
         @ 300 IN NS ns.root.\n\
         ns.root. 300 IN A 127.0.0.1\n",
    );
    let mut zones_catalog = Catalog::new();
    let mut ds_records = Vec::new();
    for zone in zones {
        let origin = Name::from_ascii(format!("{}.", zone.origin)).expect("zone name");
        let _ = writeln!(root_text, "{}. 300 IN NS ns.root.", zone.origin);
        let key = (zone.signing != Signing::Unsigned).then(Key::generate);
        match (&key, zone.signing) {
            (Some(key), Signing::Signed) => ds_records.push(key.ds_record(&origin)),
            // The parent names a key the zone does not publish.
            (Some(_), Signing::Bogus) => ds_records.push(Key::generate().ds_record(&origin)),
            _ => {}
        }
        let text = format!(
            "@ 300 IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300\n\
             @ 300 IN NS ns.root.\n{}\n",
            zone.records
        );
        let handler = handler(&origin, &text, key.as_ref());
        zones_catalog.upsert(LowerName::from(origin), vec![Arc::new(handler)]);
    }
    let mut root = handler_unsigned(&Name::root(), &root_text);
    for ds in ds_records {
        assert!(root.upsert_mut(ds, 1), "DS record");
    }
    secure(&mut root, &root_key, &Name::root());
    let mut root_catalog = Catalog::new();
    root_catalog.upsert(LowerName::from(Name::root()), vec![Arc::new(root)]);
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
    Served {
        root_key,
        root: dns_server::serve(loopback, root_catalog),
        zones: dns_server::serve(loopback, zones_catalog),
    }
}

/// Unbound's configuration: on 127.0.0.1:`port`, in the foreground, logging to `dir`; the
/// root and each zone reached through a stub zone; validating with the root's DS `anchor`, or
/// not validating without one.
fn unbound_config(
    dir: &Path,
    port: u16,
    anchor: Option<&str>,
    zones: &[Zone],
    served: &Served,
) -> String {
    let mut config = format!(
        "server:\n\
         \x20 interface: 127.0.0.1\n\
         \x20 port: {port}\n\
         \x20 do-daemonize: no\n\
         \x20 username: \"\"\n\
         \x20 chroot: \"\"\n\
         \x20 directory: \"{dir}\"\n\
         \x20 pidfile: \"\"\n\
         \x20 use-syslog: no\n\
         \x20 logfile: \"{dir}/unbound.log\"\n\
         \x20 verbosity: 1\n\
         \x20 val-log-level: 2\n\
         \x20 num-threads: 1\n\
         \x20 so-reuseport: no\n\
         \x20 do-ip6: no\n\
         \x20 do-not-query-localhost: no\n\
         \x20 access-control: 127.0.0.0/8 allow\n\
         \x20 qname-minimisation: no\n\
         \x20 prefetch: no\n\
         \x20 target-fetch-policy: \"0 0 0 0 0\"\n\
         \x20 local-zone: \"test.\" nodefault\n\
         \x20 module-config: \"{modules}\"\n",
        dir = dir.display(),
        modules = if anchor.is_some() {
            "validator iterator"
        } else {
            "iterator"
        },
    );
    if let Some(anchor) = anchor {
        let _ = writeln!(config, "  trust-anchor: \". DS {anchor}\"");
    }
    let mut stub = |name: &str, server: SocketAddr| {
        let _ = writeln!(
            config,
            "stub-zone:\n  name: \"{name}\"\n  stub-addr: 127.0.0.1@{}",
            server.port()
        );
    };
    stub(".", served.root);
    for zone in zones {
        stub(&format!("{}.", zone.origin), served.zones);
    }
    // The fixture blocklists, from the shared fixture server, unsigned: every audit's
    // blocklist health check passes as it does in the other tests.
    for zone in BLOCKLIST_ZONES {
        stub(&format!("{zone}."), dns_server::server().addr);
    }
    for zone in BLOCKLIST_ZONES {
        let _ = writeln!(config, "server:\n  domain-insecure: \"{zone}.\"");
    }
    config
}

/// An ECDSA P-256 key pair made for this run.
struct Key {
    pkcs8: PrivatePkcs8KeyDer<'static>,
}

const ALGORITHM: Algorithm = Algorithm::ECDSAP256SHA256;

impl Key {
    fn generate() -> Key {
        Key {
            pkcs8: EcdsaSigningKey::generate_pkcs8(ALGORITHM).expect("generate a key"),
        }
    }

    fn signing_key(&self) -> EcdsaSigningKey {
        EcdsaSigningKey::from_pkcs8(&self.pkcs8, ALGORITHM).expect("read the key")
    }

    /// A signer for the zone `origin`, its signatures valid for 30 days.
    fn signer(&self, origin: &Name) -> DnssecSigner {
        let key = self.signing_key();
        let public = key.to_public_key().expect("public key");
        DnssecSigner::new(
            DNSKEY::from_key(&public),
            Box::new(key),
            origin.clone(),
            Duration::from_hours(30 * 24),
        )
    }

    /// The DS (SHA-256) of this key as the key of `origin`.
    fn ds(&self, origin: &Name) -> DS {
        let public = self.signing_key().to_public_key().expect("public key");
        DS::from_key(&public, origin, DigestType::SHA256).expect("DS of the key")
    }

    /// [`Key::ds`] as a record of the parent zone.
    fn ds_record(&self, origin: &Name) -> Record {
        Record::from_rdata(
            origin.clone(),
            300,
            RData::DNSSEC(DNSSECRData::DS(self.ds(origin))),
        )
    }
}

type Zoned = InMemoryZoneHandler<hickory_server::net::runtime::TokioRuntimeProvider>;

/// The zone `origin` of `text`, signed with `key` when there is one.
fn handler(origin: &Name, text: &str, key: Option<&Key>) -> Zoned {
    let mut zone = handler_unsigned(origin, text);
    if let Some(key) = key {
        secure(&mut zone, key, origin);
    }
    zone
}

fn handler_unsigned(origin: &Name, text: &str) -> Zoned {
    let (origin, records) = Parser::new(text, None, Some(origin.clone()))
        .parse()
        .unwrap_or_else(|e| panic!("zone {origin}: {e}\n{text}"));
    let records: BTreeMap<_, _> = records.into_iter().collect();
    InMemoryZoneHandler::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
        Some(NxProofKind::Nsec3 {
            algorithm: Nsec3HashAlgorithm::SHA1,
            salt: Arc::from(Vec::new()),
            iterations: 0,
            opt_out: false,
        }),
    )
    .unwrap_or_else(|e| panic!("zone {origin}: {e}"))
}

/// Adds `key` to the zone `origin` and signs it (NSEC records included).
fn secure(zone: &mut Zoned, key: &Key, origin: &Name) {
    zone.add_zone_signing_key_mut(key.signer(origin))
        .expect("add the key");
    zone.secure_zone_mut().expect("sign the zone");
}

/// A port of 127.0.0.1 free for UDP now (unbound binds UDP and TCP on it).
fn free_udp_port() -> u16 {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
        let port = udp.local_addr().expect("address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}
