//! The go-plugin handshake: environment checks and the one line Terraform
//! reads from our stdout.

use base64::Engine;
use std::fmt;

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
pub const CORE_PROTOCOL_VERSION: u32 = 1;
pub const APP_PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// Run by hand rather than by Terraform.
    MissingCookie,
    /// Terraform offered only protocol versions we do not speak.
    UnsupportedVersions(String),
}

impl std::error::Error for HandshakeError {}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::MissingCookie => write!(
                f,
                "This binary is a plugin for Terraform and is not meant to be run directly.\n\
                 Run `terraform init` with a configuration that requires drpair/drpair and Terraform\n\
                 will start it. To debug it, run it with --debug and follow the instructions."
            ),
            HandshakeError::UnsupportedVersions(offered) => write!(
                f,
                "Terraform offered plugin protocol versions {offered:?}; drpair speaks only protocol \
                 {APP_PROTOCOL_VERSION} (Terraform 1.0 or later)."
            ),
        }
    }
}

/// Checks what Terraform passes in the environment: the magic cookie and a
/// protocol version list that contains 6 (in any order: it comes from a Go map).
pub fn check_environment(
    cookie: Option<&str>,
    protocol_versions: Option<&str>,
) -> Result<(), HandshakeError> {
    if cookie != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::MissingCookie);
    }
    match protocol_versions {
        // Older go-plugin clients send no list and mean "the one you speak".
        None => Ok(()),
        Some(list) => {
            let offered = list
                .split(',')
                .filter_map(|v| v.trim().parse::<u32>().ok())
                .any(|v| v == APP_PROTOCOL_VERSION);
            if offered {
                Ok(())
            } else {
                Err(HandshakeError::UnsupportedVersions(list.to_string()))
            }
        }
    }
}

/// `CORE|APP|NET|ADDR|PROTO|CERT`: the certificate is the server's DER leaf in
/// unpadded standard base64, or absent when TLS is off.
pub fn handshake_line(network: &str, address: &str, cert_der: Option<&[u8]>) -> String {
    let cert = cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{network}|{address}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_checks() {
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(), HandshakeError>);
        let cases: &[Case] = &[
            (Some(MAGIC_COOKIE_VALUE), Some("5,6"), Ok(())),
            (Some(MAGIC_COOKIE_VALUE), Some("6,5"), Ok(())),
            (Some(MAGIC_COOKIE_VALUE), Some("6"), Ok(())),
            (Some(MAGIC_COOKIE_VALUE), None, Ok(())),
            (None, Some("5,6"), Err(HandshakeError::MissingCookie)),
            (Some("wrong"), Some("6"), Err(HandshakeError::MissingCookie)),
            (
                Some(MAGIC_COOKIE_VALUE),
                Some("4,5"),
                Err(HandshakeError::UnsupportedVersions("4,5".into())),
            ),
        ];
        for (cookie, versions, want) in cases {
            assert_eq!(
                &check_environment(*cookie, *versions),
                want,
                "{cookie:?} {versions:?}"
            );
        }
    }

    #[test]
    fn handshake_line_has_unpadded_base64() {
        let line = handshake_line("tcp", "127.0.0.1:1234", Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|tcp|127.0.0.1:1234|grpc|AQIDBA");
        assert_eq!(
            handshake_line("tcp", "127.0.0.1:1", None),
            "1|6|tcp|127.0.0.1:1|grpc|"
        );
    }
}
