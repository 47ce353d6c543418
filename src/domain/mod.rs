//! The domain survey (item 2-1.xv): registrable domains from the public suffix list,
//! registration data over RDAP or WHOIS, and DNS delegation, DNSSEC, CNAME chains and CAA.
//!
//! Like the TLS probes, everything here only gathers evidence
//! ([`crate::evidence::domain`]); the checks in [`crate::checks::domain`] judge it.

pub mod dns;
