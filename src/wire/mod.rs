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
//! - [`client_hello`]: the TLS ClientHello record, SSLv3 to TLS 1.3.
//! - [`groups`]: the named groups offered, and their names.
//! - [`sslv2`]: the SSLv2 CLIENT-HELLO and SERVER-HELLO.
//! - [`deframer`]: records from an untrusted stream, under a deadline and size caps.
//! - [`server_reply`]: the server's first flight, interpreted as a `HelloReply`.

pub mod client_hello;
pub mod codec;
pub mod deframer;
pub mod groups;
pub mod server_reply;
pub mod sslv2;
pub mod suites;

/// Frame builders for the wire tests: records and handshake messages as a server sends them.
#[cfg(test)]
pub(crate) mod test_frames {
    /// A TLS record of `content_type` with record-layer `version`.
    pub fn record(content_type: u8, version: u16, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type];
        r.extend_from_slice(&version.to_be_bytes());
        r.extend_from_slice(&u16::try_from(payload.len()).unwrap_or(u16::MAX).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    /// A handshake message: type, 24-bit length, body.
    pub fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![typ];
        m.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }
}
