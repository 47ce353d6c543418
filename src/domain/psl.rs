//! The public suffix list (<https://publicsuffix.org/>): which part of a host name a
//! registrar sells, and which part a platform hands out to its customers.
//!
//! kensa carries a dated snapshot (`probes/public_suffix_list.dat`) rather than fetching the
//! list, so that a scan can be repeated with the same answer and runs without internet
//! access. The algorithm is the one on <https://publicsuffix.org/list/>: the longest matching
//! rule wins, exception rules (`!`) beat everything, wildcards (`*.`) match one label, and a
//! host that matches nothing falls under the implicit `*` rule (its last label is the suffix).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

/// The bundled snapshot.
const EMBEDDED: &str = include_str!("../../probes/public_suffix_list.dat");

/// Which part of the list a rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    /// Suffixes delegated by registries (TLDs and their second levels).
    Icann,
    /// Suffixes run by companies for their customers (github.io, azurewebsites.net).
    Private,
}

/// The rules that apply to one name (the rule text without `*.` / `!`, in A-labels).
#[derive(Clone, Copy, Debug, Default)]
struct Rules {
    normal: Option<Section>,
    /// `*.name`: every direct child of `name` is a suffix.
    wildcard: Option<Section>,
    /// `!name`: `name` is not a suffix although a wildcard says so.
    exception: Option<Section>,
}

/// A parsed public suffix list.
#[derive(Clone, Debug)]
pub struct PublicSuffixList {
    rules: HashMap<String, Rules>,
    snapshot: String,
}

/// A registrable domain and the public suffix it sits under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrableDomain {
    /// The registrable domain: A-labels, lower case, no trailing dot (`example.co.jp`).
    pub name: String,
    /// Its public suffix, in the same form (`co.jp`).
    pub suffix: String,
}

/// The outcome of matching a host against the rules.
struct Match {
    /// Number of labels in the public suffix.
    suffix_labels: usize,
    /// The section of the prevailing rule; `None` for the implicit `*` rule.
    section: Option<Section>,
}

impl PublicSuffixList {
    /// The snapshot bundled with kensa, parsed on first use.
    pub fn embedded() -> &'static PublicSuffixList {
        static LIST: OnceLock<PublicSuffixList> = OnceLock::new();
        LIST.get_or_init(|| {
            // The bundled file is tested; should it ever fail to parse, an empty list (only
            // the implicit rule) keeps kensa running rather than panicking.
            PublicSuffixList::parse(EMBEDDED).unwrap_or_else(|error| PublicSuffixList {
                rules: HashMap::new(),
                snapshot: format!("unusable bundled list: {error}"),
            })
        })
    }

    /// Parses a list in the official format: one rule per line, `//` comments, the
    /// `===BEGIN ICANN DOMAINS===` / `===BEGIN PRIVATE DOMAINS===` markers. Rules may be
    /// U-labels; they are stored as A-labels.
    pub fn parse(text: &str) -> Result<PublicSuffixList, String> {
        let mut rules: HashMap<String, Rules> = HashMap::new();
        let mut section = Section::Icann;
        let (mut version, mut commit, mut source) = (None, None, None);
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix("//") {
                let comment = comment.trim();
                if comment.contains("===BEGIN PRIVATE DOMAINS===") {
                    section = Section::Private;
                } else if comment.contains("===BEGIN ICANN DOMAINS===") {
                    section = Section::Icann;
                } else if let Some(v) = comment.strip_prefix("VERSION:") {
                    version = Some(v.trim().to_string());
                } else if let Some(c) = comment.strip_prefix("COMMIT:") {
                    commit = Some(c.trim().to_string());
                } else if let Some(s) = comment.strip_prefix("kensa-source:") {
                    source = Some(s.trim().to_string());
                }
                continue;
            }
            // The format says a rule ends at the first white space.
            let Some(rule) = line.split_whitespace().next() else { continue };
            let (kind, name) = if let Some(rest) = rule.strip_prefix('!') {
                (2, rest)
            } else if let Some(rest) = rule.strip_prefix("*.") {
                (1, rest)
            } else {
                (0, rule)
            };
            let ascii =
                to_ascii(name).ok_or_else(|| format!("line {}: rule `{rule}` is not a domain name", index + 1))?;
            let entry = rules.entry(ascii).or_default();
            match kind {
                0 => entry.normal = Some(section),
                1 => entry.wildcard = Some(section),
                _ => entry.exception = Some(section),
            }
        }
        if rules.is_empty() {
            return Err("no rules in the public suffix list".to_string());
        }
        Ok(PublicSuffixList { rules, snapshot: describe_snapshot(version, commit, source) })
    }

    /// Which snapshot this is: the list's own date, where kensa got it, and its commit.
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// ICANN-section registrable domain: what a registrar sells, so what RDAP/WHOIS know.
    /// `None` for IP literals, names that are themselves public suffixes, and names that are
    /// not valid host names.
    pub fn registrable_domain(&self, host: &str) -> Option<RegistrableDomain> {
        let labels = normalise(host)?;
        let found = self.find(&labels, false);
        if labels.len() <= found.suffix_labels {
            return None;
        }
        Some(RegistrableDomain {
            name: labels[labels.len() - found.suffix_labels - 1..].join("."),
            suffix: labels[labels.len() - found.suffix_labels..].join("."),
        })
    }

    /// The PRIVATE-section suffix the host lives under (github.io, azurewebsites.net…), if any.
    /// A host that is exactly such a suffix lives under it too.
    pub fn platform_suffix(&self, host: &str) -> Option<String> {
        let labels = normalise(host)?;
        let found = self.find(&labels, true);
        match found.section {
            Some(Section::Private) => Some(labels[labels.len() - found.suffix_labels..].join(".")),
            _ => None,
        }
    }

    /// Whether `name` is itself a public suffix (ICANN or private): `co.jp`, `jp`, `github.io`.
    /// Under the implicit `*` rule any single label is one, listed or not.
    pub fn is_public_suffix(&self, name: &str) -> bool {
        match normalise(name) {
            Some(labels) => self.find(&labels, true).suffix_labels == labels.len(),
            None => false,
        }
    }

    /// Matches `labels` against the rules, the private section only when `private`.
    fn find(&self, labels: &[String], private: bool) -> Match {
        let allowed = |section: Option<Section>| match section {
            Some(Section::Icann) => true,
            Some(Section::Private) => private,
            None => false,
        };
        let mut best = Match { suffix_labels: 1, section: None };
        // Walk from the TLD towards the full name; a longer match replaces a shorter one.
        for length in 1..=labels.len() {
            let name = labels[labels.len() - length..].join(".");
            if let Some(rules) = self.rules.get(&name) {
                if allowed(rules.exception) {
                    // An exception rule's suffix is the rule minus its leftmost label, and it
                    // overrides every other rule.
                    return Match { suffix_labels: length - 1, section: rules.exception };
                }
                if allowed(rules.normal) && length >= best.suffix_labels {
                    best = Match { suffix_labels: length, section: rules.normal };
                }
            }
            // `*.parent` makes this name a suffix when it has a parent with that rule.
            if length >= 2 {
                let parent = labels[labels.len() - length + 1..].join(".");
                if let Some(rules) = self.rules.get(&parent) {
                    if allowed(rules.wildcard) && length >= best.suffix_labels {
                        best = Match { suffix_labels: length, section: rules.wildcard };
                    }
                }
            }
        }
        best
    }
}

fn describe_snapshot(version: Option<String>, commit: Option<String>, source: Option<String>) -> String {
    // VERSION reads `2026-10-22_08-36-41_UTC`; the day is what people compare.
    let date = version.as_deref().map(|v| v.split('_').next().unwrap_or(v).to_string());
    let mut details = Vec::new();
    if let Some(source) = source {
        // Keep only the package and version, not the parenthesised explanation.
        details.push(source.split(" (").next().unwrap_or(&source).to_string());
    }
    if let Some(commit) = commit {
        details.push(format!("commit {}", commit.get(..12).unwrap_or(&commit)));
    }
    let date = date.unwrap_or_else(|| "undated".to_string());
    if details.is_empty() {
        date
    } else {
        format!("{date} ({})", details.join(", "))
    }
}

/// Lower-case A-labels of a host name, without a trailing dot; `None` for IP literals,
/// empty labels and names IDNA rejects.
fn normalise(host: &str) -> Option<Vec<String>> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || bare.parse::<IpAddr>().is_ok() {
        return None;
    }
    let ascii = to_ascii(host)?;
    let labels: Vec<String> = ascii.split('.').map(str::to_string).collect();
    if labels.iter().any(String::is_empty) {
        return None;
    }
    Some(labels)
}

/// The A-label form of a name, lower case.
fn to_ascii(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    if name.is_ascii() && !name.split('.').any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--")) {
        // Plain ASCII needs no IDNA mapping; this also keeps names like `_dmarc` that UTS 46
        // processing might refuse.
        return Some(name.to_ascii_lowercase());
    }
    idna::domain_to_ascii(name).ok().filter(|a| !a.is_empty()).map(|a| a.to_ascii_lowercase())
}

/// RFC 6761/6762/8375 special-use names that are never registered: localhost, test, invalid,
/// example (and example.com/net/org), local, home.arpa, onion, internal. Returns why the
/// name is special, or `None` for ordinary names and IP literals.
pub fn special_use(host: &str) -> Option<&'static str> {
    let labels = normalise(host)?;
    let under = |suffix: &str| {
        let suffix_labels: Vec<&str> = suffix.split('.').collect();
        labels.len() >= suffix_labels.len()
            && labels[labels.len() - suffix_labels.len()..].iter().zip(&suffix_labels).all(|(a, b)| a == b)
    };
    const NAMES: &[(&str, &str)] = &[
        ("localhost", "localhost is the loopback name (RFC 6761 §6.3)"),
        ("test", ".test is reserved for testing (RFC 6761 §6.2)"),
        ("invalid", ".invalid is reserved as always invalid (RFC 6761 §6.4)"),
        ("example", ".example is reserved for documentation (RFC 6761 §6.5)"),
        ("example.com", "example.com is reserved for documentation (RFC 6761 §6.5)"),
        ("example.net", "example.net is reserved for documentation (RFC 6761 §6.5)"),
        ("example.org", "example.org is reserved for documentation (RFC 6761 §6.5)"),
        ("local", ".local is for multicast DNS on the local link (RFC 6762)"),
        ("home.arpa", "home.arpa is for home networks (RFC 8375)"),
        ("onion", ".onion names Tor onion services (RFC 7686)"),
        ("internal", ".internal is reserved by ICANN for private use (2024)"),
    ];
    NAMES.iter().find(|(suffix, _)| under(suffix)).map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> &'static PublicSuffixList {
        PublicSuffixList::embedded()
    }

    fn registrable(host: &str) -> Option<(String, String)> {
        list().registrable_domain(host).map(|d| (d.name, d.suffix))
    }

    fn pair(name: &str, suffix: &str) -> Option<(String, String)> {
        Some((name.to_string(), suffix.to_string()))
    }

    #[test]
    fn the_embedded_snapshot_is_dated_and_sourced() {
        assert_eq!(list().snapshot(), "2026-10-22 (PyPI publicsuffixlist 1.1.2.20261023, commit 8437e5262f13)");
        assert!(list().rules.len() > 9000);
    }

    #[test]
    fn japanese_organisational_and_prefecture_names() {
        assert_eq!(registrable("www.example.co.jp"), pair("example.co.jp", "co.jp"));
        assert_eq!(registrable("clinic.or.jp"), pair("clinic.or.jp", "or.jp"));
        assert_eq!(registrable("a.b.provider.ne.jp"), pair("provider.ne.jp", "ne.jp"));
        assert_eq!(registrable("www.mhlw.go.jp"), pair("mhlw.go.jp", "go.jp"));
        assert_eq!(registrable("www.pref.hokkaido.lg.jp"), pair("hokkaido.lg.jp", "lg.jp"));
        assert_eq!(registrable("www.city.shibuya.tokyo.jp"), pair("city.shibuya.tokyo.jp", "shibuya.tokyo.jp"));
        assert_eq!(registrable("clinic.tokyo.jp"), pair("clinic.tokyo.jp", "tokyo.jp"));
        assert_eq!(registrable("www.foo.osaka.jp"), pair("foo.osaka.jp", "osaka.jp"));
        assert_eq!(registrable("GOOGLE.JP."), pair("google.jp", "jp"));
    }

    #[test]
    fn wildcards_and_exceptions() {
        // *.kawasaki.jp makes every child a suffix, except city.kawasaki.jp.
        assert_eq!(registrable("www.foo.bar.kawasaki.jp"), pair("foo.bar.kawasaki.jp", "bar.kawasaki.jp"));
        assert_eq!(registrable("bar.kawasaki.jp"), None);
        assert_eq!(registrable("www.city.kawasaki.jp"), pair("city.kawasaki.jp", "kawasaki.jp"));
        assert!(!list().is_public_suffix("city.kawasaki.jp"));
        assert!(list().is_public_suffix("anything.kawasaki.jp"));
        // A wildcard at the top level: *.ck with !www.ck.
        assert_eq!(registrable("a.b.ck"), pair("a.b.ck", "b.ck"));
        assert_eq!(registrable("www.ck"), pair("www.ck", "ck"));
    }

    #[test]
    fn internationalised_names() {
        assert_eq!(registrable("診療.jp"), pair("xn--lvyx93b.jp", "jp"));
        let tokyo = idna::domain_to_ascii("東京.jp").unwrap_or_default();
        assert_eq!(registrable("example.東京.jp"), pair(&format!("example.{tokyo}"), &tokyo));
        assert_eq!(
            registrable(&format!("WWW.Example.{}", tokyo.to_uppercase())),
            pair(&format!("example.{tokyo}"), &tokyo)
        );
        assert!(list().is_public_suffix("東京.jp"));
    }

    #[test]
    fn generic_and_unknown_tlds() {
        assert_eq!(registrable("www.example.com"), pair("example.com", "com"));
        assert_eq!(registrable("a.b.example.zzzunknown"), pair("example.zzzunknown", "zzzunknown"));
        assert!(list().is_public_suffix("zzzunknown"));
    }

    #[test]
    fn bare_suffixes_and_non_names_have_none() {
        for host in ["co.jp", "jp", "com", "lg.jp", "", ".", "127.0.0.1", "::1", "[2001:db8::1]", "a..b.jp", ".jp"] {
            assert_eq!(registrable(host), None, "{host}");
        }
        assert!(list().is_public_suffix("co.jp"));
        assert!(list().is_public_suffix("JP."));
        assert!(!list().is_public_suffix("example.co.jp"));
        assert!(!list().is_public_suffix("10.0.0.1"));
    }

    #[test]
    fn private_section_platforms() {
        assert_eq!(registrable("foo.github.io"), pair("github.io", "io"));
        assert_eq!(list().platform_suffix("foo.github.io"), Some("github.io".to_string()));
        assert_eq!(list().platform_suffix("github.io"), Some("github.io".to_string()));
        assert!(list().is_public_suffix("github.io"));
        assert_eq!(list().platform_suffix("clinic.azurewebsites.net"), Some("azurewebsites.net".to_string()));
        assert_eq!(registrable("clinic.azurewebsites.net"), pair("azurewebsites.net", "net"));
        assert_eq!(list().platform_suffix("www.example.co.jp"), None);
        assert_eq!(list().platform_suffix("example.zzzunknown"), None);
    }

    #[test]
    fn parse_rejects_nonsense_and_handles_sections() {
        assert!(PublicSuffixList::parse("// nothing\n").is_err());
        let text = "// ===BEGIN ICANN DOMAINS===\ncom\n*.wild\n!keep.wild\n// ===END ICANN DOMAINS===\n\
                    // ===BEGIN PRIVATE DOMAINS===\nhost.com\n// ===END PRIVATE DOMAINS===\n";
        let psl = PublicSuffixList::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(psl.snapshot(), "undated");
        let r = psl.registrable_domain("a.b.host.com").map(|d| d.name);
        assert_eq!(r.as_deref(), Some("host.com"));
        assert_eq!(psl.platform_suffix("a.b.host.com").as_deref(), Some("host.com"));
        assert_eq!(psl.registrable_domain("x.y.wild").map(|d| d.name).as_deref(), Some("x.y.wild"));
        assert_eq!(psl.registrable_domain("x.keep.wild").map(|d| d.name).as_deref(), Some("keep.wild"));
    }

    #[test]
    fn special_use_names() {
        assert!(special_use("localhost").is_some());
        assert!(special_use("app.localhost.").is_some());
        assert!(special_use("clinic.test").is_some());
        assert!(special_use("x.invalid").is_some());
        assert!(special_use("www.EXAMPLE.com").is_some());
        assert!(special_use("example.net").is_some());
        assert!(special_use("example.org").is_some());
        assert!(special_use("foo.example").is_some());
        assert!(special_use("printer.local").is_some());
        assert!(special_use("nas.home.arpa").is_some());
        assert!(special_use("abc.onion").is_some());
        assert!(special_use("db.internal").is_some());
        assert_eq!(special_use("example.co.jp"), None);
        assert_eq!(special_use("myexample.com"), None);
        assert_eq!(special_use("arpa"), None);
        assert_eq!(special_use("127.0.0.1"), None);
        assert_eq!(special_use("::1"), None);
    }
}
