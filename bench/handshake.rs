//! Spawn → handshake line of the provider binary, as Terraform experiences it: AutoMTLS on
//! (Terraform passes its client certificate, the provider generates its own before it answers).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

fn client_cert_pem() -> String {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("certificate parameters for localhost");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)
        .expect("generating a P-521 key");
    params
        .self_signed(&key)
        .expect("self-signing the client certificate")
        .pem()
}

/// Milliseconds from spawn to the handshake line of `runs` runs, sorted.
pub fn latencies(provider: &Path, runs: usize) -> Vec<f64> {
    let pem = client_cert_pem();
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut child = Command::new(provider)
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", provider.display()));
        let stdout = child.stdout.take().expect("the provider's stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the handshake line");
        out.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(
            line.starts_with("1|6|tcp|"),
            "unexpected handshake {line:?}"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    out.sort_by(f64::total_cmp);
    out
}
