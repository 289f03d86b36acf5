//! Actions (Terraform 1.14+): operator-invoked operations with streamed
//! progress, e.g. `terraform apply -invoke=action.drpair_failover.drill`.

use super::diag::Diagnostics;
use super::resource::ProviderData;
use super::schema::Schema;
use super::typed::to_typed;
use super::value::Value;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

/// Where an action reports progress; each message is shown to the user as it
/// happens.
#[derive(Clone)]
pub struct Progress(mpsc::UnboundedSender<String>);

impl Progress {
    pub fn new(tx: mpsc::UnboundedSender<String>) -> Self {
        Self(tx)
    }

    pub fn report(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(%message, "action progress");
        let _ = self.0.send(message);
    }
}

#[async_trait]
pub trait Action: Send + Sync + 'static {
    type Model: DeserializeOwned + Send + Sync;
    type Client: Send + Sync + 'static;

    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    /// Checks at plan time, with live state where useful.
    async fn plan(&self, _client: &Self::Client, _config: &Self::Model, _diags: &mut Diagnostics) {}
    async fn invoke(
        &self,
        client: &Self::Client,
        config: Self::Model,
        progress: Progress,
        diags: &mut Diagnostics,
    );
}

#[async_trait]
pub trait DynAction: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn plan(&self, data: Option<&ProviderData>, config: &Value) -> Diagnostics;
    async fn invoke(
        &self,
        data: Option<&ProviderData>,
        config: &Value,
        progress: Progress,
    ) -> Diagnostics;
}

fn decode<T: DeserializeOwned>(v: &Value, schema: &Schema, diags: &mut Diagnostics) -> Option<T> {
    match to_typed::<T>(v, &schema.ty()) {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error_at(
                e.path.clone(),
                "Invalid action configuration",
                e.message.clone(),
            );
            None
        }
    }
}

fn client<'a, C: 'static>(
    data: Option<&'a ProviderData>,
    diags: &mut Diagnostics,
) -> Option<&'a C> {
    let found = data.and_then(|d| d.downcast_ref::<C>());
    if found.is_none() {
        diags.error(
            "Provider not configured",
            "The drpair provider was not configured before this action ran.",
        );
    }
    found
}

#[async_trait]
impl<A: Action> DynAction for A {
    fn type_name(&self) -> &'static str {
        Action::type_name(self)
    }

    fn schema(&self) -> Schema {
        Action::schema(self)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(m) = decode::<A::Model>(config, &Action::schema(self), &mut diags) {
            Action::validate(self, &m, &mut diags);
        }
        diags
    }

    async fn plan(&self, data: Option<&ProviderData>, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(m) = decode::<A::Model>(config, &Action::schema(self), &mut diags) else {
            return diags;
        };
        Action::validate(self, &m, &mut diags);
        if diags.has_errors() || !config.is_wholly_known() {
            return diags;
        }
        if let Some(c) = client::<A::Client>(data, &mut diags) {
            Action::plan(self, c, &m, &mut diags).await;
        }
        diags
    }

    async fn invoke(
        &self,
        data: Option<&ProviderData>,
        config: &Value,
        progress: Progress,
    ) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(m) = decode::<A::Model>(config, &Action::schema(self), &mut diags) else {
            return diags;
        };
        Action::validate(self, &m, &mut diags);
        if diags.has_errors() {
            return diags;
        }
        if let Some(c) = client::<A::Client>(data, &mut diags) {
            Action::invoke(self, c, m, progress, &mut diags).await;
        }
        diags
    }
}
