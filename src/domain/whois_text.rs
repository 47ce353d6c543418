//! Reading WHOIS answers: bytes to text, and text to a [`RegistrationRecord`].
//!
//! Two layouts are understood: JPRS's bracketed labels for .jp (Japanese and English, the
//! general-use and the organisational layouts) and the ICANN `Key: Value` format that gTLD
//! registries and registrars use. Anything else is kept as [`LookupAnswer::Unparsed`] with
//! its raw text: a registration record is only reported when the answer names the domain
//! that was asked about and at least one registration fact could be read.

use crate::evidence::domain::{LookupAnswer, RegistrationRecord};
use crate::evidence::UnixSeconds;

/// Decodes a WHOIS answer and says which encoding was used: `utf-8`, `iso-2022-jp`,
/// `euc-jp`, `shift_jis`, or `utf-8 (lossy)` when nothing fitted.
///
/// WHOIS has no way to declare an encoding, so the bytes have to tell: ISO-2022-JP by its
/// escape sequences (it is 7-bit, so it would otherwise pass as UTF-8), then valid UTF-8,
/// then the two 8-bit Japanese encodings if either decodes without an error.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    if has_iso_2022_jp_escape(bytes) {
        let (text, had_errors) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(bytes);
        if !had_errors {
            return (text.into_owned(), "iso-2022-jp");
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "utf-8");
    }
    // Both are tried strictly; when both fit, EUC-JP wins because its two-byte range
    // (A1–FE twice) is the narrower one, so a clean EUC-JP decode is less likely an accident.
    for (encoding, name) in [(encoding_rs::EUC_JP, "euc-jp"), (encoding_rs::SHIFT_JIS, "shift_jis")] {
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            return (text.into_owned(), name);
        }
    }
    (String::from_utf8_lossy(bytes).into_owned(), "utf-8 (lossy)")
}

/// Whether the bytes carry an ISO-2022-JP designation: ESC `$` `@`/`B`, ESC `(` `B`/`J`,
/// ESC `$` `(` `D`.
fn has_iso_2022_jp_escape(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| matches!(w, [0x1b, b'$', b'@' | b'B' | b'('] | [0x1b, b'(', b'B' | b'J' | b'I']))
}

/// Reads a decoded WHOIS answer to a query for `domain` (A-label or U-label, any case).
pub fn parse_answer(domain: &str, raw: &str) -> LookupAnswer {
    if raw.trim().is_empty() {
        return LookupAnswer::Unparsed { reason: "the answer is empty".to_string(), raw: raw.to_string() };
    }
    let parsed = if looks_like_jprs(raw) { parse_jprs(raw) } else { parse_icann(raw) };
    let wanted = comparable(domain);
    match &parsed {
        Some(record) if comparable(&record.domain) == wanted && has_facts(record) => {
            return LookupAnswer::Found { record: record.clone(), raw: raw.to_string() };
        }
        _ => {}
    }
    if says_not_found(raw) {
        return LookupAnswer::NotFound { raw: raw.to_string() };
    }
    let lower = raw.to_lowercase();
    let reason = if lower.contains("exceeded") || lower.contains("limit") {
        "the server refused to answer: the text speaks of a query limit (rate limited)".to_string()
    } else {
        match parsed {
            Some(record) if record.domain.is_empty() => "the answer names no domain".to_string(),
            Some(record) if comparable(&record.domain) != wanted => {
                format!("the answer is about {}, not {domain}", record.domain)
            }
            Some(_) => format!("the answer names {domain} but no registration fact could be read"),
            None => "the answer is in no layout kensa reads".to_string(),
        }
    };
    LookupAnswer::Unparsed { reason, raw: raw.to_string() }
}

/// The `Registrar WHOIS Server:` of a thin registry's answer (Verisign for .com/.net): where
/// the full record is. `None` when absent or empty.
pub fn registrar_referral(raw: &str) -> Option<String> {
    key_values(raw)
        .find(|(key, value)| key.eq_ignore_ascii_case("Registrar WHOIS Server") && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// The `whois:` line of an IANA answer about a TLD: that registry's WHOIS server.
pub fn iana_whois_server(raw: &str) -> Option<String> {
    key_values(raw)
        .find(|(key, value)| key.eq_ignore_ascii_case("whois") && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// `Key: Value` pairs, trimmed, in order; lines without a colon are skipped.
fn key_values(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.lines().filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        let key = key.trim();
        if key.is_empty() || key.starts_with(">>>") || key.starts_with('%') || key.starts_with('#') {
            return None;
        }
        Some((key, value.trim()))
    })
}

/// A domain name in the form two spellings of it can be compared in.
fn comparable(name: &str) -> String {
    let name = name.trim().trim_end_matches('.');
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    idna::domain_to_ascii(name).unwrap_or_else(|_| name.to_lowercase())
}

fn has_facts(record: &RegistrationRecord) -> bool {
    record.registrar.is_some()
        || record.registrant_organization.is_some()
        || record.created.is_some()
        || record.expires.is_some()
        || record.updated.is_some()
        || !record.statuses.is_empty()
        || !record.locks.is_empty()
        || !record.nameservers.is_empty()
}

/// Whether a line of the answer says the name is not registered.
fn says_not_found(raw: &str) -> bool {
    const PHRASES: &[&str] = &["no match", "not found", "no data found", "domain not found", "no entries found"];
    raw.lines().any(|line| {
        let line = line.trim().to_lowercase();
        PHRASES.iter().any(|phrase| line.starts_with(phrase))
    })
}

// ---------------------------------------------------------------------------------------
// JPRS (.jp)

/// JPRS labels, Japanese and English (`/e`), grouped by meaning.
const JP_DOMAIN: &[&str] = &["ドメイン名", "Domain Name"];
/// The first non-empty one in the answer wins: the Japanese name in a Japanese answer
/// (登録者名 / 組織名 come before Registrant / Organization there), the English one in an
/// `/e` answer. Either is the registry's own spelling, so neither is preferred over the other.
const JP_REGISTRANT: &[&str] = &["登録者名", "Registrant", "組織名", "Organization"];
const JP_NAME_SERVER: &[&str] = &["ネームサーバ", "Name Server"];
const JP_SIGNING_KEY: &[&str] = &["署名鍵", "Signing Key"];
const JP_CREATED: &[&str] = &["登録年月日", "Created on", "Registered Date"];
const JP_EXPIRES: &[&str] = &["有効期限", "Expires on"];
const JP_STATE: &[&str] = &["状態", "Status", "State"];
const JP_LOCK: &[&str] = &["ロック状態", "Lock Status"];
const JP_UPDATED: &[&str] = &["最終更新", "Last Updated", "Last Update"];

fn looks_like_jprs(raw: &str) -> bool {
    jprs_fields(raw).iter().any(|(label, _)| is(label, JP_DOMAIN))
        || raw.lines().any(|line| line.trim() == "No match!!")
}

fn is(label: &str, names: &[&str]) -> bool {
    names.iter().any(|name| label.eq_ignore_ascii_case(name))
}

/// One `[label] value` line, with an optional `a. ` letter in front.
fn jprs_field(line: &str) -> Option<(&str, &str)> {
    let mut rest = line;
    let bytes = rest.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_lowercase() && bytes[1] == b'.' {
        rest = rest[2..].trim_start();
    }
    let rest = rest.strip_prefix('[')?;
    let (label, value) = rest.split_once(']')?;
    // The banner lines (`[ JPRS database provides … ]`) are bracketed prose, not fields.
    if label.is_empty() || label.starts_with(char::is_whitespace) || label.ends_with(char::is_whitespace) {
        return None;
    }
    Some((label, value.trim()))
}

/// Every field in order; an indented line without a label continues the field above it
/// (postal addresses, a signing key spread over lines), joined with one space.
fn jprs_fields(raw: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in raw.lines() {
        if let Some((label, value)) = jprs_field(line) {
            fields.push((label.to_string(), value.to_string()));
            open = true;
        } else if open && line.starts_with(char::is_whitespace) && !line.trim().is_empty() {
            if let Some((_, value)) = fields.last_mut() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(line.trim());
            }
        } else {
            open = false;
        }
    }
    fields
}

fn parse_jprs(raw: &str) -> Option<RegistrationRecord> {
    let fields = jprs_fields(raw);
    if fields.is_empty() {
        return None;
    }
    let mut record = RegistrationRecord::default();
    let mut connected_until = None;
    let mut saw_signing_key = false;
    for (label, value) in &fields {
        let value = value.as_str();
        if is(label, JP_DOMAIN) {
            if record.domain.is_empty() {
                record.domain = value.to_lowercase();
            }
        } else if is(label, JP_REGISTRANT) {
            if record.registrant_organization.is_none() && !value.is_empty() {
                record.registrant_organization = Some(value.to_string());
            }
        } else if is(label, JP_NAME_SERVER) {
            push_name_server(&mut record.nameservers, value);
        } else if is(label, JP_SIGNING_KEY) {
            saw_signing_key = true;
            // The parentheses are zone-file line continuation; without them the key reads
            // as DS presentation text (`63574 8 2 5D55…`).
            let key = value.replace(['(', ')'], " ").split_whitespace().collect::<Vec<_>>().join(" ");
            if !key.is_empty() {
                record.ds.push(key);
            }
        } else if is(label, JP_CREATED) {
            record.created = record.created.or_else(|| jst_time(value));
        } else if is(label, JP_EXPIRES) {
            record.expires = record.expires.or_else(|| jst_time(value));
        } else if is(label, JP_STATE) {
            if !value.is_empty() {
                record.statuses.push(value.to_string());
                // Organisational names have no expiry field: `Connected (2025/09/30)` holds it.
                if let Some(date) = value.strip_prefix("Connected") {
                    let date = date.trim().trim_start_matches('(').trim_end_matches(')');
                    connected_until = connected_until.or_else(|| jst_time(date));
                }
            }
        } else if is(label, JP_LOCK) {
            if !value.is_empty() {
                record.locks.push(value.to_string());
            }
        } else if is(label, JP_UPDATED) {
            record.updated = record.updated.or_else(|| jst_time(value));
        }
    }
    record.expires = record.expires.or(connected_until);
    // Only an answer that has the field can say the delegation is unsigned.
    if saw_signing_key {
        record.delegation_signed = Some(!record.ds.is_empty());
    }
    Some(record)
}

/// A JPRS date, `2005/05/30` or `2025/06/01 01:05:04 (JST)`, as Unix seconds. JPRS dates
/// are Japan time (UTC+9), so midnight of a day is 15:00 UTC the day before.
fn jst_time(text: &str) -> Option<UnixSeconds> {
    let text = text.trim();
    let text = text.strip_suffix("(JST)").unwrap_or(text).trim();
    let (date, time) = match text.split_once(' ') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let mut parts = date.split('/');
    let (year, month, day) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    if parts.next().is_some() {
        return None;
    }
    let seconds = match time {
        Some(time) => clock(time)?,
        None => 0,
    };
    let utc = civil_seconds(year, month, day)?.checked_add(seconds)?.checked_sub(9 * 3600)?;
    u64::try_from(utc).ok()
}

// ---------------------------------------------------------------------------------------
// ICANN `Key: Value` format

fn parse_icann(raw: &str) -> Option<RegistrationRecord> {
    let mut record = RegistrationRecord::default();
    let mut any = false;
    // Registry expiry first, the registrar's own as a fallback.
    let mut expiry: [Option<UnixSeconds>; 3] = [None; 3];
    for (key, value) in key_values(raw) {
        if value.is_empty() {
            continue;
        }
        let key = key.to_ascii_lowercase();
        any = true;
        match key.as_str() {
            "domain name" if record.domain.is_empty() => record.domain = value.to_lowercase(),
            "registrar" if record.registrar.is_none() => record.registrar = Some(value.to_string()),
            "registrar iana id" if record.registrar_iana_id.is_none() => {
                record.registrar_iana_id = Some(value.to_string())
            }
            "registrant organization" if record.registrant_organization.is_none() => {
                record.registrant_organization = Some(value.to_string())
            }
            "creation date" => record.created = record.created.or_else(|| iso_time(value)),
            "updated date" => record.updated = record.updated.or_else(|| iso_time(value)),
            "registry expiry date" => expiry[0] = expiry[0].or_else(|| iso_time(value)),
            "registrar registration expiration date" => expiry[1] = expiry[1].or_else(|| iso_time(value)),
            "expiry date" | "expiration date" => expiry[2] = expiry[2].or_else(|| iso_time(value)),
            "domain status" => {
                // `clientTransferProhibited https://icann.org/epp#clientTransferProhibited`:
                // the code is what matters; the link only explains it.
                if let Some(code) = value.split_whitespace().next() {
                    if !record.statuses.iter().any(|s| s == code) {
                        record.statuses.push(code.to_string());
                    }
                }
            }
            "name server" => push_name_server(&mut record.nameservers, value),
            "dnssec" => {
                let value = value.to_ascii_lowercase();
                if value.starts_with("signed") {
                    record.delegation_signed = Some(true);
                } else if value == "unsigned" {
                    record.delegation_signed = Some(false);
                }
            }
            _ => {}
        }
    }
    record.expires = expiry.into_iter().flatten().next();
    any.then_some(record)
}

/// An ISO 8601 date or date-time as registries write it: `2028-09-14T04:00:00Z`,
/// `2019-09-09T15:39:04+0000`, `2011-07-20T00:00:00.000Z`, `2024-08-02 02:17:33+00:00`,
/// `1997-09-15`. A time without a zone is taken as UTC, which is what the ICANN format
/// requires.
fn iso_time(text: &str) -> Option<UnixSeconds> {
    let text = text.trim();
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let (year, month, day) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    let rest = text.get(10..)?;
    let mut seconds = 0i64;
    let mut zone = rest.trim();
    if let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let time = time.trim_start();
        let end = time.find(|c: char| !(c.is_ascii_digit() || c == ':')).unwrap_or(time.len());
        seconds = clock(&time[..end])?;
        zone = time[end..].trim();
        if let Some(fraction) = zone.strip_prefix('.') {
            let digits = fraction.find(|c: char| !c.is_ascii_digit()).unwrap_or(fraction.len());
            if digits == 0 {
                return None;
            }
            zone = fraction[digits..].trim();
        }
    }
    let offset = zone_offset(zone)?;
    let utc = civil_seconds(year, month, day)?.checked_add(seconds)?.checked_sub(offset)?;
    u64::try_from(utc).ok()
}

/// `Z`, `UTC`, `GMT`, nothing, or `±hh`, `±hhmm`, `±hh:mm`, in seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") || zone.eq_ignore_ascii_case("utc") || zone == "GMT" {
        return Some(0);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    let (hours, minutes) = match digits.len() {
        2 => (number(&digits)?, 0),
        4 => (number(&digits[..2])?, number(&digits[2..])?),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// `hh:mm:ss` or `hh:mm` as seconds into the day.
fn clock(text: &str) -> Option<i64> {
    let mut parts = text.split(':');
    let hours = number(parts.next()?)?;
    let minutes = number(parts.next()?)?;
    let seconds = match parts.next() {
        Some(s) => number(s)?,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

/// A short run of ASCII digits (no sign, no spaces).
fn number(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Seconds from 1970-01-01T00:00:00 UTC to midnight UTC of a proleptic Gregorian date
/// (the days-from-civil algorithm), checking the day exists.
fn civil_seconds(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400)
}

fn push_name_server(list: &mut Vec<String>, value: &str) {
    // Some registries put the address after the name.
    if let Some(name) = value.split_whitespace().next() {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !name.is_empty() && !list.contains(&name) {
            list.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_seconds(1970, 1, 1), Some(0));
        assert_eq!(civil_seconds(2000, 3, 1), Some(951_868_800));
        assert_eq!(civil_seconds(2023, 2, 29), None);
        assert_eq!(civil_seconds(2024, 2, 29), Some(1_709_164_800));
        assert_eq!(jst_time("2005/05/30"), Some(1_117_378_800));
        assert_eq!(jst_time("2025/06/01 01:05:04 (JST)"), Some(1_748_707_504));
        assert_eq!(jst_time("1970/01/01"), None);
        assert_eq!(jst_time("2025/13/01"), None);
        assert_eq!(jst_time("yesterday"), None);
        assert_eq!(iso_time("2028-09-14T04:00:00Z"), Some(1_852_516_800));
        assert_eq!(iso_time("2028-09-14T04:00:00.000Z"), Some(1_852_516_800));
        assert_eq!(iso_time("2028-09-14T13:00:00+09:00"), Some(1_852_516_800));
        assert_eq!(iso_time("2028-09-14T13:00:00+0900"), Some(1_852_516_800));
        assert_eq!(iso_time("2028-09-14 04:00:00"), Some(1_852_516_800));
        assert_eq!(iso_time("2028-09-14"), Some(1_852_502_400));
        assert_eq!(iso_time("2028-09-14T04:00:00 nonsense"), None);
        assert_eq!(iso_time("14-Sep-2028"), None);
        assert_eq!(iso_time("2028-09-14T"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("状態".as_bytes()), ("状態".to_string(), "utf-8"));
        let (iso, _, _) = encoding_rs::ISO_2022_JP.encode("[状態] Active");
        assert_eq!(decode(&iso), ("[状態] Active".to_string(), "iso-2022-jp"));
        let (euc, _, _) = encoding_rs::EUC_JP.encode("[登録者名] 株式会社");
        assert_eq!(decode(&euc), ("[登録者名] 株式会社".to_string(), "euc-jp"));
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("[登録者名] ソニー");
        assert_eq!(decode(&sjis).1, "shift_jis");
        assert_eq!(decode(b"\xff\xfe\xff").1, "utf-8 (lossy)");
        assert_eq!(decode(b"").1, "utf-8");
    }

    #[test]
    fn referrals() {
        let thin = "Domain Name: EXAMPLE.COM\r\nRegistrar WHOIS Server: whois.example-registrar.test\r\n";
        assert_eq!(registrar_referral(thin).as_deref(), Some("whois.example-registrar.test"));
        assert_eq!(registrar_referral("Registrar WHOIS Server: \n"), None);
        let iana = "% IANA WHOIS server\n\ndomain:       JP\nwhois:        whois.jprs.jp\n";
        assert_eq!(iana_whois_server(iana).as_deref(), Some("whois.jprs.jp"));
        assert_eq!(iana_whois_server("whois:\n"), None);
    }

    #[test]
    fn jprs_fields_continue_over_indented_lines() {
        let fields = jprs_fields("s. [署名鍵]   1 8 2 (\n        ABCD )\n[状態]  Active\n\n   stray\n");
        assert_eq!(fields, vec![("署名鍵".into(), "1 8 2 ( ABCD )".into()), ("状態".into(), "Active".into())]);
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for text in [
            "",
            "[",
            "]",
            "a. [",
            "[x]",
            "x:",
            ":",
            "Domain Name:",
            "\u{0}\u{1b}$B",
            "9999-99-99",
            "[状態] Connected (",
        ] {
            let _ = parse_answer("example.jp", text);
            let _ = decode(text.as_bytes());
        }
    }
}
