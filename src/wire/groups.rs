//! Named groups (IANA "TLS Supported Groups"): what kensa offers in supported_groups, and
//! their names and strengths for reports.
//!
//! tls-parser has no table of groups, so this is one, kept short: every group a server has
//! been seen to use, the legacy binary and prime curves of RFC 4492 included (a server that
//! still agrees to sect163k1 should be seen doing so).

/// What kind of key exchange a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// An elliptic curve (ECDHE in TLS 1.2, key_share in TLS 1.3).
    EllipticCurve,
    /// A finite-field Diffie-Hellman group of RFC 7919.
    FiniteField,
    /// A post-quantum or hybrid key-encapsulation group.
    PostQuantum,
}

/// One named group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedGroup {
    /// The IANA code point.
    pub id: u16,
    /// The IANA name.
    pub name: &'static str,
    pub kind: GroupKind,
    /// Classical security level in bits (for post-quantum hybrids, of the classical half).
    pub security_bits: u16,
    /// Usable for ECDHE in TLS 1.0–1.2.
    pub tls12: bool,
    /// Usable in TLS 1.3 key_share.
    pub tls13: bool,
}

const fn ec(id: u16, name: &'static str, security_bits: u16, tls12: bool, tls13: bool) -> NamedGroup {
    NamedGroup { id, name, kind: GroupKind::EllipticCurve, security_bits, tls12, tls13 }
}

const fn ff(id: u16, name: &'static str, security_bits: u16) -> NamedGroup {
    NamedGroup { id, name, kind: GroupKind::FiniteField, security_bits, tls12: false, tls13: true }
}

const fn pq(id: u16, name: &'static str, security_bits: u16) -> NamedGroup {
    NamedGroup { id, name, kind: GroupKind::PostQuantum, security_bits, tls12: false, tls13: true }
}

/// Every group kensa knows, in the order it offers them: the common modern ones first (a
/// server honouring the client's order picks what a browser would get), then hybrids, then
/// the rest by code point.
pub static GROUPS: &[NamedGroup] = &[
    ec(0x001d, "x25519", 128, true, true),
    ec(0x0017, "secp256r1", 128, true, true),
    ec(0x0018, "secp384r1", 192, true, true),
    ec(0x0019, "secp521r1", 256, true, true),
    ec(0x001e, "x448", 224, true, true),
    pq(0x11ec, "X25519MLKEM768", 128),
    pq(0x11eb, "SecP256r1MLKEM768", 128),
    pq(0x11ed, "SecP384r1MLKEM1024", 192),
    pq(0x6399, "X25519Kyber768Draft00", 128),
    pq(0x0200, "MLKEM512", 128),
    pq(0x0201, "MLKEM768", 192),
    pq(0x0202, "MLKEM1024", 256),
    ec(0x001a, "brainpoolP256r1", 128, true, false),
    ec(0x001b, "brainpoolP384r1", 192, true, false),
    ec(0x001c, "brainpoolP512r1", 256, true, false),
    ec(0x001f, "brainpoolP256r1tls13", 128, false, true),
    ec(0x0020, "brainpoolP384r1tls13", 192, false, true),
    ec(0x0021, "brainpoolP512r1tls13", 256, false, true),
    ec(0x0029, "curveSM2", 128, false, true),
    ff(0x0100, "ffdhe2048", 103),
    ff(0x0101, "ffdhe3072", 125),
    ff(0x0102, "ffdhe4096", 150),
    ff(0x0103, "ffdhe6144", 175),
    ff(0x0104, "ffdhe8192", 192),
    ec(0x0001, "sect163k1", 80, true, false),
    ec(0x0002, "sect163r1", 80, true, false),
    ec(0x0003, "sect163r2", 80, true, false),
    ec(0x0004, "sect193r1", 96, true, false),
    ec(0x0005, "sect193r2", 96, true, false),
    ec(0x0006, "sect233k1", 112, true, false),
    ec(0x0007, "sect233r1", 112, true, false),
    ec(0x0008, "sect239k1", 112, true, false),
    ec(0x0009, "sect283k1", 128, true, false),
    ec(0x000a, "sect283r1", 128, true, false),
    ec(0x000b, "sect409k1", 192, true, false),
    ec(0x000c, "sect409r1", 192, true, false),
    ec(0x000d, "sect571k1", 256, true, false),
    ec(0x000e, "sect571r1", 256, true, false),
    ec(0x000f, "secp160k1", 80, true, false),
    ec(0x0010, "secp160r1", 80, true, false),
    ec(0x0011, "secp160r2", 80, true, false),
    ec(0x0012, "secp192k1", 96, true, false),
    ec(0x0013, "secp192r1", 96, true, false),
    ec(0x0014, "secp224k1", 112, true, false),
    ec(0x0015, "secp224r1", 112, true, false),
    ec(0x0016, "secp256k1", 128, true, false),
];

/// The groups offered for ECDHE in TLS 1.0–1.2 hellos, in offer order.
pub fn tls12_groups() -> Vec<u16> {
    GROUPS.iter().filter(|g| g.tls12).map(|g| g.id).collect()
}

/// The groups offered in TLS 1.3 hellos, in offer order.
pub fn tls13_groups() -> Vec<u16> {
    GROUPS.iter().filter(|g| g.tls13).map(|g| g.id).collect()
}

/// The group with this code point, if kensa knows it.
pub fn group(id: u16) -> Option<&'static NamedGroup> {
    GROUPS.iter().find(|g| g.id == id)
}

/// The IANA name of a group, or `0xABCD` if unknown.
pub fn group_name(id: u16) -> String {
    match group(id) {
        Some(g) => g.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_unique_and_lists_split_by_version() {
        let mut ids: Vec<u16> = GROUPS.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), GROUPS.len());
        assert_eq!(tls12_groups()[..3], [0x001d, 0x0017, 0x0018]);
        assert!(tls12_groups().contains(&0x0001) && !tls12_groups().contains(&0x0100));
        assert!(tls13_groups().contains(&0x0100) && !tls13_groups().contains(&0x0001));
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0xabcd), "0xABCD");
    }
}
