//! The DNS layer: every question the audit asks goes through [`Dns`].
//!
//! It wraps hickory-resolver so that (1) every answer is typed ([`Answer`]), (2) identical
//! questions are asked once per run, even when asked concurrently, (3) the questions in flight
//! are bounded by an adaptive window under `--concurrency` ([`adaptive`]), each sent again and
//! given up after time-outs derived from the round trips observed ([`flow`]), and (4) each
//! audit's questions are counted, and those about a domain whose name servers are dead not sent
//! ([`scope`]).
//! Truncated UDP answers are retried over TCP by the resolver.

mod adaptive;
mod answer;
mod cache;
mod flow;
mod name;
mod probe;
mod rate;
mod raw;
mod rtt;
mod scope;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

use cache::AnswerCache;
use flow::Flow;
use scope::Scope;

pub use answer::{Answer, Failure, Mx, ResolverValidation, Tlsa, Txt, Validated};
pub use name::{MAX_LABEL, MAX_NAME, NameError, QueryName, Syntax};
pub use probe::ResolverDown;
pub use scope::Stats;

/// TXT records an area lists per name: it reads every record (a DMARC or SPF record among
/// hundreds is still found, and several still counted) but keeps the first 32 and says how many
/// there were, so that a name of thousands of records does not become thousands of everything.
pub const MAX_TXT_SHOWN: usize = 32;

/// The most questions in flight by default: the adaptive window ([`adaptive`]) stays below it
/// on its own; it is high enough for a resolver 20 ms away answering 10,000 questions a second.
pub const DEFAULT_CONCURRENCY: u32 = 1024;

/// Questions whose answers a run keeps (at least; at most twice as many): a few hundred
/// domains' worth, so that shared names stay cached while memory stays flat in bulk runs.
const CACHE_CAPACITY: usize = 50_000;

/// Bytes of answers (roughly: see [`weight`]) the cache's young generation holds before it
/// ages, whatever the count: a few huge answers (a 55 KB DMARC record, 1,500 TXT records at one
/// name) age out as fast as many small ones, so that memory stays flat in bulk runs whatever
/// the records hold (at most two generations: about twice this).
const CACHE_BYTES: usize = 16 << 20;

/// How long a failed answer is kept before the question is asked again.
const FAILURE_TTL: Duration = Duration::from_secs(30);

/// Aliases a CNAME chain may have before it counts as never ending: the limit of the resolver
/// library (hickory-resolver's `MAX_QUERY_DEPTH`) and of hickory-server's own chasing.
const MAX_CNAME_CHAIN: usize = 8;

/// The answers of a run by question, with when each came.
type Cache = AnswerCache<(String, RecordType), (Answer<RData>, Instant)>;

/// The answers asked with DO set, keyed also by the CD bit asked with.
type ValidatedCache = AnswerCache<(String, RecordType, bool), (Validated<RData>, Instant)>;

/// How to reach the resolver.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// Servers to ask; empty means the system's configuration (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// The longest one question waits for an answer, resends included.
    pub timeout: Duration,
    /// The most questions in flight at once, across the whole run (the adaptive window's
    /// ceiling).
    pub concurrency: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            concurrency: usize::try_from(DEFAULT_CONCURRENCY).unwrap_or(usize::MAX),
        }
    }
}

/// The resolver could not be set up or does not work: the program cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    #[error(
        "cannot read the system's resolver configuration (/etc/resolv.conf): {reason}; give one with --resolver"
    )]
    SystemConfig { reason: String },
    #[error("cannot build the resolver: {reason}")]
    Build { reason: String },
    #[error(transparent)]
    ResolverDown(#[from] ResolverDown),
}

/// The DNS client of one run: a resolver, an answer cache, and a bound on queries in flight.
/// Cloned cheaply: [`Dns::scoped`] gives each audit its own view of the same client.
#[derive(Clone)]
pub struct Dns {
    /// The resolver of the liveness probe: it asks twice on its own.
    probe: TokioResolver,
    /// The servers asked, in the order given (from `--resolver` or the system's configuration).
    servers: Vec<SocketAddr>,
    timeout: Duration,
    cache: Arc<Cache>,
    /// Answers asked with DO set (and CD when the flag says so), apart from the others.
    validated: Arc<ValidatedCache>,
    /// Whether the resolver validates, asked at most once a run.
    validation: Arc<tokio::sync::OnceCell<ResolverValidation>>,
    flow: Arc<Flow>,
    liveness: Arc<probe::Liveness>,
    /// The audit this view asks for, if any.
    scope: Option<Arc<Scope>>,
}

impl Dns {
    /// Builds the client. Must be called inside a Tokio runtime. Without servers in `config`,
    /// the system's are read once here, so that a report can always say which were asked.
    pub fn new(config: &DnsConfig) -> Result<Dns, DnsSetupError> {
        let servers = if config.servers.is_empty() {
            system_servers()?
        } else {
            config.servers.clone()
        };
        // The flow sends each question, and again through a resolver of its own (see `flow`).
        let resolvers = (0..flow::SENDS)
            .map(|_| build_resolver(&servers, config.timeout, 0))
            .collect::<Result<Vec<_>, _>>()?;
        let probe = build_resolver(&servers, config.timeout, probe::ATTEMPTS)?;
        Ok(Dns {
            probe,
            servers,
            timeout: config.timeout,
            cache: Arc::new(AnswerCache::new(CACHE_CAPACITY, CACHE_BYTES)),
            validated: Arc::new(AnswerCache::new(CACHE_CAPACITY, CACHE_BYTES)),
            validation: Arc::new(tokio::sync::OnceCell::new()),
            flow: Arc::new(Flow::new(resolvers, config.concurrency, config.timeout)),
            liveness: Arc::new(probe::Liveness::default()),
            scope: None,
        })
    }

    /// The same client, asking for the audit of `target` (`None`: a target that is no domain):
    /// its questions are counted ([`Dns::stats`]), and once the questions about the domain have
    /// timed out or failed without one answer, the rest about it get one short try each.
    #[must_use]
    pub fn scoped(&self, target: Option<&str>) -> Dns {
        Dns {
            scope: Some(Arc::new(Scope::new(target))),
            ..self.clone()
        }
    }

    /// The questions this audit's view sent (all zero for an unscoped client).
    pub fn stats(&self) -> Stats {
        self.scope.as_deref().map(Scope::stats).unwrap_or_default()
    }

    /// How many questions may be in flight now (the adaptive window).
    pub fn window(&self) -> usize {
        self.flow.limit()
    }

    /// The servers this client asks.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Asks each server, on its own, a question every working resolver answers (the root
    /// zone's SOA): before anything is judged, a server that does not answer, refuses, or
    /// fails stops the run instead of turning every later answer into "unknown".
    pub async fn check_resolvers(&self) -> Result<(), ResolverDown> {
        let checks = self.servers.iter().map(|&server| async move {
            let resolver =
                build_resolver(&[server], self.timeout, probe::ATTEMPTS).map_err(|e| {
                    ResolverDown {
                        server,
                        problem: e.to_string(),
                    }
                })?;
            probe::check(&resolver)
                .await
                .map_err(|problem| ResolverDown { server, problem })
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(drop)
    }

    /// Whether the resolver still answers: asked again (not from the cache) when an audit met
    /// DNS failures, to tell the domain's own name servers failing from the resolver dying.
    /// Concurrent askers share one probe, and its result is reused for a moment.
    pub async fn resolver_answers(&self) -> bool {
        self.liveness.answers(&self.probe).await
    }

    /// Caps the questions sent to `qps` a second (`--rate`).
    #[must_use]
    pub fn with_rate(self, qps: u32) -> Dns {
        self.flow.limit_rate(qps);
        self
    }

    /// How many questions went to the resolver (cache hits are not counted), for the whole run.
    pub fn queries_sent(&self) -> usize {
        self.flow.sent()
    }

    /// TXT records of `name`.
    pub async fn txt(&self, name: &str) -> Answer<Txt> {
        self.lookup(name, RecordType::TXT)
            .await
            .map(|rdata| match rdata {
                RData::TXT(txt) => Txt {
                    strings: txt.txt_data.iter().map(|s| s.to_vec()).collect(),
                },
                _ => unreachable!("filtered by record type"),
            })
    }

    /// MX records of `name`, sorted by preference.
    pub async fn mx(&self, name: &str) -> Answer<Mx> {
        let mut answer = self
            .lookup(name, RecordType::MX)
            .await
            .map(|rdata| match rdata {
                RData::MX(mx) => Mx {
                    preference: mx.preference,
                    exchange: display_name(&mx.exchange),
                },
                _ => unreachable!("filtered by record type"),
            });
        if let Answer::Records { records, .. } = &mut answer {
            records.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
        }
        answer
    }

    /// IPv4 addresses of `name`.
    pub async fn a(&self, name: &str) -> Answer<Ipv4Addr> {
        self.lookup(name, RecordType::A)
            .await
            .map(|rdata| match rdata {
                RData::A(a) => a.0,
                _ => unreachable!("filtered by record type"),
            })
    }

    /// IPv6 addresses of `name`.
    pub async fn aaaa(&self, name: &str) -> Answer<Ipv6Addr> {
        self.lookup(name, RecordType::AAAA)
            .await
            .map(|rdata| match rdata {
                RData::AAAA(aaaa) => aaaa.0,
                _ => unreachable!("filtered by record type"),
            })
    }

    /// A and AAAA of `name`, asked concurrently.
    pub async fn addresses(&self, name: &str) -> (Answer<Ipv4Addr>, Answer<Ipv6Addr>) {
        tokio::join!(self.a(name), self.aaaa(name))
    }

    /// The CNAME target of `name`, asked as such: a negative answer to another type does not
    /// say whether the name was an alias of a name that does not exist.
    pub async fn cname(&self, name: &str) -> Answer<String> {
        self.lookup(name, RecordType::CNAME)
            .await
            .map(|rdata| match rdata {
                RData::CNAME(cname) => display_name(&cname.0),
                _ => unreachable!("filtered by record type"),
            })
    }

    /// The SOA record of `name`, as its primary server's name: asked to see whether the name
    /// servers answering for a domain answer at all (a name below a zone apex gets NODATA).
    pub async fn soa(&self, name: &str) -> Answer<String> {
        self.lookup(name, RecordType::SOA)
            .await
            .map(|rdata| match rdata {
                RData::SOA(soa) => display_name(&soa.mname),
                _ => unreachable!("filtered by record type"),
            })
    }

    /// PTR names of `ip` (RFC 1035 §3.5, RFC 3596 §2.5), without trailing dots.
    pub async fn ptr(&self, ip: IpAddr) -> Answer<String> {
        let name = display_name(&Name::from(ip));
        self.lookup(&name, RecordType::PTR)
            .await
            .map(|rdata| match rdata {
                RData::PTR(ptr) => display_name(&ptr.0),
                _ => unreachable!("filtered by record type"),
            })
    }

    /// Whether `name` has DS records (RFC 4034 §5), asked of the parent zone's servers by the
    /// resolver: the parent vouches for the zone's key, which makes the zone signed.
    pub async fn ds(&self, name: &str) -> Answer<()> {
        self.lookup(name, RecordType::DS).await.map(drop)
    }

    /// Whether `name` publishes DNSKEY records (RFC 4034 §2: the keys of a signed zone), asked
    /// with DO set (CD too with `checking_disabled`), with the AD bit: a validating resolver
    /// sets it when the zone `name` is in is signed and its keys (or the proof that `name` has
    /// none) validate, and answers SERVFAIL when they do not (CD set, it answers anyway). A
    /// negative answer names the zone (`zone`).
    pub async fn dnskey_validated(&self, name: &str, checking_disabled: bool) -> Validated<()> {
        self.lookup_validated(name, RecordType::DNSKEY, checking_disabled)
            .await
            .map(drop)
    }

    /// The SOA of `name` asked with DO set (CD too with `checking_disabled`), as its primary
    /// server's name, with the AD bit: a validating resolver sets it when the zone `name` is
    /// in is signed and validates, and answers SERVFAIL when it does not validate (CD set,
    /// it answers anyway).
    pub async fn soa_validated(&self, name: &str, checking_disabled: bool) -> Validated<String> {
        self.lookup_validated(name, RecordType::SOA, checking_disabled)
            .await
            .map(|rdata| match rdata {
                RData::SOA(soa) => display_name(&soa.mname),
                _ => unreachable!("filtered by record type"),
            })
    }

    /// TLSA records of `name` (`_25._tcp.<mx host>`, RFC 7672 §2.2), asked with DO set: DANE
    /// uses them only when the AD bit says they validated.
    pub async fn tlsa(&self, name: &str) -> Validated<Tlsa> {
        self.lookup_validated(name, RecordType::TLSA, false)
            .await
            .map(|rdata| match rdata {
                RData::TLSA(tlsa) => Tlsa {
                    usage: u8::from(tlsa.cert_usage),
                    selector: u8::from(tlsa.selector),
                    matching: u8::from(tlsa.matching),
                    data: tlsa.cert_data,
                },
                _ => unreachable!("filtered by record type"),
            })
    }

    /// Whether the resolver validates DNSSEC, asked once a run: the root zone is signed and
    /// every validating resolver trusts its key (RFC 4033 §5), so it sets the AD bit on the
    /// root's SOA. A resolver that does not leaves every answer's AD bit clear, signed or not.
    pub async fn resolver_validation(&self) -> ResolverValidation {
        self.validation
            .get_or_init(|| async {
                // A question of the run, not of the audit that happens to ask first.
                let run = Dns {
                    scope: None,
                    ..self.clone()
                };
                let root = run.soa_validated(".", false).await;
                ResolverValidation {
                    server: root.server,
                    validates: root.answer.failure().is_none().then_some(root.authentic),
                }
            })
            .await
            .clone()
    }

    /// Asks (name, type) with DO set once per run, as [`Dns::lookup`] does without.
    async fn lookup_validated(
        &self,
        name: &str,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Validated<RData> {
        let key = (name.to_ascii_lowercase(), record_type, checking_disabled);
        let slot = self.validated.slot(key.clone());
        let ask = || async {
            let validated = self
                .query_validated(name, record_type, checking_disabled)
                .await;
            self.validated.charge(weight(&validated.answer));
            (validated, Instant::now())
        };
        let (validated, answered_at) = slot.get_or_init(ask).await;
        if validated.answer.failure().is_none() || answered_at.elapsed() < FAILURE_TTL {
            return validated.clone();
        }
        let fresh = self.validated.renew(key, &slot);
        fresh.get_or_init(ask).await.0.clone()
    }

    /// One question with DO set, asked and read by [`raw`] (the resolver library passes no AD
    /// bit on), each server in turn within the timeout (the datagram sent twice).
    async fn query_validated(
        &self,
        name: &str,
        record_type: RecordType,
        checking_disabled: bool,
    ) -> Validated<RData> {
        let unanswered = |failure| Validated {
            answer: Answer::Failed(failure),
            authentic: false,
            server: None,
            zone: None,
        };
        let fqdn = match QueryName::parse(name, Syntax::Any) {
            Ok(query_name) => query_name.to_fqdn(),
            // The root, which names no label.
            Err(_) if name == "." => Name::root(),
            Err(reason) => {
                return unanswered(Failure::InvalidName(format!("{name}: {reason}")));
            }
        };
        let flags = raw::Flags {
            dnssec_ok: true,
            checking_disabled,
        };
        let ask = |timing| raw::ask(&self.servers, &fqdn, record_type, flags, timing);
        if let Some(reply) = self.flow.raw(self.scope.as_deref(), name, ask).await {
            let answer = match reply.response_code {
                ResponseCode::NoError => from_answer_section(name, record_type, &reply.answers),
                ResponseCode::NXDomain => Answer::nx_domain(),
                code => Answer::Failed(from_response_code(code)),
            };
            return Validated {
                answer,
                authentic: reply.authentic_data,
                server: Some(reply.server),
                zone: reply.authority_zone.as_ref().map(display_name),
            };
        }
        unanswered(Failure::Timeout)
    }

    /// Asks (name, type) once per run: concurrent askers of the same question share one query.
    ///
    /// A failure is shared with the askers of the same moment, and kept for [`FAILURE_TTL`] so
    /// that one audit sees one answer; after that the question is asked again, so that a
    /// passing fault does not mark every later domain of a bulk run "unknown".
    async fn lookup(&self, name: &str, record_type: RecordType) -> Answer<RData> {
        let key = (name.to_ascii_lowercase(), record_type);
        let slot = self.cache.slot(key.clone());
        let ask = || async {
            let answer = self.query(name, record_type).await;
            self.cache.charge(weight(&answer));
            (answer, Instant::now())
        };
        let (answer, answered_at) = slot.get_or_init(ask).await;
        if answer.failure().is_none() || answered_at.elapsed() < FAILURE_TTL {
            return answer.clone();
        }
        let fresh = self.cache.renew(key, &slot);
        fresh.get_or_init(ask).await.0.clone()
    }

    async fn query(&self, name: &str, record_type: RecordType) -> Answer<RData> {
        // Any octet may be asked (RFC 2181 §11): a name an SPF record or a macro expansion
        // produces (`foo:bar/baz.example.com`) is asked as it is.
        let fqdn = match QueryName::parse(name, Syntax::Any) {
            Ok(query_name) => query_name.to_fqdn(),
            Err(reason) => {
                return Answer::Failed(Failure::InvalidName(format!("{name}: {reason}")));
            }
        };
        match (self.flow)
            .exchange(self.scope.as_deref(), name, &fqdn, record_type)
            .await
        {
            Ok(lookup) => from_answer_section(name, record_type, lookup.answers()),
            // A negative answer that may be about another name than the one asked: the name is
            // then an alias, and the answer is about its chain's last name (RFC 6604 §2), which
            // the resolver library does not pass on. Either the answer carries no SOA saying
            // there is nothing (RFC 2308 §2.2; a server answering with the aliases only, a
            // CNAME loop among them), or its SOA is that of a zone the name asked is not in
            // (an alias into another zone: a DKIM selector delegated to a provider). The chain
            // is then followed, one CNAME question a link.
            Err(NetError::Dns(DnsError::NoRecordsFound(no_records)))
                if record_type != RecordType::CNAME
                    && matches!(
                        no_records.response_code,
                        ResponseCode::NoError | ResponseCode::NXDomain
                    )
                    && no_records
                        .soa
                        .as_ref()
                        .is_none_or(|soa| !soa.name.zone_of(&fqdn)) =>
            {
                let answered = classify(&NetError::Dns(DnsError::NoRecordsFound(no_records)));
                self.follow_aliases(name, answered).await
            }
            Err(NetError::Proto(error)) if raw::is_empty_record(&error) => {
                let flags = raw::Flags::default();
                let ask = |timing| raw::ask(&self.servers, &fqdn, record_type, flags, timing);
                match self.flow.raw(self.scope.as_deref(), name, ask).await {
                    Some(reply) if reply.response_code == ResponseCode::NoError => {
                        from_answer_section(name, record_type, &reply.answers)
                    }
                    Some(reply) if reply.response_code == ResponseCode::NXDomain => {
                        Answer::nx_domain()
                    }
                    Some(reply) => Answer::Failed(from_response_code(reply.response_code)),
                    None => classify(&NetError::Proto(error)),
                }
            }
            Err(error) => classify(&error),
        }
    }

    /// Follows the CNAME chain from `name`, one alias a question (each asked once per run), for
    /// the negative answer `answered`: with the chain when `name` is an alias, as it is when
    /// `name` is no alias, a failure when the chain loops or has more than
    /// [`MAX_CNAME_CHAIN`] aliases. Never called for CNAME questions, so it never recurses.
    async fn follow_aliases(&self, name: &str, answered: Answer<RData>) -> Answer<RData> {
        let mut chain = vec![name.trim_end_matches('.').to_ascii_lowercase()];
        let last = loop {
            let current = chain.last().cloned().unwrap_or_default();
            // Boxed: `lookup` may call this function (for other record types).
            let answer = Box::pin(self.lookup(&current, RecordType::CNAME)).await;
            let target = match &answer {
                Answer::Records { records, .. } => records.iter().find_map(|rdata| match rdata {
                    RData::CNAME(target) => Some(display_name(&target.0)),
                    _ => None,
                }),
                Answer::NoData { .. } | Answer::NxDomain { .. } => None,
                Answer::Failed(failure) => return Answer::Failed(failure.clone()),
            };
            let Some(target) = target else {
                break answer;
            };
            let looped = chain.contains(&target);
            chain.push(target);
            if looped {
                return Answer::Failed(Failure::CnameChain(format!(
                    "CNAME loop: {}",
                    chain.join(" → ")
                )));
            }
            if chain.len() > MAX_CNAME_CHAIN + 1 {
                return Answer::Failed(Failure::CnameChain(format!(
                    "CNAME chain of more than {MAX_CNAME_CHAIN} aliases: {} → ...",
                    chain.join(" → ")
                )));
            }
        };
        if chain.len() == 1 {
            return answered;
        }
        // The answer's code, or without an SOA (the aliases only) the last name's own answer,
        // says whether the chain ends at a name that does not exist.
        let nx_domain =
            matches!(answered, Answer::NxDomain { .. }) || matches!(last, Answer::NxDomain { .. });
        if nx_domain {
            Answer::NxDomain { aliases: chain }
        } else {
            Answer::NoData { aliases: chain }
        }
    }
}

/// The records of `record_type` in an answer section, with the CNAME chain that led to them;
/// aliases that lead to none of them cannot be read.
fn from_answer_section(name: &str, record_type: RecordType, answers: &[Record]) -> Answer<RData> {
    let mut aliases = Vec::new();
    let mut links = Vec::new();
    let mut records = Vec::new();
    for record in answers {
        if record.record_type() == record_type {
            records.push(record.data.clone());
        } else if let RData::CNAME(target) = &record.data {
            if aliases.is_empty() {
                aliases.push(display_name(&record.name));
            }
            aliases.push(display_name(&target.0));
            links.push((display_name(&record.name), display_name(&target.0)));
        }
    }
    if !records.is_empty() {
        Answer::Records { records, aliases }
    } else if links.is_empty() {
        Answer::no_data()
    } else {
        // Aliases and nothing they lead to: the records cannot be read.
        Answer::Failed(Failure::CnameChain(dead_end(name, &links, record_type)))
    }
}

/// Why an answer of aliases only leads nowhere: the chain from `name` through `links` (owner,
/// target) loops, or ends without a record of `record_type`.
fn dead_end(name: &str, links: &[(String, String)], record_type: RecordType) -> String {
    let mut chain = vec![name.trim_end_matches('.').to_ascii_lowercase()];
    while chain.len() <= links.len() {
        let current = chain.last().cloned().unwrap_or_default();
        let Some((_, target)) = links.iter().find(|(owner, _)| *owner == current) else {
            break;
        };
        let looped = chain.contains(target);
        chain.push(target.clone());
        if looped {
            return format!("CNAME loop: {}", chain.join(" → "));
        }
    }
    if chain.len() == 1 {
        let listed: Vec<String> = links.iter().map(|(o, t)| format!("{o} → {t}")).collect();
        return format!(
            "the answer holds only aliases that do not start at {name}: {}",
            listed.join(", ")
        );
    }
    format!(
        "CNAME chain {} leads to no {record_type} record",
        chain.join(" → ")
    )
}

/// Roughly the bytes a cached answer holds, for the cache's byte bound.
fn weight(answer: &Answer<RData>) -> usize {
    /// The key, the slot and the maps' entries.
    const ENTRY: usize = 160;
    /// A heap allocation's bookkeeping and rounding.
    const ALLOCATION: usize = 32;
    let rdata = |rdata: &RData| {
        std::mem::size_of::<RData>()
            + match rdata {
                RData::TXT(txt) => txt.txt_data.iter().map(|s| s.len() + ALLOCATION).sum(),
                // Names (MX, PTR, CNAME, SOA) hold their labels on the heap.
                _ => 2 * ALLOCATION,
            }
    };
    ENTRY
        + match answer {
            Answer::Records { records, aliases } => {
                records.iter().map(rdata).sum::<usize>()
                    + aliases.iter().map(|a| a.len() + ALLOCATION).sum::<usize>()
            }
            Answer::Failed(failure) => failure.label().len(),
            Answer::NoData { aliases } | Answer::NxDomain { aliases } => {
                aliases.iter().map(|a| a.len() + ALLOCATION).sum::<usize>()
            }
        }
}

/// The name servers of the system's configuration (`/etc/resolv.conf`).
fn system_servers() -> Result<Vec<SocketAddr>, DnsSetupError> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| {
        DnsSetupError::SystemConfig {
            reason: e.to_string(),
        }
    })?;
    let mut servers: Vec<SocketAddr> = Vec::new();
    for name_server in config.name_servers() {
        let port = name_server.connections.first().map_or(53, |c| c.port);
        let server = SocketAddr::new(name_server.ip, port);
        if !servers.contains(&server) {
            servers.push(server);
        }
    }
    if servers.is_empty() {
        return Err(DnsSetupError::SystemConfig {
            reason: "it names no name server".to_owned(),
        });
    }
    Ok(servers)
}

/// A resolver asking `servers` over UDP, and TCP for truncated answers; a question that gets no
/// answer in `timeout` is asked `retries` times more.
fn build_resolver(
    servers: &[SocketAddr],
    timeout: Duration,
    retries: usize,
) -> Result<TokioResolver, DnsSetupError> {
    let mut resolver_config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
    for server in servers {
        let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
        for connection in &mut name_server.connections {
            connection.port = server.port();
        }
        resolver_config.add_name_server(name_server);
    }
    let mut builder =
        TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default());
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = timeout;
    options.attempts = retries;
    // Every name is asked fully qualified: no search list, no hosts file.
    options.ndots = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.edns0 = true;
    // The answers are cached here, per run; the resolver's own cache would only hide
    // repeated questions from the count.
    options.cache_size = 0;
    builder.build().map_err(|e| DnsSetupError::Build {
        reason: e.to_string(),
    })
}

/// Maps a resolver error to the typed outcome, without ever reading its message.
pub(crate) fn classify(error: &NetError) -> Answer<RData> {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no_records)) => match no_records.response_code {
            ResponseCode::NXDomain => Answer::nx_domain(),
            ResponseCode::NoError => Answer::no_data(),
            code => Answer::Failed(from_response_code(code)),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => Answer::Failed(from_response_code(*code)),
        NetError::Timeout => Answer::Failed(Failure::Timeout),
        NetError::Truncated => Answer::Failed(Failure::Truncated),
        // A fixed label per kind: some resolver error texts hold the query name, and a name
        // may hold a blocklist's access key.
        NetError::Io(io) => {
            Answer::Failed(Failure::Other(format!("network error ({})", io.kind())))
        }
        NetError::Busy => Answer::Failed(Failure::Other("resolver busy".to_owned())),
        NetError::NoConnections => {
            Answer::Failed(Failure::Other("no connection to the resolver".to_owned()))
        }
        NetError::Proto(_) => Answer::Failed(Failure::Other("malformed answer".to_owned())),
        _ => Answer::Failed(Failure::Other("DNS error".to_owned())),
    }
}

fn from_response_code(code: ResponseCode) -> Failure {
    match code {
        ResponseCode::ServFail => Failure::ServFail,
        ResponseCode::Refused => Failure::Refused,
        other => Failure::Other(other.to_string()),
    }
}

/// A name as shown to users and compared by the checks: lowercase, no trailing dot.
pub fn display_name(name: &Name) -> String {
    if name.is_root() {
        return ".".to_owned();
    }
    // The labels as they are (not zone-file escaped), so that a name read from an answer can
    // be asked again as it is.
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(owner, target)| ((*owner).to_owned(), (*target).to_owned()))
            .collect()
    }

    #[test]
    fn an_answer_of_aliases_only_says_where_its_chain_goes() {
        let looped = links(&[("a.test", "b.test"), ("b.test", "a.test")]);
        assert_eq!(
            dead_end("a.test", &looped, RecordType::TXT),
            "CNAME loop: a.test → b.test → a.test"
        );
        let ends = links(&[("a.test", "b.test"), ("b.test", "c.test")]);
        assert_eq!(
            dead_end("A.test.", &ends, RecordType::TXT),
            "CNAME chain a.test → b.test → c.test leads to no TXT record"
        );
        let elsewhere = links(&[("x.test", "y.test")]);
        assert_eq!(
            dead_end("a.test", &elsewhere, RecordType::MX),
            "the answer holds only aliases that do not start at a.test: x.test → y.test"
        );
    }

    #[test]
    fn huge_answers_weigh_more_than_small_ones() {
        let txt = |count: usize| Answer::Records {
            records: (0..count)
                .map(|n| {
                    RData::TXT(hickory_resolver::proto::rr::rdata::TXT::new(vec![format!(
                        "t=y;p={n:04}"
                    )]))
                })
                .collect(),
            aliases: Vec::new(),
        };
        let one = weight(&txt(1));
        let many = weight(&txt(1500));
        assert!(many > 1000 * (one - 160), "{one} {many}");
        assert!(weight(&Answer::nx_domain()) < one);
    }
}
