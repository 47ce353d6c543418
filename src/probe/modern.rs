//! TLS 1.3 and TLS 1.2 handshakes with rustls, one version per connection.
//!
//! The verifier here records instead of judging: it keeps the chain and any stapled OCSP
//! response, checks the handshake signature but only notes a failure, and lets the
//! handshake finish. Trust is judged later, from the recorded chain, by `trust`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error as TlsError, PeerIncompatible, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::gate::EndpointGate;
use super::net::{elapsed_ms, io_outcome};
use crate::evidence::{
    Bytes, CertDer, CertificateVariant, ModernAttempt, NegotiatedSession, Outcome, TlsVersion, VariantRequest,
};

/// ALPN protocols offered, as a browser would for a web or WebSocket endpoint.
const OFFERED_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The ring provider kensa uses everywhere.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Attempts a handshake offering only `version` (TLS 1.2 or 1.3).
pub async fn probe_modern_version(
    gate: &EndpointGate,
    server_name: Option<&str>,
    version: TlsVersion,
    timeout: Duration,
) -> ModernAttempt {
    let start = Instant::now();
    let (outcome, session) = attempt(gate, server_name, version, None, timeout).await;
    ModernAttempt { version, elapsed_ms: elapsed_ms(start), outcome, session }
}

/// A handshake at `version` that asks for the certificate another kind of client gets:
/// only RSA or only ECDSA signature schemes (a server with both certificates picks by
/// them), or no SNI at all.
pub async fn probe_certificate_variant(
    gate: &EndpointGate,
    server_name: Option<&str>,
    version: TlsVersion,
    request: VariantRequest,
    timeout: Duration,
) -> CertificateVariant {
    let start = Instant::now();
    let name = if request == VariantRequest::NoServerName { None } else { server_name };
    let (outcome, session) = attempt(gate, name, version, Some(request), timeout).await;
    CertificateVariant { request, attempt: ModernAttempt { version, elapsed_ms: elapsed_ms(start), outcome, session } }
}

/// Whether a signature scheme is offered for a variant request.
fn scheme_allowed(request: Option<VariantRequest>, scheme: SignatureScheme) -> bool {
    use SignatureScheme as S;
    match request {
        Some(VariantRequest::RsaSignatures) => matches!(
            scheme,
            S::RSA_PKCS1_SHA256
                | S::RSA_PKCS1_SHA384
                | S::RSA_PKCS1_SHA512
                | S::RSA_PSS_SHA256
                | S::RSA_PSS_SHA384
                | S::RSA_PSS_SHA512
        ),
        Some(VariantRequest::EcdsaSignatures) => {
            matches!(scheme, S::ECDSA_NISTP256_SHA256 | S::ECDSA_NISTP384_SHA384 | S::ECDSA_NISTP521_SHA512)
        }
        Some(VariantRequest::NoServerName) | None => true,
    }
}

async fn attempt(
    gate: &EndpointGate,
    server_name: Option<&str>,
    version: TlsVersion,
    variant: Option<VariantRequest>,
    timeout: Duration,
) -> (Outcome, Option<NegotiatedSession>) {
    let protocol = match version {
        TlsVersion::Tls13 => &rustls::version::TLS13,
        TlsVersion::Tls12 => &rustls::version::TLS12,
        other => {
            return (Outcome::Error { reason: format!("{} is not probed with rustls", other.name()) }, None);
        }
    };
    let provider = provider();
    let recorder = Arc::new(RecordingVerifier::new(provider.signature_verification_algorithms, variant));
    let mut config = match ClientConfig::builder_with_provider(provider).with_protocol_versions(&[protocol]) {
        Ok(builder) => builder.dangerous().with_custom_certificate_verifier(recorder.clone()).with_no_client_auth(),
        Err(e) => return (Outcome::Error { reason: e.to_string() }, None),
    };
    config.alpn_protocols = OFFERED_ALPN.iter().map(|p| p.to_vec()).collect();
    // Each attempt must stand alone: no resumption across probes.
    config.resumption = rustls::client::Resumption::disabled();

    let name = match server_name {
        Some(name) => match ServerName::try_from(name.to_string()) {
            Ok(name) => name,
            Err(e) => return (Outcome::Error { reason: format!("invalid server name: {e}") }, None),
        },
        None => ServerName::IpAddress(gate.addr().ip().into()),
    };

    let mut tcp = match gate.connect(timeout).await {
        Ok(tcp) => tcp,
        Err(outcome) => return (outcome, None),
    };
    let connector = TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout(timeout, connector.connect(name, &mut tcp.stream)).await;
    match handshake {
        Err(_) => (Outcome::Timeout, None),
        Ok(Err(e)) => (classify_failure(&e, version), None),
        Ok(Ok(stream)) => {
            let (_, connection) = stream.get_ref();
            let recorded = recorder.take();
            let chain = match connection.peer_certificates() {
                Some(certs) => certs.iter().map(|c| CertDer(c.to_vec())).collect(),
                None => recorded.chain,
            };
            let suite = connection.negotiated_cipher_suite();
            let session = NegotiatedSession {
                cipher_suite: suite.map(|s| u16::from(s.suite())).unwrap_or(0),
                cipher_suite_name: suite
                    .and_then(|s| s.suite().as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| "unknown".to_string()),
                key_exchange_group: connection.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())),
                alpn: connection.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
                chain,
                ocsp_response: recorded.ocsp.filter(|o| !o.is_empty()).map(Bytes),
                handshake_signature_error: recorded.signature_error,
            };
            (Outcome::Accepted, Some(session))
        }
    }
}

/// Names a failed handshake in evidence terms.
fn classify_failure(e: &std::io::Error, version: TlsVersion) -> Outcome {
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<TlsError>()) else {
        return io_outcome(e);
    };
    match tls {
        TlsError::AlertReceived(alert) => {
            let description = u8::from(*alert);
            Outcome::Alert { description, name: crate::wire::server_reply::alert_name(description) }
        }
        TlsError::PeerIncompatible(PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig) => {
            let other = if version == TlsVersion::Tls13 { TlsVersion::Tls12 } else { TlsVersion::Tls13 };
            Outcome::OtherVersion { version: other.wire() }
        }
        TlsError::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13) => {
            Outcome::Incompatible { reason: "the server chose a version older than TLS 1.2".to_string() }
        }
        TlsError::PeerIncompatible(other) => Outcome::Incompatible { reason: format!("{other:?}") },
        TlsError::InvalidMessage(_) | TlsError::PeerMisbehaved(_) | TlsError::InappropriateMessage { .. } => {
            Outcome::Malformed { reason: tls.to_string() }
        }
        other => Outcome::Error { reason: other.to_string() },
    }
}

#[derive(Debug, Default)]
struct Recorded {
    chain: Vec<CertDer>,
    ocsp: Option<Vec<u8>>,
    signature_error: Option<String>,
}

/// Captures what the server presents and never rejects it.
#[derive(Debug)]
struct RecordingVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    /// Restricts the signature schemes offered, for certificate variants.
    variant: Option<VariantRequest>,
    recorded: Mutex<Recorded>,
}

impl RecordingVerifier {
    fn new(algorithms: WebPkiSupportedAlgorithms, variant: Option<VariantRequest>) -> Self {
        RecordingVerifier { algorithms, variant, recorded: Mutex::new(Recorded::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // A poisoned lock only means another handshake thread panicked; the data is plain.
        self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Recorded {
        std::mem::take(&mut *self.lock())
    }

    fn note_signature(
        &self,
        result: Result<HandshakeSignatureValid, TlsError>,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        if let Err(e) = result {
            self.lock().signature_error = Some(e.to_string());
        }
        Ok(HandshakeSignatureValid::assertion())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let mut recorded = self.lock();
        recorded.chain = std::iter::once(end_entity).chain(intermediates).map(|c| CertDer(c.to_vec())).collect();
        recorded.ocsp = Some(ocsp_response.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.note_signature(rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.note_signature(rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes().into_iter().filter(|s| scheme_allowed(self.variant, *s)).collect()
    }
}
