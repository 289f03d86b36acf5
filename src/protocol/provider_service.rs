//! The tfplugin6 Provider service: converts, logs and delegates to the
//! framework's provider server. RPCs drpair has no use for keep tonic's
//! default "unimplemented" answer, which Terraform tolerates (PROTOCOL.md §1).

use super::convert;
use super::tfplugin6 as pb;
use super::tfplugin6::provider_server::Provider;
use crate::framework::action::Progress;
use crate::framework::provider::ProviderServer;
use std::sync::Arc;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

pub struct ProviderService {
    server: Arc<ProviderServer>,
}

impl ProviderService {
    pub fn new(server: Arc<ProviderServer>) -> Self {
        Self { server }
    }

    fn capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities {
            plan_destroy: true,
            get_provider_schema_optional: true,
            move_resource_state: false,
            generate_resource_config: false,
        }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Provider for ProviderService {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        use pb::get_metadata::{DataSourceMetadata, ResourceMetadata};
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(Self::capabilities()),
            resources: self
                .server
                .resource_type_names()
                .into_iter()
                .map(|type_name| ResourceMetadata { type_name })
                .collect(),
            data_sources: self
                .server
                .data_source_type_names()
                .into_iter()
                .map(|type_name| DataSourceMetadata { type_name })
                .collect(),
            actions: self
                .server
                .action_type_names()
                .into_iter()
                .map(|type_name| pb::get_metadata::ActionMetadata { type_name })
                .collect(),
            functions: self
                .server
                .function_names()
                .into_iter()
                .map(|name| pb::get_metadata::FunctionMetadata { name })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        let schemas = self.server.schemas();
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(convert::schema(&schemas.provider)),
            resource_schemas: schemas
                .resources
                .iter()
                .map(|(k, s)| (k.clone(), convert::schema(s)))
                .collect(),
            data_source_schemas: schemas
                .data_sources
                .iter()
                .map(|(k, s)| (k.clone(), convert::schema(s)))
                .collect(),
            action_schemas: schemas
                .actions
                .iter()
                .map(|(k, s)| {
                    let schema = Some(convert::schema(s));
                    (k.clone(), pb::ActionSchema { schema })
                })
                .collect(),
            functions: schemas
                .functions
                .iter()
                .map(|(k, f)| (k.clone(), convert::function(f)))
                .collect(),
            server_capabilities: Some(Self::capabilities()),
            ..Default::default()
        }))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        let schemas = self.server.schemas();
        Ok(Response::new(pb::get_functions::Response {
            functions: schemas
                .functions
                .iter()
                .map(|(k, f)| (k.clone(), convert::function(f)))
                .collect(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        let req = req.into_inner();
        let args: Vec<_> = req
            .arguments
            .iter()
            .map(|a| convert::raw_value(Some(a)))
            .collect();
        Ok(Response::new(
            match self.server.call_function(&req.name, &args) {
                Ok(v) => pb::call_function::Response {
                    result: Some(convert::dynamic_value(v)),
                    error: None,
                },
                Err(e) => pb::call_function::Response {
                    result: None,
                    error: Some(convert::function_error(e)),
                },
            },
        ))
    }

    async fn validate_action_config(
        &self,
        req: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        let req = req.into_inner();
        let diags = self
            .server
            .validate_action_config(&req.type_name, &convert::raw_value(req.config.as_ref()));
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics: convert::diagnostics(&diags),
        }))
    }

    async fn plan_action(
        &self,
        req: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        let req = req.into_inner();
        let diags = self
            .server
            .plan_action(&req.action_type, &convert::raw_value(req.config.as_ref()))
            .await;
        Ok(Response::new(pb::plan_action::Response {
            diagnostics: convert::diagnostics(&diags),
            deferred: None,
        }))
    }

    /// Streams the action's progress messages as they happen, then one
    /// completion event with its diagnostics.
    async fn invoke_action(
        &self,
        req: Request<pb::invoke_action::Request>,
    ) -> RpcResult<BoxStream<pb::invoke_action::Event>> {
        use pb::invoke_action::event::{Completed, Progress as ProgressEvent, Type};
        use pb::invoke_action::Event;
        let req = req.into_inner();
        tracing::info!(action_type = %req.action_type, "invoke action");
        let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
        let server = self.server.clone();
        tokio::spawn(async move {
            let progress_event = |message| Event {
                r#type: Some(Type::Progress(ProgressEvent { message })),
            };
            let config = convert::raw_value(req.config.as_ref());
            let invoke =
                server.invoke_action(&req.action_type, &config, Progress::new(progress_tx));
            tokio::pin!(invoke);
            // One task forwards everything, so progress always precedes completion.
            let diags = loop {
                tokio::select! {
                    biased;
                    Some(message) = progress_rx.recv() => {
                        let _ = events_tx.send(Ok(progress_event(message)));
                    }
                    diags = &mut invoke => break diags,
                }
            };
            while let Ok(message) = progress_rx.try_recv() {
                let _ = events_tx.send(Ok(progress_event(message)));
            }
            let completed = Event {
                r#type: Some(Type::Completed(Completed {
                    diagnostics: convert::diagnostics(&diags),
                })),
            };
            let _ = events_tx.send(Ok(completed));
        });
        let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(events_rx);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let req = req.into_inner();
        let diags = self
            .server
            .validate_provider_config(&convert::raw_value(req.config.as_ref()));
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: convert::diagnostics(&diags),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let req = req.into_inner();
        tracing::debug!(terraform_version = %req.terraform_version, "configuring provider");
        let diags = self
            .server
            .configure(
                &convert::raw_value(req.config.as_ref()),
                &req.terraform_version,
            )
            .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: convert::diagnostics(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let diags = self
            .server
            .validate_resource_config(&req.type_name, &convert::raw_value(req.config.as_ref()));
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: convert::diagnostics(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let diags = self
            .server
            .validate_data_source_config(&req.type_name, &convert::raw_value(req.config.as_ref()));
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: convert::diagnostics(&diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let json = req.raw_state.map(|r| r.json).unwrap_or_default();
        let out = self
            .server
            .upgrade_resource_state(&req.type_name, req.version, &json);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: out.value.map(convert::dynamic_value),
            diagnostics: convert::diagnostics(&out.diags),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "read resource");
        let out = self
            .server
            .read_resource(
                &req.type_name,
                &convert::raw_value(req.current_state.as_ref()),
            )
            .await;
        Ok(Response::new(pb::read_resource::Response {
            new_state: out.value.map(convert::dynamic_value),
            diagnostics: convert::diagnostics(&out.diags),
            private: req.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        tracing::debug!(type_name = %req.type_name, "plan resource change");
        let out = self
            .server
            .plan_resource_change(
                &req.type_name,
                &convert::raw_value(req.prior_state.as_ref()),
                &convert::raw_value(req.proposed_new_state.as_ref()),
                &convert::raw_value(req.config.as_ref()),
            )
            .await;
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(convert::dynamic_value(out.planned)),
            requires_replace: out.requires_replace.iter().map(convert::path).collect(),
            planned_private: req.prior_private,
            diagnostics: convert::diagnostics(&out.diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        tracing::info!(type_name = %req.type_name, "apply resource change");
        let out = self
            .server
            .apply_resource_change(
                &req.type_name,
                &convert::raw_value(req.prior_state.as_ref()),
                &convert::raw_value(req.planned_state.as_ref()),
            )
            .await;
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: out.value.map(convert::dynamic_value),
            private: req.planned_private,
            diagnostics: convert::diagnostics(&out.diags),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = req.into_inner();
        tracing::info!(type_name = %req.type_name, id = %req.id, "import resource");
        let out = self
            .server
            .import_resource_state(&req.type_name, &req.id)
            .await;
        let imported_resources = out
            .value
            .map(|state| pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(convert::dynamic_value(state)),
                private: Vec::new(),
                identity: None,
            })
            .into_iter()
            .collect();
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: convert::diagnostics(&out.diags),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let req = req.into_inner();
        let out = self
            .server
            .read_data_source(&req.type_name, &convert::raw_value(req.config.as_ref()))
            .await;
        Ok(Response::new(pb::read_data_source::Response {
            state: out.value.map(convert::dynamic_value),
            diagnostics: convert::diagnostics(&out.diags),
            ..Default::default()
        }))
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        // In-flight AWS calls finish on their own deadlines; Terraform stops
        // sending new work after an interrupt.
        tracing::info!("stop requested by Terraform");
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
