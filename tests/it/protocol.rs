//! The gRPC server driven in-process on 127.0.0.1:0 and as the real binary:
//! schema, validation diagnostics with paths, the mTLS rule, the handshake
//! and a prompt exit on Shutdown.

use drpair::framework::value::{encode_msgpack, Value};
use drpair::protocol::plugin::grpc_controller_client::GrpcControllerClient;
use drpair::protocol::plugin::Empty;
use drpair::protocol::plugin_services::ShutdownSignal;
use drpair::protocol::tfplugin6 as pb;
use drpair::protocol::tfplugin6::provider_client::ProviderClient;
use drpair::protocol::tls::{self, ServerIdentity};
use drpair::protocol::{serve, ServeOptions, Transport};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

async fn start_server(transport: Transport) -> (SocketAddr, ShutdownSignal) {
    let shutdown = ShutdownSignal::default();
    start_server_with(ServeOptions::new(transport, shutdown.clone())).await
}

async fn start_server_with(options: ServeOptions) -> (SocketAddr, ShutdownSignal) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = options.shutdown.clone();
    tokio::spawn(serve(drpair::provider_server(), listener, options));
    (addr, shutdown)
}

async fn plaintext_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn msgpack(fields: &[(&str, Value)], ty: &drpair::framework::Type) -> pb::DynamicValue {
    let mut obj = BTreeMap::new();
    if let drpair::framework::Type::Object(attrs) = ty {
        for name in attrs.keys() {
            obj.insert(name.clone(), Value::Null);
        }
    }
    for (k, v) in fields {
        obj.insert(k.to_string(), v.clone());
    }
    pb::DynamicValue {
        msgpack: encode_msgpack(&Value::Object(obj), ty).unwrap(),
        json: vec![],
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn region(cidr: &str, ty: &drpair::framework::Type) -> Value {
    let mut obj = BTreeMap::new();
    if let drpair::framework::Type::Object(attrs) = ty {
        for name in attrs.keys() {
            obj.insert(name.clone(), Value::Null);
        }
    }
    obj.insert("cidr_block".into(), s(cidr));
    Value::Object(obj)
}

fn network_type() -> drpair::framework::Type {
    let server = drpair::provider_server();
    server.schemas().resources["drpair_network"].ty()
}

fn attr_type(ty: &drpair::framework::Type, name: &str) -> drpair::framework::Type {
    match ty {
        drpair::framework::Type::Object(a) => a[name].clone(),
        _ => panic!("not an object"),
    }
}

fn path_text(p: &pb::AttributePath) -> String {
    use pb::attribute_path::step::Selector;
    p.steps
        .iter()
        .map(|s| match s.selector.as_ref().unwrap() {
            Selector::AttributeName(n) => format!(".{n}"),
            Selector::ElementKeyString(k) => format!("[{k:?}]"),
            Selector::ElementKeyInt(i) => format!("[{i}]"),
        })
        .collect()
}

#[tokio::test]
async fn schema_and_validation_over_grpc() {
    let (addr, shutdown) = start_server(Transport::Plaintext).await;
    let mut client = ProviderClient::new(plaintext_channel(addr).await);

    let schema = client
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.provider.is_some());
    assert!(schema.resource_schemas.contains_key("drpair_network"));
    let caps = schema.server_capabilities.unwrap();
    assert!(caps.plan_destroy && caps.get_provider_schema_optional);

    // Table: network configurations and the attribute each error must name.
    let ty = network_type();
    let rty = attr_type(&ty, "primary");
    let cases = [
        (
            "10.10.0.0/16",
            "10.10.128.0/17",
            Some(".dr.cidr_block"),
            "Overlapping",
        ),
        ("10.10.0.0/16", "10.20.0.0/16", None, ""),
        (
            "10.10.0.300/16",
            "10.20.0.0/16",
            Some(".primary.cidr_block"),
            "Invalid CIDR",
        ),
        (
            "10.10.0.1/16",
            "10.20.0.0/16",
            Some(".primary.cidr_block"),
            "Invalid CIDR",
        ),
        (
            "10.10.0.0/27",
            "10.20.0.0/16",
            Some(".primary.cidr_block"),
            "cannot hold",
        ),
    ];
    for (primary, dr, want_path, want_summary) in cases {
        let config = msgpack(
            &[
                ("name", s("payments")),
                ("primary", region(primary, &rty)),
                ("dr", region(dr, &rty)),
            ],
            &ty,
        );
        let diags = client
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: "drpair_network".into(),
                config: Some(config),
                client_capabilities: None,
            })
            .await
            .unwrap()
            .into_inner()
            .diagnostics;
        match want_path {
            None => assert!(diags.is_empty(), "{primary} {dr}: {diags:?}"),
            Some(path) => {
                let d = diags
                    .iter()
                    .find(|d| d.summary.contains(want_summary))
                    .unwrap_or_else(|| panic!("{primary} {dr}: no {want_summary:?} in {diags:?}"));
                assert_eq!(path_text(d.attribute.as_ref().unwrap()), path);
            }
        }
    }

    // The same region twice is refused at validate, naming dr_region.
    let pty = drpair::provider_server().schemas().provider.ty();
    let config = msgpack(
        &[
            ("environment", s("dev")),
            ("primary_region", s("us-east-1")),
            ("dr_region", s("us-east-1")),
        ],
        &pty,
    );
    let diags = client
        .validate_provider_config(pb::validate_provider_config::Request {
            config: Some(config),
        })
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(
        path_text(diags[0].attribute.as_ref().unwrap()),
        ".dr_region"
    );

    // Malformed msgpack is a diagnostic, not a crash.
    let diags = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "drpair_network".into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![0x85, 0xa1],
                json: vec![],
            }),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner()
        .diagnostics;
    assert!(!diags.is_empty());
    shutdown.trigger();
}

// ---- mTLS ----

/// The client side of the test trusts exactly the server certificate it was
/// given, as go-plugin does with the certificate from the handshake line.
#[derive(Debug)]
struct PinnedServer(CertificateDer<'static>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "unexpected server certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

/// A client certificate shaped like Terraform's: P-521, self-signed CA,
/// SAN localhost.
fn terraform_like_client_cert() -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pem = cert.pem();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        pem,
    )
}

async fn tls_channel(
    addr: SocketAddr,
    server_cert: CertificateDer<'static>,
    client: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> Result<Channel, tonic::transport::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(server_cert, provider)));
    let mut config = match client {
        Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

async fn schema_call(channel: Result<Channel, tonic::transport::Error>) -> Result<(), String> {
    let channel = channel.map_err(|e| e.to_string())?;
    ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn mtls_accepts_only_the_pinned_client_certificate() {
    let identity = ServerIdentity::generate().unwrap();
    let (pinned_der, pinned_key, pinned_pem) = terraform_like_client_cert();
    let config =
        tls::server_config(&identity, tls::parse_pem_certificate(&pinned_pem).unwrap()).unwrap();
    let (addr, shutdown) = start_server(Transport::Tls(config)).await;
    let server_cert = identity.cert_der.clone();

    let right = tls_channel(addr, server_cert.clone(), Some((pinned_der, pinned_key))).await;
    assert_eq!(schema_call(right).await, Ok(()));

    let (other_der, other_key, _) = terraform_like_client_cert();
    let wrong = tls_channel(addr, server_cert.clone(), Some((other_der, other_key))).await;
    assert!(
        schema_call(wrong).await.is_err(),
        "another certificate must be refused"
    );

    let none = tls_channel(addr, server_cert.clone(), None).await;
    assert!(
        schema_call(none).await.is_err(),
        "no certificate must be refused"
    );

    let plain = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    assert!(
        schema_call(plain).await.is_err(),
        "plaintext must be refused"
    );
    shutdown.trigger();
}

/// Reads until the peer closes; None if it is still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(limit, closed)
        .await
        .ok()
        .map(|_| started.elapsed())
}

#[tokio::test]
async fn peers_that_stall_the_tls_handshake_neither_stay_nor_block_terraform() {
    let identity = ServerIdentity::generate().unwrap();
    let (pinned_der, pinned_key, pinned_pem) = terraform_like_client_cert();
    let config =
        tls::server_config(&identity, tls::parse_pem_certificate(&pinned_pem).unwrap()).unwrap();
    let timeout = Duration::from_millis(500);
    let options = ServeOptions {
        tls_handshake_timeout: timeout,
        ..ServeOptions::new(Transport::Tls(config), ShutdownSignal::default())
    };
    let (addr, shutdown) = start_server_with(options).await;

    // Connected first, silent: the real client is served all the same.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let channel = tls_channel(
        addr,
        identity.cert_der.clone(),
        Some((pinned_der, pinned_key)),
    );
    assert_eq!(schema_call(channel.await).await, Ok(()));

    // ... and the silent one is let go once its time is up, well before the default's 10 s.
    let took = closed_within(&mut silent, Duration::from_secs(8))
        .await
        .expect("a peer that never starts the TLS handshake must be disconnected");
    assert!(took <= Duration::from_secs(5), "closed after {took:?}");
    assert_eq!(
        drpair::protocol::serve::TLS_HANDSHAKE_TIMEOUT,
        Duration::from_secs(10)
    );
    shutdown.trigger();
}

// ---- the real binary ----

#[test]
fn run_by_hand_explains_itself_and_exits_1() {
    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-drpair"))
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing may reach stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin for Terraform"), "{err}");
}

#[tokio::test]
async fn handshake_mtls_and_prompt_exit_on_shutdown() {
    let (client_der, client_key, client_pem) = terraform_like_client_cert();
    let mut child = Command::new(env!("CARGO_BIN_EXE_terraform-provider-drpair"))
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
        .env("PLUGIN_CLIENT_CERT", &client_pem)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(&fields[..3], &["1", "6", "tcp"], "{line}");
    assert_eq!(fields[4], "grpc");
    assert!(
        !fields[5].ends_with('='),
        "certificate must be unpadded base64"
    );
    use base64::Engine;
    let server_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .unwrap();
    let addr: SocketAddr = fields[3].parse().unwrap();

    let channel = tls_channel(
        addr,
        CertificateDer::from(server_der),
        Some((client_der, client_key)),
    )
    .await
    .unwrap();
    ProviderClient::new(channel.clone())
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap();

    let asked = Instant::now();
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "the provider must exit promptly after Shutdown"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
