//! go-plugin's side services: the controller (Terraform's way to stop us),
//! stdio forwarding and the broker. Terraform only really needs Shutdown.

use super::plugin::grpc_broker_server::GrpcBroker;
use super::plugin::grpc_controller_server::GrpcController;
use super::plugin::grpc_stdio_server::GrpcStdio;
use super::plugin::{ConnInfo, Empty, StdioData};
use std::sync::Arc;
use tokio::sync::watch;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

/// Fired once when Terraform asks the plugin to stop; any number of tasks
/// may wait for it.
#[derive(Clone)]
pub struct ShutdownSignal(Arc<watch::Sender<bool>>);

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl ShutdownSignal {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

pub struct Controller {
    pub shutdown: ShutdownSignal,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _req: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by Terraform");
        self.shutdown.trigger();
        Ok(Response::new(Empty {}))
    }
}

/// Nothing is ever forwarded: drpair writes its logs to stderr directly,
/// where Terraform reads them.
pub struct Stdio;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _req: Request<()>,
    ) -> Result<Response<BoxStream<StdioData>>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}

/// drpair offers no brokered services; the stream stays open and idle.
pub struct Broker;

#[tonic::async_trait]
impl GrpcBroker for Broker {
    async fn start_stream(
        &self,
        req: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<BoxStream<ConnInfo>>, Status> {
        let mut inbound = req.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}
