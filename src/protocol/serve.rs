//! Serving the plugin: bind, handshake, AutoMTLS, every gRPC service, and a
//! prompt exit when Terraform says Shutdown.

use super::handshake::{self, HandshakeError};
use super::plugin::grpc_broker_server::GrpcBrokerServer;
use super::plugin::grpc_controller_server::GrpcControllerServer;
use super::plugin::grpc_stdio_server::GrpcStdioServer;
use super::plugin_services::{Broker, Controller, ShutdownSignal, Stdio};
use super::provider_service::ProviderService;
use super::tfplugin6::provider_server::ProviderServer as ProviderGrpc;
use super::tls::{self, ServerIdentity, TlsError};
use crate::framework::provider::ProviderServer;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::transport::server::Connected;
use tonic::transport::Server;

/// Terraform allows 64 MiB schemas and larger state; tonic's default is 4 MiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("binding the plugin's listener: {0}")]
    Bind(std::io::Error),
    #[error("writing the handshake line: {0}")]
    Stdout(std::io::Error),
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
}

pub enum Transport {
    /// AutoMTLS: only the pinned client certificate is accepted.
    Tls(Arc<rustls::ServerConfig>),
    Plaintext,
}

/// How long a client has to complete the TLS handshake after connecting. Terraform completes it
/// within milliseconds of reading the handshake line; a peer that connects and stalls (anything
/// on the machine can reach the port, only Terraform can finish the handshake) is dropped then
/// instead of holding a task and a socket for the life of the process. gRPC-Go servers, which
/// go-plugin's plugins are, give a new connection 120 s (`grpc.ConnectionTimeout`'s default).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ServeOptions {
    pub transport: Transport,
    pub shutdown: ShutdownSignal,
    /// For AutoMTLS only; [`TLS_HANDSHAKE_TIMEOUT`] unless a test wants it shorter.
    pub tls_handshake_timeout: Duration,
}

impl ServeOptions {
    pub fn new(transport: Transport, shutdown: ShutdownSignal) -> Self {
        Self {
            transport,
            shutdown,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Serves every plugin service on `listener` until Shutdown.
pub async fn serve(
    server: Arc<ProviderServer>,
    listener: TcpListener,
    options: ServeOptions,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let provider = ProviderGrpc::new(ProviderService::new(server))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let router = Server::builder()
        .add_service(provider)
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: options.shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio))
        .add_service(GrpcBrokerServer::new(Broker))
        .add_service(health_service);
    let shutdown = options.shutdown.clone();
    match options.transport {
        Transport::Plaintext => {
            router
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.wait())
                .await?
        }
        Transport::Tls(config) => {
            let (incoming, accept_loop) =
                tls_incoming(listener, config, options.tls_handshake_timeout);
            let result = router
                .serve_with_incoming_shutdown(incoming, shutdown.wait())
                .await;
            accept_loop.abort();
            result?
        }
    }
    Ok(())
}

/// Accepts TCP connections and completes their TLS handshakes concurrently;
/// connections that fail it (wrong or missing client certificate) or do not
/// finish it within `handshake_timeout` are closed and logged.
fn tls_incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
) -> (
    ReceiverStream<Result<TlsConn, std::io::Error>>,
    tokio::task::JoinHandle<()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let accept_loop = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // On timeout the half-done handshake and its socket are dropped: the peer sees
                // the connection closed.
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(TlsConn(stream))).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %peer, error = %e, "refused a TLS connection");
                    }
                    Err(_) => {
                        tracing::warn!(
                            peer = %peer,
                            timeout_ms = handshake_timeout.as_millis() as u64,
                            "closed a connection that did not complete the TLS handshake in time"
                        );
                    }
                }
            });
        }
    });
    (ReceiverStream::new(rx), accept_loop)
}

/// A server-side TLS stream tonic can serve.
pub struct TlsConn(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for TlsConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Run as a plugin by Terraform: check the environment, print the handshake
/// line, serve until Shutdown.
pub async fn run_plugin(server: Arc<ProviderServer>) -> Result<(), ServeError> {
    handshake::check_environment(
        std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref(),
        std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref(),
    )?;
    let client_cert = std::env::var("PLUGIN_CLIENT_CERT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ServeError::Bind)?;
    let addr = listener.local_addr().map_err(ServeError::Bind)?;
    let (transport, cert_der) = match client_cert {
        Some(pem) => {
            let identity = ServerIdentity::generate()?;
            let pinned = tls::parse_pem_certificate(&pem)?;
            let config = tls::server_config(&identity, pinned)?;
            (Transport::Tls(config), Some(identity.cert_der.to_vec()))
        }
        None => (Transport::Plaintext, None),
    };
    let line = handshake::handshake_line("tcp", &addr.to_string(), cert_der.as_deref());
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").map_err(ServeError::Stdout)?;
        out.flush().map_err(ServeError::Stdout)?;
    }
    tracing::debug!(%addr, tls = cert_der.is_some(), "plugin listening");
    let shutdown = ShutdownSignal::default();
    let served = serve(
        server,
        listener,
        ServeOptions::new(transport, shutdown.clone()),
    );
    // A graceful stop would wait for Terraform to close its connection, and
    // Terraform waits for us to exit: leave right after answering Shutdown.
    tokio::select! {
        result = served => result,
        _ = async {
            shutdown.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    }
}

/// Time for the Shutdown answer to reach Terraform before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(20);

/// `--debug`: serve without Terraform spawning us, in plaintext, and tell the
/// operator how to attach Terraform.
pub async fn run_debug(
    server: Arc<ProviderServer>,
    source_address: &str,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ServeError::Bind)?;
    let addr = listener.local_addr().map_err(ServeError::Bind)?;
    let reattach = serde_json::json!({
        source_address: {
            "Protocol": "grpc",
            "ProtocolVersion": handshake::APP_PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() }
        }
    });
    println!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n\nPress Ctrl-C to stop."
    );
    let shutdown = ShutdownSignal::default();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.trigger();
    });
    serve(
        server,
        listener,
        ServeOptions::new(Transport::Plaintext, shutdown),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    fn autotls_config() -> Arc<rustls::ServerConfig> {
        let identity = ServerIdentity::generate().unwrap();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let client = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        tls::server_config(&identity, client.der().clone()).unwrap()
    }

    /// Reads until the server closes the connection; how long that took.
    async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let read = async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // An alert, say: keep reading until the close.
                    Ok(_) => continue,
                }
            }
        };
        tokio::time::timeout(limit, read)
            .await
            .ok()
            .map(|_| started.elapsed())
    }

    #[tokio::test]
    async fn peers_that_never_finish_the_tls_handshake_are_disconnected() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = ShutdownSignal::default();
        let timeout = Duration::from_millis(300);
        let options = ServeOptions {
            tls_handshake_timeout: timeout,
            ..ServeOptions::new(Transport::Tls(autotls_config()), shutdown.clone())
        };
        let server = tokio::spawn(serve(crate::provider_server(), listener, options));

        // One says nothing at all; the other starts a TLS record and stalls.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled.write_all(&[0x16, 0x03, 0x01, 0x01]).await.unwrap();

        for (name, stream) in [("silent", &mut silent), ("stalled", &mut stalled)] {
            let took = closed_within(stream, Duration::from_secs(10)).await;
            let took = took.unwrap_or_else(|| panic!("the {name} peer is still connected"));
            assert!(
                took < Duration::from_secs(5),
                "{name}: closed after {took:?}"
            );
        }
        assert_eq!(TLS_HANDSHAKE_TIMEOUT, Duration::from_secs(10));
        assert_eq!(
            ServeOptions::new(Transport::Plaintext, shutdown.clone()).tls_handshake_timeout,
            TLS_HANDSHAKE_TIMEOUT
        );
        shutdown.trigger();
        server.await.unwrap().unwrap();
    }
}
