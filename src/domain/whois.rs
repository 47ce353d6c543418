//! WHOIS client (RFC 3912).
