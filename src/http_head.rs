//! The head of an HTTP/1.x request, read from a stream within a size bound: shared by the
//! metrics exporter and the test kit's HTTP server, the two places kensa answers HTTP.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A request head as read.
pub(crate) struct RequestHead {
    /// Everything read so far: the head, and possibly the first bytes of a body.
    pub(crate) bytes: Vec<u8>,
    /// Where the head's closing blank line starts in `bytes`.
    pub(crate) end: usize,
    pub(crate) method: String,
    /// The request target as sent, query included.
    pub(crate) target: String,
}

impl RequestHead {
    /// The header lines after the request line (validated UTF-8 when read).
    pub(crate) fn header_lines(&self) -> impl Iterator<Item = &str> {
        std::str::from_utf8(&self.bytes[..self.end]).unwrap_or_default().split("\r\n").skip(1)
    }
}

/// Reads up to the blank line that ends the head. An `Err` is the status to answer with:
/// 400 for a closed stream, non-UTF-8 or a malformed request line, 431 for a head over
/// `max_head` bytes, 505 for anything but HTTP/1.x.
pub(crate) async fn read_request_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_head: usize,
) -> Result<RequestHead, u16> {
    let mut bytes = Vec::with_capacity(2048);
    let end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if bytes.len() > max_head {
            return Err(431);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(400),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    };
    if end > max_head {
        return Err(431);
    }
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| 400u16)?;
    let mut parts = head.split("\r\n").next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(505);
    }
    let (method, target) = (method.to_string(), target.to_string());
    Ok(RequestHead { bytes, end, method, target })
}
