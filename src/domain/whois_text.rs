//! WHOIS answer parsing.
