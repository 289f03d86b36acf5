//! AutoMTLS as go-plugin does it: a server certificate generated per process,
//! and client authentication pinned to exactly the certificate Terraform
//! passed in `PLUGIN_CLIENT_CERT`.
//!
//! Stock rustls verifiers reject Terraform's client certificate (it is a CA
//! certificate used as an end entity, on P-521), so the verifier here compares
//! the presented certificate byte for byte with the pinned one and checks the
//! handshake signatures with aws-lc-rs, which does verify P-521.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating the plugin's server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCertificate,
    #[error("reading PLUGIN_CLIENT_CERT: {0}")]
    ClientCertificate(std::io::Error),
    #[error("configuring TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("generating the plugin's server certificate: the system clock is before 1970")]
    Clock,
}

/// How long the plugin's certificate is valid. Terraform checks it when it connects, right
/// after reading the handshake line, and the key never leaves this process's memory: a day is
/// far more than a run needs and leaves a leaked certificate worthless soon after. (go-plugin's
/// own AutoMTLS certificate is valid for 262980 h, 30 years.)
pub const CERTIFICATE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Validity starts this long before the certificate is made, for a peer whose clock is a little
/// behind ours (go-plugin backdates its own by 30 s).
pub const CERTIFICATE_BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The plugin's own certificate and key, made fresh for every process.
pub struct ServerIdentity {
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl ServerIdentity {
    /// P-256, SAN localhost, valid [`CERTIFICATE_BACKDATE`] before now to
    /// [`CERTIFICATE_LIFETIME`] after. A CA, because Terraform uses it as the root that
    /// authenticates us, with path length 0 so it can vouch for itself only; the usages are
    /// those of go-plugin's own certificate.
    pub fn generate() -> Result<Self, TlsError> {
        Self::generate_at(SystemTime::now())
    }

    /// [`generate`](Self::generate) as if the clock read `now`.
    pub fn generate_at(now: SystemTime) -> Result<Self, TlsError> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::OrganizationName, "drpair");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        // rcgen takes the `time` crate's dates; built from the Unix epoch, no need to name it.
        let since_epoch = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TlsError::Clock)?;
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + since_epoch.saturating_sub(CERTIFICATE_BACKDATE);
        params.not_after = epoch + since_epoch + CERTIFICATE_LIFETIME;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// Parses the first certificate of a PEM bundle.
pub fn parse_pem_certificate(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    let first = rustls_pemfile::certs(&mut reader).next();
    match first {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(TlsError::ClientCertificate(e)),
        None => Err(TlsError::NoClientCertificate),
    }
}

/// Accepts exactly one client certificate.
#[derive(Debug)]
pub struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl PinnedClientCert {
    pub fn new(pinned: CertificateDer<'static>, provider: Arc<CryptoProvider>) -> Self {
        Self { pinned, provider }
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.is_empty() && end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The server side of AutoMTLS: our identity, the pinned client, ALPN h2
/// (gRPC-Go insists on it).
pub fn server_config(
    identity: &ServerIdentity,
    client_cert: CertificateDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedClientCert::new(client_cert, provider.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der.clone()], identity.private_key())?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.cargo/config.toml` builds aws-lc with `AWS_LC_SYS_NO_JITTER_ENTROPY`: its DRBG seeds from
    /// the kernel instead of spending ~25 ms sampling CPU jitter at every provider start
    /// (docs/guides/security.md, "The provider's own channel"). A build without the switch
    /// fails here.
    #[test]
    fn the_random_generator_seeds_from_the_kernel_not_cpu_jitter() {
        // Draw once so the generator and its entropy source are set up.
        ServerIdentity::generate().unwrap();
        // SAFETY: takes no arguments and only reads which entropy source aws-lc chose.
        let jitter = unsafe { aws_lc_sys::FIPS_is_entropy_cpu_jitter() };
        assert_eq!(jitter, 0, "aws-lc was built with CPU-jitter entropy");
    }

    /// One DER element: (tag, contents, what follows it).
    fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (len, header) = match der[1] {
            short if short < 0x80 => (usize::from(short), 2),
            long => {
                let n = usize::from(long & 0x7f);
                let len = der[2..2 + n]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                (len, 2 + n)
            }
        };
        (der[0], &der[header..header + len], &der[header + len..])
    }

    /// The elements of a SEQUENCE's contents.
    fn elements(mut contents: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while !contents.is_empty() {
            let (tag, value, rest) = tlv(contents);
            out.push((tag, value));
            contents = rest;
        }
        out
    }

    /// Seconds since the Unix epoch of a UTCTime (tag 0x17) or GeneralizedTime (0x18) in UTC.
    fn unix_seconds(tag: u8, text: &[u8]) -> i64 {
        let text = std::str::from_utf8(text).unwrap();
        let text = text.strip_suffix('Z').expect("times in UTC");
        let (year, rest) = match tag {
            0x17 => {
                let yy: i64 = text[..2].parse().unwrap();
                (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
            }
            0x18 => (text[..4].parse().unwrap(), &text[4..]),
            other => panic!("not a time: tag {other:#x}"),
        };
        let field = |i: usize| -> i64 { rest[2 * i..2 * i + 2].parse().unwrap() };
        let (month, day, hour, minute, second) = (field(0), field(1), field(2), field(3), field(4));
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + hour * 3600 + minute * 60 + second
    }

    struct Parsed {
        not_before: i64,
        not_after: i64,
        /// (critical, cA, pathLenConstraint) of the basicConstraints extension.
        basic_constraints: Option<(bool, bool, Option<u64>)>,
    }

    /// The fields of an X.509 certificate these tests look at, read from its DER (RFC 5280 §4.1).
    fn parse(der: &[u8]) -> Parsed {
        let (_, certificate, _) = tlv(der);
        let (_, tbs, _) = tlv(certificate);
        let fields = elements(tbs);
        // version [0] is present (v3); then serial, signature, issuer, validity.
        assert_eq!(fields[0].0, 0xa0, "a v3 certificate");
        let validity = elements(fields[4].1);
        let not_before = unix_seconds(validity[0].0, validity[0].1);
        let not_after = unix_seconds(validity[1].0, validity[1].1);
        let mut basic_constraints = None;
        if let Some((_, extensions)) = fields.iter().find(|(tag, _)| *tag == 0xa3) {
            let (_, list, _) = tlv(extensions);
            for (_, extension) in elements(list) {
                let parts = elements(extension);
                // id-ce-basicConstraints, 2.5.29.19
                if parts[0] != (0x06, &[0x55, 0x1d, 0x13][..]) {
                    continue;
                }
                let critical = parts.len() == 3 && parts[1] == (0x01, &[0xff][..]);
                let (_, value, _) = tlv(parts[parts.len() - 1].1);
                let inner = elements(value);
                let ca = inner.iter().any(|(tag, v)| *tag == 0x01 && *v == [0xff]);
                let path_len = inner
                    .iter()
                    .find(|(tag, _)| *tag == 0x02)
                    .map(|(_, v)| v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)));
                basic_constraints = Some((critical, ca, path_len));
            }
        }
        Parsed {
            not_before,
            not_after,
            basic_constraints,
        }
    }

    #[test]
    fn the_der_reader_reads_known_times() {
        assert_eq!(unix_seconds(0x17, b"700101000000Z"), 0);
        assert_eq!(unix_seconds(0x17, b"270115083000Z"), 1_800_001_800);
        assert_eq!(unix_seconds(0x18, b"40960101000000Z"), 67_090_118_400);
    }

    #[test]
    fn the_certificate_is_valid_from_a_few_minutes_ago_for_a_day() {
        let now = 1_800_000_000;
        let identity =
            ServerIdentity::generate_at(UNIX_EPOCH + Duration::from_secs(now as u64)).unwrap();
        let cert = parse(&identity.cert_der);
        assert_eq!(cert.not_before, now - CERTIFICATE_BACKDATE.as_secs() as i64);
        assert_eq!(cert.not_after, now + CERTIFICATE_LIFETIME.as_secs() as i64);
        // What the constants promise: some slack for skew, and no more than a day.
        assert!((60..=600).contains(&CERTIFICATE_BACKDATE.as_secs()));
        assert!(CERTIFICATE_LIFETIME <= Duration::from_secs(24 * 3600));
    }

    #[test]
    fn a_certificate_made_now_is_valid_now_and_not_for_long() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let cert = parse(&ServerIdentity::generate().unwrap().cert_der);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(cert.not_before <= before - 60, "backdated for clock skew");
        assert!(cert.not_after > after, "valid now");
        assert!(
            cert.not_after - cert.not_before <= 24 * 3600 + 600,
            "valid {} s",
            cert.not_after - cert.not_before
        );
    }

    #[test]
    fn the_certificate_is_a_ca_for_itself_only() {
        let cert = parse(&ServerIdentity::generate().unwrap().cert_der);
        assert_eq!(cert.basic_constraints, Some((true, true, Some(0))));
    }
}
