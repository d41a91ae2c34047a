//! SPF for the hop that delivered the message (RFC 7208 §2.4): the client IP, MAIL FROM and
//! HELO, taken from the receiver's own fields or given on the command line, evaluated with the
//! project's `check_host()`.
//!
//! Which `Received` field to trust matters: every field below the receiver's own was written by
//! someone else and can be forged. So the client is, in order: `--ip`; the client the N-th field
//! from the top names (`--hops N`); the `client-ip` of the topmost `Received-SPF` (the
//! receiver's own SPF check); the first field from the top whose client is not an internal
//! address (a receiver's own internal hops come first).

use std::net::IpAddr;

use serde::Serialize;

use crate::dns::Dns;
use crate::spf::{self, SpfResult};

use super::MessageOptions;
use super::headers::{self, Field, Hop};

/// The SPF check of the delivering hop.
#[derive(Clone, Debug, Serialize)]
pub struct SpfCheck {
    /// The client IP evaluated; `None` when no hop names one (nothing evaluated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// MAIL FROM as used (empty: a bounce, the HELO name is checked, §2.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// Where the hop was taken from, in words.
    pub source: String,
    /// The domain checked (the MAIL FROM domain, or the HELO name for a bounce).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `check_host()`'s result; `None` when nothing could be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<SpfResult>,
    /// The term that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Why none, permerror or temperror.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The `exp=` explanation of a fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Whether the SPF domain is aligned with the From domain (filled in by the DMARC step).
    pub aligned: bool,
}

/// The delivering client and the identities it gave, before evaluation.
struct Client {
    ip: Option<IpAddr>,
    mail_from: Option<String>,
    helo: Option<String>,
    source: String,
}

fn choose(fields: &[Field], hops: &[Hop], options: &MessageOptions) -> Client {
    let received_spf = headers::values(fields, "received-spf")
        .map(headers::parse_received_spf)
        .next();
    let return_path = headers::values(fields, "return-path")
        .next()
        .map(|r| headers::strip_angle(r).to_owned());
    let envelope = options
        .mail_from
        .clone()
        .or(return_path)
        .or_else(|| received_spf.as_ref().and_then(|r| r.envelope_from.clone()));
    if let Some(ip) = options.ip {
        return Client {
            ip: Some(ip),
            mail_from: envelope,
            helo: options.helo.clone(),
            source: "--ip".to_owned(),
        };
    }
    if let Some(n) = options.hops {
        let hop = hops.get(n.saturating_sub(1));
        return Client {
            ip: hop.and_then(|h| h.ip),
            mail_from: envelope,
            helo: options
                .helo
                .clone()
                .or_else(|| hop.and_then(|h| h.helo.clone())),
            source: match hop {
                Some(_) => format!("Received field {n} from the top (--hops {n})"),
                None => format!(
                    "--hops {n}: the message has only {} Received fields",
                    hops.len()
                ),
            },
        };
    }
    if let Some(spf) = received_spf.filter(|r| r.client_ip.is_some()) {
        let helo = options.helo.clone().or(spf.helo.clone()).or_else(|| {
            hops.iter()
                .find(|h| h.ip == spf.client_ip)
                .and_then(|h| h.helo.clone())
        });
        return Client {
            ip: spf.client_ip,
            mail_from: envelope,
            helo,
            source: "the receiver's Received-SPF field (client-ip)".to_owned(),
        };
    }
    match hops
        .iter()
        .find(|h| h.ip.is_some_and(|ip| !headers::is_internal(ip)))
    {
        Some(hop) => Client {
            ip: hop.ip,
            mail_from: envelope,
            helo: options.helo.clone().or_else(|| hop.helo.clone()),
            source: format!(
                "Received field {} from the top: the first whose client is not an internal \
                 address (--hops N to choose another)",
                hop.index
            ),
        },
        None => Client {
            ip: None,
            mail_from: envelope,
            helo: options.helo.clone(),
            source: "no Received field names a client address: give --ip (and --mail-from)"
                .to_owned(),
        },
    }
}

/// Chooses the delivering hop and evaluates SPF for it.
pub async fn check(
    dns: &Dns,
    fields: &[Field],
    hops: &[Hop],
    options: &MessageOptions,
) -> SpfCheck {
    let client = choose(fields, hops, options);
    let mut check = SpfCheck {
        ip: client.ip,
        mail_from: client.mail_from.clone(),
        helo: client.helo.clone(),
        source: client.source,
        domain: None,
        result: None,
        matched: None,
        reason: None,
        explanation: None,
        aligned: false,
    };
    let Some(ip) = client.ip else {
        return check;
    };
    let helo = client.helo.as_deref().unwrap_or("");
    let mail_from = client.mail_from.as_deref().unwrap_or("");
    if mail_from.is_empty() && helo.is_empty() {
        check.reason = Some(
            "neither MAIL FROM (Return-Path) nor a HELO name is known: give --mail-from".to_owned(),
        );
        return check;
    }
    let (domain, sender) = spf::eval::mail_from_identity(mail_from, helo);
    let evaluation = spf::eval::check_host(dns, ip, &domain, &sender, client.helo.as_deref()).await;
    check.domain = Some(evaluation.domain.clone());
    check.result = Some(evaluation.result);
    check.matched = evaluation.matched.as_ref().map(|m| {
        if m.domain == evaluation.domain {
            m.term.clone()
        } else {
            format!("{} (in the record of {})", m.term, m.domain)
        }
    });
    check.reason = evaluation.reason.as_ref().map(|r| r.message.clone());
    check.explanation = evaluation.explanation;
    check
}
