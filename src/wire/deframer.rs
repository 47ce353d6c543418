//! Reading TLS records from an untrusted peer, under one deadline and fixed memory bounds.
//!
//! The peer may be anything: a tarpit dripping a byte a second, an HTTP server, a box that
//! streams megabytes. So every read is bounded by a single deadline for the whole reply
//! (per-read timeouts would let a drip feed last forever), records and replies have hard
//! size caps, and a record header is judged as soon as its bytes arrive, so garbage is
//! rejected without waiting for more of it. Records are checked whole before their payload
//! is used ("full recognition before processing"); handshake messages are reassembled
//! across records and split when several share one.

use std::collections::VecDeque;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// Largest record payload accepted: 2^14 plus the 2048 bytes of expansion TLS allows for
/// ciphertext. Plaintext replies never need more; anything larger is not a TLS server.
pub const MAX_RECORD_PAYLOAD: usize = (1 << 14) + 2048;
/// Most bytes read for one reply. A certificate chain beyond this is reported as
/// malformed rather than buffered.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;
/// Most bytes of a reply kept for the evidence.
pub const TRANSCRIPT_CAP: usize = 64 * 1024;

/// Record content type of ChangeCipherSpec.
pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
/// Record content type of alerts.
pub const CONTENT_ALERT: u8 = 21;
/// Record content type of handshake messages.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Record content type of application data.
pub const CONTENT_APPLICATION_DATA: u8 = 23;
/// Record content type of heartbeats (RFC 6520).
pub const CONTENT_HEARTBEAT: u8 = 24;

/// A copy of the bytes received, capped at [`TRANSCRIPT_CAP`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The first bytes received, in order.
    pub bytes: Vec<u8>,
    /// Set when more bytes arrived than were kept.
    pub truncated: bool,
}

impl Transcript {
    /// Records `data`, keeping at most [`TRANSCRIPT_CAP`] bytes in total.
    pub fn push(&mut self, data: &[u8]) {
        let room = TRANSCRIPT_CAP.saturating_sub(self.bytes.len());
        let keep = data.len().min(room);
        self.bytes.extend_from_slice(data.get(..keep).unwrap_or_default());
        if keep < data.len() {
            self.truncated = true;
        }
    }
}

/// One complete message from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A whole handshake message: its type and body (without the 4-byte header).
    Handshake {
        /// The handshake message type.
        typ: u8,
        /// The body, without the 4-byte header.
        body: Vec<u8>,
    },
    /// An alert.
    Alert {
        /// 1 for warning, 2 for fatal.
        level: u8,
        /// The alert description code.
        description: u8,
    },
    /// A ChangeCipherSpec.
    ChangeCipherSpec,
    /// An application data or heartbeat record, which a first flight never contains.
    Other {
        /// The record content type.
        content_type: u8,
        /// The payload length.
        len: usize,
    },
}

/// Why no further message can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The peer closed the connection at a message boundary.
    Closed,
    /// The connection was reset or otherwise broke.
    Reset,
    /// The deadline passed.
    Timeout,
    /// The bytes are not TLS, break a limit, or end in the middle of a record or message.
    Malformed(String),
}

/// Turns a byte stream into TLS [`Message`]s.
#[derive(Debug)]
pub struct Deframer<R> {
    reader: R,
    deadline: Instant,
    /// Received bytes not yet consumed as whole records.
    pending: Vec<u8>,
    /// Handshake bytes not yet forming a whole message.
    handshake: Vec<u8>,
    /// Alert bytes not yet forming a whole alert.
    alert: Vec<u8>,
    ready: VecDeque<Message>,
    /// Why reading stopped, when it stopped in a record that also completed messages: those
    /// are delivered first, then this, for good.
    failed: Option<Stop>,
    received: usize,
    transcript: Transcript,
}

impl<R: AsyncRead + Unpin> Deframer<R> {
    /// A deframer reading from `reader` until `deadline` at the latest.
    pub fn new(reader: R, deadline: Instant) -> Self {
        Deframer {
            reader,
            deadline,
            pending: Vec::new(),
            handshake: Vec::new(),
            alert: Vec::new(),
            ready: VecDeque::new(),
            failed: None,
            received: 0,
            transcript: Transcript::default(),
        }
    }

    /// The next complete message.
    pub async fn next_message(&mut self) -> Result<Message, Stop> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(message);
            }
            if let Some(stop) = &self.failed {
                return Err(stop.clone());
            }
            match self.take_record() {
                Ok(true) => continue,
                Ok(false) => {}
                // A record may complete a message and then break a limit (a ServerHello and
                // a Certificate claiming megabytes): the whole message still comes first, so
                // that a reply reads the same however the server split it into records.
                Err(stop) if !self.ready.is_empty() => {
                    self.failed = Some(stop);
                    continue;
                }
                Err(stop) => return Err(stop),
            }
            self.fill().await?;
        }
    }

    /// The bytes received so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Total bytes received so far, including any beyond the transcript cap.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Gives up the reader and the transcript.
    pub fn into_parts(self) -> (R, Transcript) {
        (self.reader, self.transcript)
    }

    async fn fill(&mut self) -> Result<(), Stop> {
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout_at(self.deadline, self.reader.read(&mut chunk)).await {
            Err(_) => return Err(Stop::Timeout),
            Ok(Err(e)) => return Err(io_stop(&e)),
            Ok(Ok(n)) => n,
        };
        let data = chunk.get(..n).unwrap_or_default();
        if data.is_empty() {
            return Err(self.eof_stop());
        }
        self.received = self.received.saturating_add(n);
        self.transcript.push(data);
        if self.received > MAX_REPLY_BYTES {
            return Err(Stop::Malformed(format!("reply too large (more than {MAX_REPLY_BYTES} bytes)")));
        }
        self.pending.extend_from_slice(data);
        Ok(())
    }

    fn eof_stop(&self) -> Stop {
        if !self.pending.is_empty() {
            Stop::Malformed(format!("connection closed inside a record ({} bytes of it received)", self.pending.len()))
        } else if !self.handshake.is_empty() {
            Stop::Malformed("connection closed inside a handshake message".to_string())
        } else if !self.alert.is_empty() {
            Stop::Malformed("connection closed inside an alert".to_string())
        } else {
            Stop::Closed
        }
    }

    /// Consumes one whole record from `pending` if there is one. Header fields are checked
    /// as soon as they are present, so that non-TLS input fails on its first bytes.
    fn take_record(&mut self) -> Result<bool, Stop> {
        let Some(&content_type) = self.pending.first() else {
            return Ok(false);
        };
        if !(CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&content_type) {
            return Err(Stop::Malformed(format!(
                "not TLS: record content type {content_type:#04x}{}",
                describe_plaintext(&self.pending)
            )));
        }
        if let Some(&major) = self.pending.get(1) {
            if major != 3 {
                return Err(Stop::Malformed(format!("not TLS: record version major {major:#04x}")));
            }
        }
        let (Some(&hi), Some(&lo)) = (self.pending.get(3), self.pending.get(4)) else {
            return Ok(false);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > MAX_RECORD_PAYLOAD {
            return Err(Stop::Malformed(format!("record of {len} bytes exceeds the {MAX_RECORD_PAYLOAD}-byte limit")));
        }
        if len == 0 && content_type != CONTENT_APPLICATION_DATA {
            return Err(Stop::Malformed(format!("empty record of content type {content_type}")));
        }
        if self.pending.len() < 5 + len {
            return Ok(false);
        }
        let payload: Vec<u8> = self.pending.drain(..5 + len).skip(5).collect();
        self.process(content_type, payload)?;
        Ok(true)
    }

    fn process(&mut self, content_type: u8, payload: Vec<u8>) -> Result<(), Stop> {
        // Messages that span records must not be interleaved with other content types
        // (RFC 8446 §5.1, and no TLS 1.0–1.2 stack does it); a peer that does is broken.
        let interleaved = match content_type {
            CONTENT_HANDSHAKE => !self.alert.is_empty(),
            CONTENT_ALERT => !self.handshake.is_empty(),
            _ => !self.alert.is_empty() || !self.handshake.is_empty(),
        };
        if interleaved {
            return Err(Stop::Malformed(format!("record of content type {content_type} inside a fragmented message")));
        }
        match content_type {
            CONTENT_HANDSHAKE => {
                self.handshake.extend_from_slice(&payload);
                self.split_handshake()
            }
            CONTENT_ALERT => {
                self.alert.extend_from_slice(&payload);
                while let (Some(&level), Some(&description)) = (self.alert.first(), self.alert.get(1)) {
                    self.alert.drain(..2);
                    self.ready.push_back(Message::Alert { level, description });
                }
                Ok(())
            }
            CONTENT_CHANGE_CIPHER_SPEC => {
                if payload != [1] {
                    return Err(Stop::Malformed("invalid ChangeCipherSpec".to_string()));
                }
                self.ready.push_back(Message::ChangeCipherSpec);
                Ok(())
            }
            _ => {
                self.ready.push_back(Message::Other { content_type, len: payload.len() });
                Ok(())
            }
        }
    }

    fn split_handshake(&mut self) -> Result<(), Stop> {
        loop {
            let (Some(&typ), Some(&a), Some(&b), Some(&c)) =
                (self.handshake.first(), self.handshake.get(1), self.handshake.get(2), self.handshake.get(3))
            else {
                return Ok(());
            };
            let len = usize::try_from(u32::from_be_bytes([0, a, b, c])).unwrap_or(usize::MAX);
            if len > MAX_REPLY_BYTES {
                return Err(Stop::Malformed(format!("reply too large: handshake message of {len} bytes")));
            }
            if self.handshake.len() < 4 + len {
                return Ok(());
            }
            let body: Vec<u8> = self.handshake.drain(..4 + len).skip(4).collect();
            self.ready.push_back(Message::Handshake { typ, body });
        }
    }
}

/// Maps an I/O error met while reading or writing an open connection.
pub fn io_stop(e: &io::Error) -> Stop {
    match e.kind() {
        io::ErrorKind::TimedOut => Stop::Timeout,
        io::ErrorKind::UnexpectedEof => Stop::Closed,
        // Reset, abort, broken pipe, and the ICMP-driven unreachable errors all mean the
        // connection is gone; none of them is an answer from a TLS stack.
        _ => Stop::Reset,
    }
}

/// A hint for common non-TLS answers, to make "not TLS" actionable.
fn describe_plaintext(bytes: &[u8]) -> &'static str {
    let starts = |p: &[u8]| bytes.len() >= 2 && p.starts_with(bytes.get(..2).unwrap_or_default());
    if starts(b"HTTP/") {
        " (looks like plain HTTP)"
    } else if starts(b"SSH-") {
        " (looks like SSH)"
    } else if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        " (looks like an SSLv2 record)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    use crate::wire::test_frames::handshake;

    /// A TLS 1.0 record.
    fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
        crate::wire::test_frames::record(content_type, 0x0301, payload)
    }

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn message_split_across_three_records() {
        let msg = handshake(11, &[7u8; 30]);
        let mut wire = Vec::new();
        wire.extend(record(22, &msg[..3]));
        wire.extend(record(22, &msg[3..20]));
        wire.extend(record(22, &msg[20..]));
        let mut d = Deframer::new(&wire[..], later(1000));
        assert_eq!(d.next_message().await, Ok(Message::Handshake { typ: 11, body: vec![7; 30] }));
        assert_eq!(d.next_message().await, Err(Stop::Closed));
        assert_eq!(d.transcript().bytes, wire);
    }

    #[tokio::test]
    async fn two_messages_in_one_record() {
        let mut payload = handshake(2, &[1, 2, 3]);
        payload.extend(handshake(14, &[]));
        let wire = record(22, &payload);
        let mut d = Deframer::new(&wire[..], later(1000));
        assert_eq!(d.next_message().await, Ok(Message::Handshake { typ: 2, body: vec![1, 2, 3] }));
        assert_eq!(d.next_message().await, Ok(Message::Handshake { typ: 14, body: vec![] }));
        assert_eq!(d.next_message().await, Err(Stop::Closed));
    }

    #[tokio::test]
    async fn alerts_and_ccs() {
        let mut wire = record(21, &[2, 40]);
        wire.extend(record(20, &[1]));
        let mut d = Deframer::new(&wire[..], later(1000));
        assert_eq!(d.next_message().await, Ok(Message::Alert { level: 2, description: 40 }));
        assert_eq!(d.next_message().await, Ok(Message::ChangeCipherSpec));
    }

    #[tokio::test]
    async fn oversized_record_is_malformed_without_reading_it() {
        let wire = [22u8, 3, 1, 0xff, 0xff];
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("exceeds")));
    }

    #[tokio::test]
    async fn non_tls_bytes_are_malformed() {
        let wire = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("HTTP")));
        let wire = [22u8, 9, 9, 0, 1, 0];
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("not TLS")));
    }

    #[tokio::test]
    async fn truncated_record_then_eof() {
        let mut wire = record(22, &handshake(2, &[0; 40]));
        wire.truncate(20);
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("inside a record")));
    }

    #[tokio::test]
    async fn truncated_message_then_eof() {
        let msg = handshake(11, &[0; 40]);
        let wire = record(22, &msg[..10]);
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("handshake message")));
    }

    #[tokio::test]
    async fn huge_reply_is_capped() {
        // A stream of valid maximum-size records carrying one endless handshake message.
        let mut payload = vec![11, 0x03, 0xff, 0xff]; // claims ~256 KiB
        payload.resize(MAX_RECORD_PAYLOAD, 0);
        let mut wire = record(22, &payload);
        let filler = record(22, &vec![0; MAX_RECORD_PAYLOAD]);
        for _ in 0..20 {
            wire.extend_from_slice(&filler);
        }
        let mut d = Deframer::new(&wire[..], later(5000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("too large")));
        assert!(d.transcript().truncated);
        assert_eq!(d.transcript().bytes.len(), TRANSCRIPT_CAP);
        assert!(d.received() <= MAX_REPLY_BYTES + 4096);
    }

    #[tokio::test]
    async fn handshake_length_beyond_cap_is_rejected_at_once() {
        let wire = record(22, &[11, 0xff, 0xff, 0xff]);
        let mut d = Deframer::new(&wire[..], later(1000));
        assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("too large")));
        // A whole message before it in the same record still comes first; the error stays.
        let mut payload = handshake(2, &[1, 2, 3]);
        payload.extend_from_slice(&[11, 0xff, 0xff, 0xff]);
        let wire = record(22, &payload);
        let mut d = Deframer::new(&wire[..], later(1000));
        assert_eq!(d.next_message().await, Ok(Message::Handshake { typ: 2, body: vec![1, 2, 3] }));
        for _ in 0..2 {
            assert!(matches!(d.next_message().await, Err(Stop::Malformed(r)) if r.contains("too large")));
        }
    }

    #[tokio::test]
    async fn drip_feed_hits_the_overall_deadline() {
        let (mut server, client) = tokio::io::duplex(64);
        let wire = record(22, &handshake(2, &[0; 60]));
        let dripper = tokio::spawn(async move {
            for b in wire {
                if server.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let start = std::time::Instant::now();
        let mut d = Deframer::new(client, later(200));
        assert_eq!(d.next_message().await, Err(Stop::Timeout));
        let took = start.elapsed();
        assert!(took < Duration::from_millis(600), "took {took:?}");
        assert!(d.received() > 0);
        dripper.abort();
    }

    #[test]
    fn transcript_caps() {
        let mut t = Transcript::default();
        t.push(&vec![1; TRANSCRIPT_CAP - 1]);
        assert!(!t.truncated);
        t.push(&[2, 3]);
        assert!(t.truncated);
        assert_eq!(t.bytes.len(), TRANSCRIPT_CAP);
        assert_eq!(t.bytes.last(), Some(&2));
    }
}
