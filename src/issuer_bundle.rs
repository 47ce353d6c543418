//! Placeholder until the AIA decoding lands: a single DER certificate only.

use crate::evidence::CertDer;

/// Certificates in an AIA caIssuers response.
pub fn certificates_from_aia(body: &[u8], _content_type: Option<&str>) -> Result<Vec<CertDer>, String> {
    Ok(vec![CertDer(body.to_vec())])
}
