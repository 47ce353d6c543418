//! Hand-built TLS and SSLv2 messages, owned byte for byte.
//!
//! kensa needs to offer what no maintained TLS library will (SSLv2, SSLv3, TLS 1.0/1.1,
//! export and NULL suites) and to record exactly what went over the wire, so these messages
//! are written and read here rather than by rustls. The layout follows rustls's `msgs/`:
//! one file per message family over a shared [`codec`], every message recognised in full
//! before anything acts on it, errors as values, and no input that can make it panic.
//!
//! - [`codec`]: big-endian integers and length-prefixed vectors.
//! - [`suites`]: the suite lists offered per version, and suite names.
//! - [`client_hello`]: the TLS ClientHello record.
//! - [`sslv2`]: the SSLv2 CLIENT-HELLO and SERVER-HELLO.
//! - [`deframer`]: records from an untrusted stream, under a deadline and size caps.
//! - [`server_reply`]: the server's first flight, interpreted as a `HelloReply`.

pub mod client_hello;
pub mod codec;
pub mod deframer;
pub mod server_reply;
pub mod sslv2;
pub mod suites;
