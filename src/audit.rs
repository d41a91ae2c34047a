//! The audit of one target: every area checked concurrently over one DNS client, the findings
//! merged and scored. The round trips an audit takes are those of its longest dependency chain
//! (MX → host addresses → PTR; MX → host domains → domain blocklists; `_mta-sts` → the policy
//! host's addresses → the HTTPS fetch), not its query count.

use std::collections::BTreeSet;
use std::net::IpAddr;

use futures::future::join_all;

use crate::completeness;
use crate::dns::Dns;
use crate::dnsbl::{self, Catalog, DomainListingReport, ListHealth};
use crate::finding::{Checked, Code, Finding};
use crate::https::HttpsOptions;
use crate::ip::IpReport;
use crate::mx::{HostStatus, MxReport};
use crate::report::{Areas, DomainAreas, IpAreas, SmtpAreas, TargetKind, TargetReport};
use crate::spf::eval::HELO;
use crate::{
    bimi, dane, delivery, dkim, dmarc, dnssec, ip, mta_sts, mx, nameservers, smtp, spf, tlsrpt,
};

/// The blocklists of a run: the catalog and what its health check found (RFC 5782 §5), asked
/// once per run before any target.
pub struct Blocklists {
    pub catalog: Catalog,
    pub health: Vec<ListHealth>,
}

impl Blocklists {
    /// Runs the health check of `catalog`'s enabled lists.
    pub async fn checked(dns: &Dns, catalog: Catalog) -> Blocklists {
        let health = dnsbl::health_check(dns, &catalog).await;
        Blocklists { catalog, health }
    }
}

/// Who sends from the IPs (`--mail-from`, `--helo`): the identities SPF checks for each of
/// them (RFC 7208 §2.3, §2.4).
#[derive(Clone, Debug, Default)]
pub struct Sender {
    /// The MAIL FROM address, at the domain checked; `postmaster@<domain>` when not given
    /// (§4.3).
    pub mail_from: Option<String>,
    /// The HELO/EHLO name: `%{h}` of the MAIL FROM check, and checked on its own (§2.3).
    pub helo: Option<String>,
}

/// What an audit checks besides the defaults.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// DKIM selectors to probe beside the built-in list.
    pub selectors: Vec<String>,
    /// The domain's sending IPs (`--ip`).
    pub ips: Vec<IpAddr>,
    /// Who sends from them.
    pub sender: Sender,
    /// `--smtp`: probe each MX host on port 25. Without it an audit opens no TCP connection.
    pub smtp: Option<smtp::ProbeOptions>,
    /// How the MTA-STS policy is fetched: the roots trusted (web PKI and `--ca-file`) and the
    /// time-out.
    pub https: HttpsOptions,
    /// `--bimi-selector` and `--fetch-bimi`.
    pub bimi: bimi::BimiOptions,
}

/// MX hosts probed at most (by preference), and at once.
const SMTP_HOSTS: usize = 8;
const SMTP_HOSTS_AT_ONCE: usize = 4;

/// Audits one normalised domain.
pub async fn audit_domain(
    dns: &Dns,
    domain: &str,
    options: &AuditOptions,
    blocklists: &Blocklists,
) -> TargetReport {
    // The audit's own view: its questions counted, its domain's dead name servers cut short.
    let dns = &dns.scoped(Some(domain));
    // Boxed: the areas' futures (HTTPS fetches, SMTP sessions) are large.
    let (areas, mut findings) = Box::pin(check_areas(dns, domain, options, blocklists)).await;
    findings.extend(delivery::rejection_finding(domain, &areas, &findings));
    let areas = Areas::Domain(Box::new(areas));
    let resolver_stopped = match failure_cause(dns, &areas, &findings).await {
        FailureCause::None => false,
        FailureCause::ResolverStopped => true,
        FailureCause::ResolverWorks => nameservers::explain_failures(dns, domain, &mut findings)
            .await
            .is_err(),
    };
    finish(
        dns,
        domain,
        TargetKind::Domain,
        findings,
        areas,
        resolver_stopped,
    )
}

/// Every area of a domain's audit, checked concurrently, and their findings.
async fn check_areas(
    dns: &Dns,
    domain: &str,
    options: &AuditOptions,
    blocklists: &Blocklists,
) -> (DomainAreas, Vec<Finding>) {
    let mx_and_listings = async {
        let mx = mx::check(dns, domain).await;
        let names = listing_domains(domain, &mx.report, &blocklists.catalog);
        let listings =
            join_all(names.iter().map(|name| {
                dnsbl::check_domain(dns, name, &blocklists.catalog, &blocklists.health)
            }));
        // TLSA records as soon as the MX hosts are known, beside the probes they are matched
        // against.
        let (listings, smtp, tlsa) = tokio::join!(
            listings,
            probe_mx_hosts(dns, &mx.report, options),
            dane::lookup(dns, &mx.report)
        );
        let probes: Vec<smtp::PortProbe> = smtp.iter().map(|p| p.report.clone()).collect();
        let dane = dane::judge(tlsa, &probes);
        (mx, listings, smtp, dane)
    };
    let ips = join_all(
        options
            .ips
            .iter()
            .map(|&address| sending_ip(dns, address, Some(domain), &options.sender, blocklists)),
    );
    // BIMI's record (and, with --fetch-bimi, what it points at) is asked beside DMARC; only its
    // fallback to the organisational domain and its DMARC prerequisite wait for DMARC's report.
    let dmarc_and_bimi = async {
        // Boxed: BIMI's HTTPS fetches make large futures.
        let (dmarc, discovered) = tokio::join!(
            dmarc::check(dns, domain),
            Box::pin(bimi::discover(dns, domain, &options.bimi))
        );
        let bimi = Box::pin(bimi::check(
            dns,
            domain,
            discovered,
            &dmarc.report,
            &options.bimi,
        ))
        .await;
        (dmarc, bimi)
    };
    let (spf, (dmarc, bimi), dkim, (mx, listings, smtp, dane), dnssec, ips, mut mta_sts, tls_rpt) = tokio::join!(
        spf::check(dns, domain),
        dmarc_and_bimi,
        dkim::check(dns, domain, &options.selectors),
        mx_and_listings,
        dnssec::check(dns, domain),
        ips,
        Box::pin(mta_sts::check(dns, domain, &options.https)),
        tlsrpt::check(dns, domain),
    );
    let probed: Vec<&smtp::PortProbe> = smtp.iter().map(|p| &p.report).collect();
    mta_sts::judge_mx(&mut mta_sts, &mx.report, &probed);
    let mut findings: Vec<Finding> = Vec::new();
    findings.extend(spf.findings);
    findings.extend(dmarc.findings);
    findings.extend(dkim.findings);
    findings.extend(mx.findings);
    findings.extend(mta_sts.findings);
    findings.extend(tls_rpt.findings);
    findings.extend(bimi.findings);
    findings.extend(dnssec.findings);
    findings.extend(dane.findings);
    let mut blocklist_reports: Vec<DomainListingReport> = Vec::new();
    for listing in listings {
        findings.extend(listing.findings);
        blocklist_reports.push(listing.report);
    }
    let mut smtp_probes = Vec::new();
    for probe in smtp {
        findings.extend(probe.findings);
        smtp_probes.push(probe.report);
    }
    let mut ip_reports = Vec::new();
    for checked in ips {
        for finding in checked.findings {
            // A DNS failure while evaluating the domain's SPF for an IP is the SPF area's
            // failure too: said once. The HELO name's policy is another domain's.
            let repeated = finding.code == Code::SpfLookupFailed
                && finding.evidence.get("identity") != Some(&HELO.into())
                && findings.iter().any(|f| f.code == Code::SpfLookupFailed);
            if !repeated {
                findings.push(finding);
            }
        }
        ip_reports.push(checked.report);
    }
    let areas = DomainAreas {
        spf: spf.report,
        dmarc: dmarc.report,
        dkim: dkim.report,
        mx: mx.report,
        mta_sts: mta_sts.report,
        tls_rpt: tls_rpt.report,
        ips: ip_reports,
        blocklists: blocklist_reports,
        smtp: smtp_probes,
        bimi: bimi.report,
        dnssec: dnssec.report,
        dane: dane.report,
    };
    (areas, findings)
}

/// Checks one sending IP, with `domain` (`ip --domain`, or the `--mail-from` domain) that
/// domain's SPF policy for it, and with a HELO name that name's.
pub async fn audit_ip(
    dns: &Dns,
    address: IpAddr,
    domain: Option<&str>,
    sender: &Sender,
    blocklists: &Blocklists,
) -> TargetReport {
    let dns = &dns.scoped(None);
    let checked = sending_ip(dns, address, domain, sender, blocklists).await;
    let target = checked.report.ip.to_string();
    let areas = Areas::Ip(Box::new(IpAreas { ip: checked.report }));
    let resolver_stopped =
        failure_cause(dns, &areas, &checked.findings).await == FailureCause::ResolverStopped;
    finish(
        dns,
        &target,
        TargetKind::Ip,
        checked.findings,
        areas,
        resolver_stopped,
    )
}

/// Probes the mail server `host` on each of `ports` at once (each port with its TLS mode and
/// options; its role is the port's, [`smtp::Role::for_port`]), and makes the report named
/// `target`: `mailaudit smtp` names it `host`, the monitor `HOST:PORT`.
pub async fn audit_smtp(
    dns: &Dns,
    target: &str,
    host: &str,
    ports: &[(u16, smtp::TlsMode, smtp::ProbeOptions)],
) -> TargetReport {
    let dns = &dns.scoped(None);
    let probes = join_all(ports.iter().map(|(port, mode, options)| {
        smtp::probe(
            dns,
            host,
            *port,
            *mode,
            smtp::Role::for_port(*port),
            options,
        )
    }))
    .await;
    let mut findings = Vec::new();
    let mut reports = Vec::new();
    for checked in probes {
        findings.extend(checked.findings);
        reports.push(checked.report);
    }
    let areas = Areas::Smtp(Box::new(SmtpAreas {
        smtp: smtp::SmtpReport {
            host: host.to_owned(),
            probes: reports,
        },
    }));
    // An address literal asks the resolver nothing: what could not be seen is the server's.
    let asked_dns = host.parse::<IpAddr>().is_err();
    let resolver_stopped =
        asked_dns && failure_cause(dns, &areas, &findings).await == FailureCause::ResolverStopped;
    finish(
        dns,
        target,
        TargetKind::Smtp,
        findings,
        areas,
        resolver_stopped,
    )
}

/// Why an audit could not determine something.
#[derive(Debug, PartialEq, Eq)]
enum FailureCause {
    /// Everything was determined.
    None,
    /// The resolver no longer answers: the failures may all be its own.
    ResolverStopped,
    /// The resolver answers: the failures are those of the servers asked through it.
    ResolverWorks,
}

/// Asks the resolver again when something could not be determined, to tell its failure from
/// the failure of the servers it asked.
async fn failure_cause(dns: &Dns, areas: &Areas, findings: &[Finding]) -> FailureCause {
    if completeness::unknown_parts(areas, findings).is_empty() {
        FailureCause::None
    } else if dns.resolver_answers().await {
        FailureCause::ResolverWorks
    } else {
        FailureCause::ResolverStopped
    }
}

/// The report, saying which resolver was asked, what the audit asked it, and whether it stopped
/// answering.
fn finish(
    dns: &Dns,
    target: &str,
    kind: TargetKind,
    findings: Vec<Finding>,
    areas: Areas,
    resolver_stopped: bool,
) -> TargetReport {
    let resolvers = dns.servers().iter().map(ToString::to_string).collect();
    let mut report = TargetReport::new(target, kind, findings, areas, resolvers);
    report.stats = Some(dns.stats());
    if resolver_stopped {
        report.mark_resolver_stopped();
    }
    report
}

/// A sending IP's reputation and, for a domain, SPF `check_host()` (RFC 7208 §4) for it with
/// the MAIL FROM address (the domain's postmaster when none was given, §4.3) and, with a HELO
/// name, `check_host()` of that name too (§2.3), all at once.
async fn sending_ip(
    dns: &Dns,
    address: IpAddr,
    domain: Option<&str>,
    sender: &Sender,
    blocklists: &Blocklists,
) -> Checked<IpReport> {
    let helo = sender.helo.as_deref();
    let mail_from = async {
        match domain {
            Some(domain) => {
                let postmaster = format!("postmaster@{domain}");
                let address_from = sender.mail_from.as_deref().unwrap_or(&postmaster);
                Some(spf::check_host(dns, address, domain, address_from, helo).await)
            }
            None => None,
        }
    };
    let helo_check = async {
        match helo {
            Some(helo) => {
                let postmaster = format!("postmaster@{helo}");
                Some(spf::check_host(dns, address, helo, &postmaster, Some(helo)).await)
            }
            None => None,
        }
    };
    let (mut checked, evaluation, helo_evaluation) = tokio::join!(
        ip::check(dns, address, &blocklists.catalog, &blocklists.health),
        mail_from,
        helo_check,
    );
    let listed_on = checked.report.listed_on.clone();
    let not_listed = |finding: Finding| keep_listed_ip_out(finding, address, &listed_on);
    if let (Some(domain), Some(evaluation)) = (domain, &evaluation) {
        checked
            .findings
            .extend(spf::not_authorized_finding(domain, address, evaluation).map(&not_listed));
    }
    if let Some(evaluation) = &helo_evaluation {
        checked
            .findings
            .extend(spf::helo_not_authorized_finding(address, evaluation).map(&not_listed));
    }
    checked.report.spf = evaluation;
    checked.report.spf_helo = helo_evaluation;
    checked
}

/// An SPF finding about an IP that is on a blocklist: authorising it would let receivers accept
/// mail from a listed address as the domain's, so the fix says to delist it or send from another
/// address, and proposes no record with it.
fn keep_listed_ip_out(finding: Finding, address: IpAddr, listed_on: &[String]) -> Finding {
    if listed_on.is_empty() || finding.change.is_none() {
        return finding;
    }
    let mut finding = finding.fix(format!(
        "Do not add {address} to SPF while it is listed on {} (see ip.listed): have it delisted \
         first, or send from another address and authorise that one",
        listed_on.join(", ")
    ));
    finding.change = None;
    finding
}

/// `--smtp`: each MX host (the first [`SMTP_HOSTS`] by preference; the domain itself when it
/// has no MX, RFC 5321 §5.1) on port 25 with STARTTLS, as a sending MTA would, a few at once.
async fn probe_mx_hosts(
    dns: &Dns,
    mx: &MxReport,
    options: &AuditOptions,
) -> Vec<Checked<smtp::PortProbe>> {
    let Some(probe_options) = &options.smtp else {
        return Vec::new();
    };
    let mut hosts: Vec<String> = Vec::new();
    for host in mx.hosts.iter().chain(mx.fallback.iter()) {
        let probed = !matches!(
            host.status,
            HostStatus::IpLiteral | HostStatus::Unresolvable
        );
        if probed && hosts.len() < SMTP_HOSTS {
            hosts.push(host.exchange.clone());
        }
    }
    // A few at once, each starting as soon as another ends.
    let at_once = tokio::sync::Semaphore::new(SMTP_HOSTS_AT_ONCE);
    join_all(hosts.iter().map(|host| async {
        let _turn = at_once.acquire().await;
        smtp::probe(
            dns,
            host,
            25,
            smtp::TlsMode::Starttls,
            smtp::Role::Mx,
            probe_options,
        )
        .await
    }))
    .await
}

/// The domains to look up on domain blocklists: the audited domain, then the registrable
/// domain of each MX host (a listed mail host's domain hurts the domain's mail too).
fn listing_domains(domain: &str, mx: &MxReport, catalog: &Catalog) -> Vec<String> {
    // A catalog without a domain list (an IP-only one of --dnsbl) asks none: the area is left
    // out, never reported clean.
    if !catalog.takes_domains() {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut names = vec![domain.to_owned()];
    seen.insert(domain.to_owned());
    for host in &mx.hosts {
        if host.status == HostStatus::IpLiteral {
            continue;
        }
        let registrable = psl::domain_str(&host.exchange).unwrap_or(&host.exchange);
        if seen.insert(registrable.to_owned()) {
            names.push(registrable.to_owned());
        }
    }
    names
}
