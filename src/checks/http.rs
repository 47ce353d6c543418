//! HTTP posture checks: the plain-HTTP redirect, HSTS and cleartext WebSocket (signals for
//! 2-1.xii), and the entry page's cookies and caching (signals for 2-1.vi).
//!
//! These are signals: none of them fails an item. A weakness is a warning for a reviewer;
//! what 2-1.xii requires (TLS 1.2 or higher with a trusted certificate) is decided by the
//! TLS and certificate checks alone.

use serde_json::json;

use super::{CheckContext, CheckResult, CheckStatus};
use crate::evidence::http::{ChainEnd, HttpErrorKind, HttpExchange, HttpOutcome, HttpPosture, HttpScope, ResponseHead};
use crate::evidence::EndpointEvidence;
use crate::i18n::Text;

/// One year in seconds: the least HSTS max-age the preload list accepts, and kensa's bar.
pub const HSTS_MIN_MAX_AGE: u64 = 31_536_000;

fn result(
    status: CheckStatus,
    en: impl Into<String>,
    ja: impl Into<String>,
    evidence: serde_json::Value,
) -> CheckResult {
    CheckResult::new(status, Text::new(en, ja), evidence)
}

/// The endpoint's posture when it was probed in `wanted` scope, or the result that says why
/// there is nothing to judge.
fn posture<'a>(endpoint: &'a EndpointEvidence, wanted: &HttpScope) -> Result<&'a HttpPosture, CheckResult> {
    let Some(posture) = endpoint.http.as_ref() else {
        return Err(result(
            CheckStatus::NotRun,
            "HTTP posture was not probed on this endpoint",
            "このエンドポイントではHTTPの設定を確認していない",
            json!(null),
        ));
    };
    if let Some(error) = &posture.error {
        return Err(result(
            CheckStatus::Indeterminate,
            format!("HTTP posture could not be probed: {error}"),
            format!("HTTPの設定を確認できなかった: {error}"),
            json!({"error": error}),
        ));
    }
    match (&posture.scope, wanted) {
        (HttpScope::NotApplicable { reason }, _) => Err(result(
            CheckStatus::Info,
            format!("does not apply: {reason}"),
            "対象外: Webページを提供するエンドポイントではない".to_string(),
            json!({"scope": posture.scope}),
        )),
        (HttpScope::Pages, HttpScope::Websocket) => Err(result(
            CheckStatus::Info,
            "does not apply: not a WebSocket endpoint",
            "対象外: WebSocketのエンドポイントではない",
            json!({"scope": posture.scope}),
        )),
        (HttpScope::Websocket, HttpScope::Pages) => Err(result(
            CheckStatus::Info,
            "does not apply: a WebSocket endpoint serves no pages",
            "対象外: WebSocketのエンドポイントでありWebページを提供しない",
            json!({"scope": posture.scope}),
        )),
        _ => Ok(posture),
    }
}

/// The HTTPS entry page's head, or the result that says why it cannot be judged.
fn entry_head(posture: &HttpPosture) -> Result<(&HttpExchange, &ResponseHead), CheckResult> {
    let Some(entry) = posture.entry.as_ref() else {
        return Err(result(
            CheckStatus::Indeterminate,
            "the HTTPS entry page was not asked",
            "HTTPSの入口ページを取得していない",
            json!(null),
        ));
    };
    match &entry.outcome {
        HttpOutcome::Response(head) => Ok((entry, head)),
        // A certificate the fetch does not trust is judged by the cert.* checks; browsers
        // would not get this far either.
        HttpOutcome::Error { error: HttpErrorKind::Tls, reason } => Err(result(
            CheckStatus::Info,
            format!(
                "{} could not be fetched over a verified TLS connection ({reason}); see the certificate checks",
                entry.url
            ),
            format!("{}を検証済みのTLS接続で取得できなかった（{reason}）。証明書の検査結果を参照", entry.url),
            json!({"url": entry.url, "outcome": entry.outcome}),
        )),
        HttpOutcome::Error { reason, .. } => Err(result(
            CheckStatus::Indeterminate,
            format!("{} gave no usable answer: {reason}", entry.url),
            format!("{}から有効な応答がなかった: {reason}", entry.url),
            json!({"url": entry.url, "outcome": entry.outcome}),
        )),
    }
}

fn hop_summary(hop: &HttpExchange) -> serde_json::Value {
    match &hop.outcome {
        HttpOutcome::Response(head) => json!({"url": hop.url, "status": head.status, "location": head.location}),
        HttpOutcome::Error { error, reason } => json!({"url": hop.url, "error": error, "reason": reason}),
    }
}

/// `http.redirect`: the plain-HTTP port redirects straight to `https` on the same host, or
/// is closed.
pub(super) fn redirect(endpoint: &EndpointEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let posture = match posture(endpoint, &HttpScope::Pages) {
        Ok(posture) => posture,
        Err(result) => return result,
    };
    let port = posture.plain_port;
    let Some(chain) = posture.plain.as_ref() else {
        return result(
            CheckStatus::Indeterminate,
            format!("the plain-HTTP port {port} was not asked"),
            format!("HTTP（暗号化なし）の{port}番ポートを確認していない"),
            json!(null),
        );
    };
    let evidence = json!({
        "plain_port": port,
        "hops": chain.hops.iter().map(hop_summary).collect::<Vec<_>>(),
        "end": chain.end,
    });
    let Some(first) = chain.hops.first() else {
        return result(CheckStatus::Indeterminate, "no request recorded", "記録された要求がない", evidence);
    };
    if let HttpOutcome::Error { error, reason } = &first.outcome {
        return match error {
            HttpErrorKind::Refused => result(
                CheckStatus::Pass,
                format!("the plain-HTTP port {port} is closed (connection refused): nothing is served without encryption"),
                format!("HTTP（暗号化なし）の{port}番ポートは閉じている（接続拒否）。暗号化されない通信でページは提供されていない"),
                evidence,
            ),
            HttpErrorKind::ConnectTimeout => result(
                CheckStatus::Info,
                format!("no answer on the plain-HTTP port {port} (filtered, or the host is unreachable): nothing was seen served without encryption"),
                format!("HTTPの{port}番ポートから応答がない（フィルタされている可能性）。暗号化されない通信で提供されるページは確認されなかった"),
                evidence,
            ),
            HttpErrorKind::Reset | HttpErrorKind::Closed => result(
                CheckStatus::Info,
                format!("the plain-HTTP port {port} drops requests without an answer ({reason}): nothing is served without encryption, but users typing the address get an error rather than the HTTPS site"),
                format!("HTTPの{port}番ポートは応答せずに接続を切る（{reason}）。暗号化なしでページは提供されていないが、アドレスを直接入力した利用者にはHTTPSサイトではなくエラーが表示される"),
                evidence,
            ),
            _ => result(
                CheckStatus::Indeterminate,
                format!("the plain-HTTP port {port} gave no usable answer: {reason}"),
                format!("HTTPの{port}番ポートから判断できる応答がなかった: {reason}"),
                evidence,
            ),
        };
    }
    let start = &first.url;
    let cleartext_hops = chain.hops.len();
    match &chain.end {
        ChainEnd::Upgraded { location } if cleartext_hops == 1 => {
            let status = first.response().map_or(0, |h| h.status);
            result(
                CheckStatus::Pass,
                format!("{start} redirects ({status}) straight to {location} on the same host"),
                format!("{start}は同じホストの{location}へ直接転送（{status}）される"),
                evidence,
            )
        }
        ChainEnd::Upgraded { location } => result(
            CheckStatus::Warn,
            format!("{start} reaches {location} only after {cleartext_hops} redirects without encryption; the first redirect should go to https on the same host"),
            format!("{start}は暗号化なしの転送を{cleartext_hops}回経てから{location}に到達する。最初の転送先を同じホストのhttpsにすること"),
            evidence,
        ),
        ChainEnd::Answered => {
            let (url, status) =
                chain.hops.last().map_or((start.as_str(), 0), |h| (h.url.as_str(), h.response().map_or(0, |r| r.status)));
            result(
                CheckStatus::Warn,
                format!("{url} answers without encryption (HTTP {status}) instead of redirecting to https"),
                format!("{url}が暗号化なしで応答している（HTTP {status}）。httpsへ転送されていない"),
                evidence,
            )
        }
        ChainEnd::LeftHost { location } => result(
            CheckStatus::Warn,
            format!("{start} redirects to another host ({location}) before reaching https on this one: the first redirect should go to https on the same host, so that HSTS protects it"),
            format!("{start}は別のホスト（{location}）へ転送している。HSTSがこのホストで有効になるよう、最初の転送先は同じホストのhttpsにすること"),
            evidence,
        ),
        ChainEnd::Loop { location } => result(
            CheckStatus::Warn,
            format!("{start} redirects in a loop (back to {location}) and never reaches https"),
            format!("{start}の転送がループしており（{location}に戻る）、httpsに到達しない"),
            evidence,
        ),
        ChainEnd::TooManyRedirects { location } => result(
            CheckStatus::Warn,
            format!("{start} still redirects without encryption after {cleartext_hops} hops (next: {location})"),
            format!("{start}は{cleartext_hops}回転送しても暗号化なしのまま（次の転送先: {location}）"),
            evidence,
        ),
        ChainEnd::BadLocation { location, reason } => result(
            CheckStatus::Warn,
            format!("{start} redirects to an unusable location {location:?} ({reason})"),
            format!("{start}の転送先{location:?}が不正（{reason}）"),
            evidence,
        ),
        ChainEnd::Failed => {
            let (url, reason) = chain
                .hops
                .last()
                .map(|h| match &h.outcome {
                    HttpOutcome::Error { reason, .. } => (h.url.as_str(), reason.as_str()),
                    HttpOutcome::Response(_) => (h.url.as_str(), ""),
                })
                .unwrap_or((start.as_str(), ""));
            result(
                CheckStatus::Indeterminate,
                format!("{start} redirects without encryption to {url}, which gave no usable answer: {reason}"),
                format!("{start}は暗号化なしで{url}へ転送するが、その応答を得られなかった: {reason}"),
                evidence,
            )
        }
    }
}

/// A parsed `Strict-Transport-Security` value (RFC 6797 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Hsts {
    pub max_age: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// Parses one `Strict-Transport-Security` value as a browser does: directive names are
/// case-insensitive, values may be quoted, unknown directives are ignored, and a value with
/// no `max-age`, a malformed one, or any directive twice is invalid (and ignored by
/// browsers).
pub fn parse_hsts(value: &str) -> Result<Hsts, String> {
    let mut max_age: Option<u64> = None;
    let mut seen: Vec<String> = Vec::new();
    let mut hsts = Hsts { max_age: 0, include_subdomains: false, preload: false };
    for directive in value.split(';') {
        let directive = directive.trim();
        if directive.is_empty() {
            continue;
        }
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (directive, None),
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b)) {
            return Err(format!("malformed directive {directive:?}"));
        }
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return Err(format!("directive {name} appears twice"));
        }
        seen.push(name.clone());
        match name.as_str() {
            "max-age" => {
                let argument = argument.ok_or("max-age without a value")?;
                let digits = match argument.strip_prefix('"') {
                    Some(rest) => rest.strip_suffix('"').ok_or("unterminated quoted max-age")?,
                    None => argument,
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("max-age {argument:?} is not a number of seconds"));
                }
                // An absurdly long number still means "a very long time".
                max_age = Some(digits.parse::<u64>().unwrap_or(u64::MAX));
            }
            "includesubdomains" => {
                if argument.is_some() {
                    return Err("includeSubDomains takes no value".to_string());
                }
                hsts.include_subdomains = true;
            }
            "preload" => hsts.preload = true,
            _ => {}
        }
    }
    hsts.max_age = max_age.ok_or("no max-age directive")?;
    Ok(hsts)
}

/// `http.hsts`: the HTTPS entry page sends HSTS for at least a year, with
/// includeSubDomains and preload.
pub(super) fn hsts(endpoint: &EndpointEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let (entry, head) = match posture(endpoint, &HttpScope::Pages).and_then(entry_head) {
        Ok(found) => found,
        Err(result) => return result,
    };
    let values: Vec<&str> = head.values("strict-transport-security").collect();
    let url = &entry.url;
    // RFC 6797 §8.1: only the first header counts.
    let Some(first) = values.first() else {
        return result(
            CheckStatus::Warn,
            format!("{url} sends no Strict-Transport-Security (HSTS) header: browsers may still be led to http:// (SSL stripping)"),
            format!("{url}がStrict-Transport-Security（HSTS）ヘッダーを送っていない。利用者が暗号化されないhttp://へ誘導されるおそれがある（SSLストリッピング）"),
            json!({"url": url, "status": head.status, "strict_transport_security": values}),
        );
    };
    let parsed = parse_hsts(first);
    let evidence = json!({
        "url": url,
        "status": head.status,
        "strict_transport_security": values,
        "parsed": parsed.as_ref().ok(),
    });
    let hsts = match parsed {
        Ok(hsts) => hsts,
        Err(reason) => {
            return result(
                CheckStatus::Warn,
                format!("{url} sends an invalid HSTS header ({reason}): browsers ignore it"),
                format!("{url}のHSTSヘッダーが不正（{reason}）のため、ブラウザーに無視される"),
                evidence,
            )
        }
    };
    if hsts.max_age == 0 {
        return result(
            CheckStatus::Warn,
            format!("{url} sends HSTS with max-age=0, which tells browsers to drop HSTS for this host"),
            format!("{url}のHSTSがmax-age=0であり、ブラウザーにHSTSを解除させる"),
            evidence,
        );
    }
    let days = hsts.max_age / 86_400;
    if hsts.max_age < HSTS_MIN_MAX_AGE {
        return result(
            CheckStatus::Warn,
            format!(
                "{url} sends HSTS with max-age={} ({days} days), shorter than one year ({HSTS_MIN_MAX_AGE})",
                hsts.max_age
            ),
            format!("{url}のHSTSのmax-ageが{}秒（{days}日）で、1年（{HSTS_MIN_MAX_AGE}秒）より短い", hsts.max_age),
            evidence,
        );
    }
    let mut missing_en = Vec::new();
    let mut missing_ja = Vec::new();
    if !hsts.include_subdomains {
        missing_en.push("includeSubDomains (subdomains stay reachable over http://)");
        missing_ja.push("includeSubDomains（サブドメインはhttp://で接続され得る）");
    }
    if !hsts.preload {
        missing_en.push("preload (the first visit is not protected until the host is on the browsers' preload list)");
        missing_ja.push("preload（ブラウザーのプリロードリストに登録されるまで初回接続は保護されない）");
    }
    if missing_en.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("{url} sends HSTS for {days} days with includeSubDomains and preload"),
            format!("{url}はHSTS（{days}日、includeSubDomains・preloadあり）を送っている"),
            evidence,
        );
    }
    result(
        CheckStatus::Info,
        format!("{url} sends HSTS for {days} days, without {}", missing_en.join(", ")),
        format!("{url}はHSTS（{days}日）を送っているが、次の指定がない: {}", missing_ja.join("、")),
        evidence,
    )
}

/// `ws.cleartext`: a WebSocket endpoint does not also accept an upgrade without TLS.
pub(super) fn websocket_cleartext(endpoint: &EndpointEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let posture = match posture(endpoint, &HttpScope::Websocket) {
        Ok(posture) => posture,
        Err(result) => return result,
    };
    let Some(exchange) = posture.cleartext_websocket.as_ref() else {
        return result(
            CheckStatus::Indeterminate,
            "no cleartext WebSocket upgrade was asked",
            "暗号化なしのWebSocket接続を試していない",
            json!(null),
        );
    };
    let url = &exchange.url;
    let evidence = json!({"url": url, "outcome": hop_summary(exchange)});
    match &exchange.outcome {
        HttpOutcome::Response(head) if head.status == 101 => result(
            CheckStatus::Warn,
            format!("{url} accepts a WebSocket upgrade without encryption (101 Switching Protocols): signalling could travel in cleartext"),
            format!("{url}が暗号化なしのWebSocket接続を受け付けた（101 Switching Protocols）。シグナリング通信が暗号化されずに流れるおそれがある"),
            evidence,
        ),
        HttpOutcome::Response(head) => result(
            CheckStatus::Pass,
            format!("{url} does not accept a WebSocket upgrade without encryption (HTTP {})", head.status),
            format!("{url}は暗号化なしのWebSocket接続を受け付けない（HTTP {}）", head.status),
            evidence,
        ),
        HttpOutcome::Error { error: HttpErrorKind::Refused | HttpErrorKind::Reset | HttpErrorKind::Closed, reason } => {
            result(
                CheckStatus::Pass,
                format!("{url} does not accept a WebSocket upgrade without encryption ({reason})"),
                format!("{url}は暗号化なしのWebSocket接続を受け付けない（{reason}）"),
                evidence,
            )
        }
        HttpOutcome::Error { error: HttpErrorKind::ConnectTimeout, reason } => result(
            CheckStatus::Info,
            format!("no answer at {url} ({reason}): no cleartext WebSocket was seen"),
            format!("{url}から応答がない（{reason}）。暗号化なしのWebSocketは確認されなかった"),
            evidence,
        ),
        HttpOutcome::Error { reason, .. } => result(
            CheckStatus::Indeterminate,
            format!("{url} gave no usable answer to a WebSocket upgrade: {reason}"),
            format!("{url}からWebSocket接続要求への有効な応答がなかった: {reason}"),
            evidence,
        ),
    }
}

/// The attributes of one `Set-Cookie` that the cookie checks judge.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CookieFlags {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// The SameSite value as sent (`Strict`, `Lax`, `None`), if any.
    pub same_site: Option<String>,
}

/// Reads a cookie's name and flags from a `Set-Cookie` value (RFC 6265 §5.2: attribute
/// names are case-insensitive, unknown attributes ignored). Never keeps the value.
pub fn cookie_flags(set_cookie: &str) -> CookieFlags {
    let mut parts = set_cookie.split(';');
    let pair = parts.next().unwrap_or_default();
    let name = pair.split_once('=').map_or("", |(name, _)| name).trim().to_string();
    let mut flags = CookieFlags { name, secure: false, http_only: false, same_site: None };
    for attribute in parts {
        let (key, value) = match attribute.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (attribute.trim(), None),
        };
        match key.to_ascii_lowercase().as_str() {
            "secure" => flags.secure = true,
            "httponly" => flags.http_only = true,
            "samesite" => flags.same_site = value.map(str::to_string),
            _ => {}
        }
    }
    flags
}

/// What is wrong with a cookie, in English and Japanese; empty when nothing is.
fn cookie_problems(flags: &CookieFlags, cleartext: bool) -> (Vec<&'static str>, Vec<&'static str>) {
    let (mut en, mut ja) = (Vec::new(), Vec::new());
    if cleartext {
        en.push("set over plain HTTP");
        ja.push("暗号化なしのHTTPで設定");
    }
    if !flags.secure {
        en.push("no Secure");
        ja.push("Secureなし");
    }
    if !flags.http_only {
        en.push("no HttpOnly");
        ja.push("HttpOnlyなし");
    }
    match flags.same_site.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => {
            en.push("no SameSite");
            ja.push("SameSiteなし");
        }
        Some("strict" | "lax") => {}
        Some("none") if flags.secure => {}
        Some("none") => {
            en.push("SameSite=None without Secure (browsers reject it)");
            ja.push("SecureなしのSameSite=None（ブラウザーに拒否される）");
        }
        Some(_) => {
            en.push("unknown SameSite value");
            ja.push("SameSiteの値が不明");
        }
    }
    (en, ja)
}

/// `http.cookies`: every cookie the entry page (or the plain-HTTP redirect) sets is Secure,
/// HttpOnly and SameSite. Names are reported, values never.
pub(super) fn cookies(endpoint: &EndpointEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let posture = match posture(endpoint, &HttpScope::Pages) {
        Ok(posture) => posture,
        Err(result) => return result,
    };
    let (entry, head) = match entry_head(posture) {
        Ok(found) => found,
        Err(result) => return result,
    };
    let cleartext = posture.plain.iter().flat_map(|c| &c.hops).filter_map(HttpExchange::response);
    let set: Vec<(CookieFlags, bool)> = cleartext
        .flat_map(|h| h.values("set-cookie").map(|v| (cookie_flags(v), true)))
        .chain(head.values("set-cookie").map(|v| (cookie_flags(v), false)))
        .collect();
    let evidence = json!({
        "url": entry.url,
        "cookies": set.iter().map(|(flags, cleartext)| json!({
            "name": flags.name, "secure": flags.secure, "http_only": flags.http_only,
            "same_site": flags.same_site, "set_over_plain_http": cleartext,
        })).collect::<Vec<_>>(),
    });
    if set.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("{} sets no cookie", entry.url),
            format!("{}はCookieを設定していない", entry.url),
            evidence,
        );
    }
    let mut bad_en = Vec::new();
    let mut bad_ja = Vec::new();
    for (flags, cleartext) in &set {
        let (en, ja) = cookie_problems(flags, *cleartext);
        if !en.is_empty() {
            bad_en.push(format!("{} ({})", flags.name, en.join(", ")));
            bad_ja.push(format!("{}（{}）", flags.name, ja.join("、")));
        }
    }
    if bad_en.is_empty() {
        return result(
            CheckStatus::Pass,
            format!("{} sets {} cookie(s), all Secure, HttpOnly and SameSite", entry.url, set.len()),
            format!("{}が設定する{}個のCookieはすべてSecure・HttpOnly・SameSite付き", entry.url, set.len()),
            evidence,
        );
    }
    result(
        CheckStatus::Warn,
        format!(
            "cookies without protective flags: {}. Without Secure a cookie can leak over http://, without HttpOnly scripts can read it, without SameSite other sites can send it (a cookie scripts must read, e.g. a CSRF token, may lack HttpOnly by design)",
            bad_en.join("; ")
        ),
        format!(
            "保護属性が不足しているCookie: {}。Secureがないとhttp://で漏れるおそれ、HttpOnlyがないとスクリプトから読める、SameSiteがないと他サイトから送信され得る（CSRFトークンなどスクリプトで読む必要があるCookieは意図的にHttpOnlyを付けない場合がある）",
            bad_ja.join("、")
        ),
        evidence,
    )
}

/// `http.cache-control`: whether the entry page may be kept by browsers and shared caches.
/// kensa sees the page without a session, so a missing no-store is information; a page that
/// sets a cookie and invites shared caches to store it is a warning.
pub(super) fn cache_control(endpoint: &EndpointEvidence, _context: &CheckContext<'_>) -> CheckResult {
    let (entry, head) = match posture(endpoint, &HttpScope::Pages).and_then(entry_head) {
        Ok(found) => found,
        Err(result) => return result,
    };
    let values: Vec<&str> = head.values("cache-control").collect();
    let directives: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|d| d.split('=').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    let has = |name: &str| directives.iter().any(|d| d == name);
    let sets_cookie = head.values("set-cookie").next().is_some();
    let evidence = json!({
        "url": entry.url,
        "status": head.status,
        "cache_control": values,
        "pragma": head.values("pragma").collect::<Vec<_>>(),
        "clear_site_data": head.values("clear-site-data").collect::<Vec<_>>(),
        "sets_cookie": sets_cookie,
    });
    let url = &entry.url;
    let shown = if values.is_empty() { "none".to_string() } else { values.join(", ") };
    if has("no-store") {
        return result(
            CheckStatus::Pass,
            format!("{url} is sent with Cache-Control: no-store: browsers and caches keep no copy"),
            format!("{url}はCache-Control: no-store付きで送られ、ブラウザーやキャッシュに保存されない"),
            evidence,
        );
    }
    if sets_cookie && (has("public") || has("s-maxage")) && !has("private") {
        return result(
            CheckStatus::Warn,
            format!("{url} sets a cookie and lets shared caches (proxies, CDNs) store the response (Cache-Control: {shown}): one user's cookie could be served to another"),
            format!("{url}はCookieを設定しつつ、共有キャッシュ（プロキシ・CDN）での保存を許している（Cache-Control: {shown}）。他の利用者にCookieが渡るおそれがある"),
            evidence,
        );
    }
    result(
        CheckStatus::Info,
        format!("{url} has no Cache-Control: no-store (Cache-Control: {shown}); pages that show patient data should send no-store, which kensa cannot see without a session"),
        format!("{url}にCache-Control: no-storeがない（Cache-Control: {shown}）。患者情報を表示するページではno-storeが必要だが、ログイン後のページはkensaでは確認できない"),
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsts(value: &str) -> Hsts {
        parse_hsts(value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    #[test]
    fn hsts_directives_are_case_insensitive_and_may_be_quoted() {
        let full = Hsts { max_age: 63_072_000, include_subdomains: true, preload: true };
        assert_eq!(hsts("max-age=63072000; includeSubDomains; preload"), full);
        assert_eq!(hsts("MAX-AGE=63072000;INCLUDESUBDOMAINS;Preload"), full);
        assert_eq!(hsts("max-age=\"63072000\" ; includesubdomains ;preload;"), full);
        assert_eq!(hsts("preload; max-age=63072000; includeSubDomains; unknown=\"x\""), full);
        assert_eq!(hsts("max-age=31536000"), Hsts { max_age: 31_536_000, include_subdomains: false, preload: false });
    }

    #[test]
    fn hsts_max_age_zero_and_huge() {
        assert_eq!(hsts("max-age=0").max_age, 0);
        assert_eq!(hsts("max-age=99999999999999999999999999").max_age, u64::MAX);
    }

    #[test]
    fn invalid_hsts_is_an_error() {
        for bad in [
            "",
            "includeSubDomains; preload",
            "max-age=31536000; max-age=63072000",
            "max-age=31536000; includeSubDomains; IncludeSubdomains",
            "max-age=-1",
            "max-age=1y",
            "max-age=",
            "max-age",
            "max-age=\"31536000",
            "max-age=31536000; includeSubDomains=yes",
            "max-age 31536000",
            "\u{0}\u{ff}garbage",
        ] {
            assert!(parse_hsts(bad).is_err(), "{bad:?} parsed as {:?}", parse_hsts(bad));
        }
    }

    #[test]
    fn cookie_flags_never_keep_values() {
        let flags = cookie_flags("SID=secret-value; Path=/; secure; HTTPONLY; SameSite=Lax");
        assert_eq!(
            flags,
            CookieFlags { name: "SID".into(), secure: true, http_only: true, same_site: Some("Lax".into()) }
        );
        assert!(!format!("{flags:?}").contains("secret"));
        let bare = cookie_flags("theme=dark");
        assert!(!bare.secure && !bare.http_only && bare.same_site.is_none());
        assert_eq!(cookie_problems(&bare, false).0, ["no Secure", "no HttpOnly", "no SameSite"]);
        let none_insecure = cookie_flags("x=1; HttpOnly; SameSite=None");
        assert!(cookie_problems(&none_insecure, false).0.iter().any(|p| p.contains("SameSite=None")));
        let good = cookie_flags("__Host-s=1; Secure; HttpOnly; SameSite=None");
        assert!(cookie_problems(&good, false).0.is_empty());
        assert_eq!(cookie_problems(&good, true).0, ["set over plain HTTP"]);
    }
}
