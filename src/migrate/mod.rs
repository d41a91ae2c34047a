//! `mailaudit migrate`: moving a domain's mail from one provider to another without a gap.
//!
//! What the domain publishes is read with the audit's own checks ([`crate::mx::check`],
//! [`crate::spf::check`], [`crate::dkim::check`], [`crate::dmarc::check`]); [`detect`] names the
//! providers it uses, [`plan`] orders the records to change and, with `--verify`, says which
//! steps DNS shows done.

pub mod detect;
pub mod hybrid;
pub mod plan;
pub mod profile;
pub mod render;

use serde::Serialize;

use crate::dkim::DkimReport;
use crate::dkim::selectors::Provider;
use crate::dmarc::DmarcReport;
use crate::dns::{Answer, Dns, Txt};
use crate::mx::MxReport;
use crate::spf::SpfReport;
use crate::spf::tree::{self, NodeStatus};

pub use detect::{Detected, Detection};
pub use plan::{Plan, Status, Step, StepId};
pub use profile::{ProfileError, Profiles};

/// What `migrate` was asked.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub to: Option<String>,
    pub from: Option<String>,
    pub tenant: Option<String>,
    pub verify: bool,
    /// `--hybrid`: the on-premises server that stays and relays through the new provider.
    pub hybrid: Option<String>,
    /// `--smtp`: probe the new provider's smart host as that server would.
    pub smtp: Option<crate::smtp::ProbeOptions>,
}

/// The report of one run: the providers in use and, with `--to`, the plan.
#[derive(Clone, Debug, Serialize)]
pub struct MigrateReport {
    pub domain: String,
    pub detected: Detection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

impl MigrateReport {
    /// Whether a step whose absence breaks delivery is not done, or cannot be told done.
    pub fn delivery_at_risk(&self) -> bool {
        self.plan.as_ref().is_some_and(Plan::delivery_at_risk)
    }
}

/// What DNS shows of the domain: the audit's MX, SPF, DKIM and DMARC areas, and the apex TXT
/// records (where providers ask for their verification record).
#[derive(Clone, Debug)]
pub struct State {
    pub domain: String,
    pub mx: MxReport,
    pub spf: SpfReport,
    pub dkim: DkimReport,
    pub dmarc: DmarcReport,
    pub apex: Answer<Txt>,
}

impl State {
    /// Reads the domain, asking also the selectors of `profiles` (beside the built-in ones).
    pub async fn read(dns: &Dns, domain: &str, profiles: &[&Provider]) -> State {
        let selectors: Vec<String> = profiles
            .iter()
            .flat_map(|p| p.signing_selectors())
            .chain(profiles.iter().flat_map(|p| record_selectors(p, domain)))
            .filter(|s| crate::dkim::selectors::is_valid_selector(s))
            .collect();
        let (mx, spf, dkim, dmarc, apex) = tokio::join!(
            crate::mx::check(dns, domain),
            crate::spf::check(dns, domain),
            crate::dkim::check(dns, domain, &selectors),
            crate::dmarc::check(dns, domain),
            dns.txt(domain),
        );
        State {
            domain: domain.to_owned(),
            mx: mx.report,
            spf: spf.report,
            dkim: dkim.report,
            dmarc: dmarc.report,
            apex,
        }
    }

    /// The `include:` domains of the domain's SPF record, as asked, lowercased; of the record
    /// that merges them when several are published (the merge leaves `redirect=` out, so the
    /// domains it names are its includes).
    pub fn spf_includes(&self) -> Vec<String> {
        if self.spf.records.len() > 1 {
            let merged = self.spf_record().unwrap_or_default();
            return crate::spf::record::parse_lenient(&merged).0.named_domains();
        }
        self.spf
            .tree
            .terms
            .iter()
            .filter(|t| t.mechanism == "include")
            .filter_map(|t| t.target.clone())
            .collect()
    }

    /// The SPF record the move edits: the one published, or one merging them when several are
    /// (receivers give permerror for several, RFC 7208 §4.5, so the move publishes one).
    pub fn spf_record(&self) -> Option<String> {
        match self.spf.records.len() {
            0 | 1 => self.spf.record.clone(),
            _ => Some(crate::spf::edit::merge(&self.spf.records)),
        }
    }

    /// Whether the SPF record could not be read (the answer is unknown).
    pub fn spf_unknown(&self) -> bool {
        self.spf.tree.status == NodeStatus::Failed
    }
}

/// The selectors a provider's DKIM records are published at (`s1._domainkey.{domain}. CNAME`).
pub fn record_selectors(provider: &Provider, domain: &str) -> Vec<String> {
    provider
        .dkim_records(domain)
        .iter()
        .filter_map(|line| line.split_once("._domainkey.").map(|(s, _)| s.to_owned()))
        .filter(|s| !s.contains('<'))
        .collect()
}

/// Reads the domain and answers `request`.
///
/// # Errors
/// `--to` or `--from` names no profile.
pub async fn run(
    dns: &Dns,
    domain: &str,
    profiles: &Profiles,
    request: &Request,
) -> Result<MigrateReport, ProfileError> {
    let to = request
        .to
        .as_deref()
        .map(|id| profiles.find(id))
        .transpose()?;
    let named_from = request
        .from
        .as_deref()
        .map(|id| profiles.find(id))
        .transpose()?;
    let asked: Vec<&Provider> = to.into_iter().chain(named_from).collect();
    let state = State::read(dns, domain, &asked).await;
    let detected = detect::detect(&state, profiles);
    let plan = match to {
        None => None,
        Some(to) => {
            let from = named_from.or_else(|| plan::likely_from(&detected, to, profiles));
            let include_cost = match to.spf.first() {
                Some(include) if !state.spf_includes().iter().any(|i| i == include) => {
                    Some(include_lookups(dns, include).await)
                }
                _ => None,
            };
            let hybrid = match &request.hybrid {
                Some(host) => {
                    Some(hybrid::read(dns, host, domain, to, request.smtp.as_ref()).await)
                }
                None => None,
            };
            Some(plan::plan(
                &state,
                &plan::Target {
                    to,
                    from,
                    tenant: request.tenant.as_deref(),
                    include_cost: include_cost.flatten(),
                    hybrid: hybrid.as_ref(),
                },
                request.verify,
            ))
        }
    };
    Ok(MigrateReport {
        domain: domain.to_owned(),
        detected,
        plan,
    })
}

/// What `include:<domain>` adds to the count of 10 (RFC 7208 §4.6.4): the include itself and
/// every lookup of the record it leads to, by the audit's own tree walk; `None` when that
/// record cannot be read.
async fn include_lookups(dns: &Dns, domain: &str) -> Option<usize> {
    let node = tree::walk(dns, domain).await;
    (node.status == NodeStatus::Ok && !node.any_failure()).then_some(1 + node.subtree_lookups)
}
