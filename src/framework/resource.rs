//! Typed resources and data sources, and their type-erased form.
//!
//! A resource is a type with a serde model; the blanket impls below decode
//! Terraform's values into that model, run the resource's method and encode
//! the result back, so resources never see msgpack bytes or gRPC types.

use super::diag::Diagnostics;
use super::plan::{plan_create, plan_update, restore_configured};
use super::schema::Schema;
use super::typed::{from_typed, to_typed};
use super::value::Value;
use super::AttributePath;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::sync::Arc;

/// What a configured provider hands its resources (downcast by each one).
pub type ProviderData = Arc<dyn Any + Send + Sync>;

/// A managed resource, in terraform-plugin-framework's method order.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    type Model: Serialize + DeserializeOwned + Clone + Send + Sync;
    /// The configured provider's client this resource works with.
    type Client: Send + Sync + 'static;

    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    /// Static checks of a configuration that may still hold unknown values.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// Adjusts the generic plan (computed values, drift repair, warnings).
    /// `prior` is None on create.
    async fn modify_plan(
        &self,
        _client: &Self::Client,
        _prior: Option<&Self::Model>,
        planned: Self::Model,
        _diags: &mut Diagnostics,
    ) -> Self::Model {
        planned
    }

    /// Creates the object. On failure, return whatever was made (with an
    /// error diagnostic) so Terraform keeps it in state for destroy.
    async fn create(
        &self,
        client: &Self::Client,
        planned: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;

    /// Refreshes the state; None when the object no longer exists.
    async fn read(
        &self,
        client: &Self::Client,
        state: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;

    async fn update(
        &self,
        client: &Self::Client,
        prior: Self::Model,
        planned: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;

    async fn delete(&self, client: &Self::Client, prior: Self::Model, diags: &mut Diagnostics);

    /// Builds the state of an existing object from its import id.
    async fn import(
        &self,
        client: &Self::Client,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;
}

/// A data source: read only.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    type Model: Serialize + DeserializeOwned + Clone + Send + Sync;
    type Client: Send + Sync + 'static;

    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    async fn read(
        &self,
        client: &Self::Client,
        config: Self::Model,
        diags: &mut Diagnostics,
    ) -> Option<Self::Model>;
}

/// Plan of a resource change, on dynamic values.
#[derive(Debug, Default)]
pub struct PlanResult {
    pub planned: Value,
    pub requires_replace: Vec<AttributePath>,
    pub diags: Diagnostics,
}

/// The type-erased resource the provider server dispatches to.
#[async_trait]
pub trait DynResource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn plan(
        &self,
        data: Option<&ProviderData>,
        prior: &Value,
        proposed: &Value,
        config: &Value,
    ) -> PlanResult;
    async fn apply(
        &self,
        data: Option<&ProviderData>,
        prior: &Value,
        planned: &Value,
    ) -> (Value, Diagnostics);
    async fn read(&self, data: Option<&ProviderData>, state: &Value) -> (Value, Diagnostics);
    async fn import(&self, data: Option<&ProviderData>, id: &str) -> (Value, Diagnostics);
}

fn client<'a, C: 'static>(
    data: Option<&'a ProviderData>,
    diags: &mut Diagnostics,
) -> Option<&'a C> {
    let found = data.and_then(|d| d.downcast_ref::<C>());
    if found.is_none() {
        diags.error(
            "Provider not configured",
            "The drpair provider was not configured before this operation; this is a bug in the provider or its caller.",
        );
    }
    found
}

fn decode<T: DeserializeOwned>(
    v: &Value,
    schema: &Schema,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<T> {
    match to_typed::<T>(v, &schema.ty()) {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error_at(e.path.clone(), format!("Invalid {what}"), e.message.clone());
            None
        }
    }
}

fn encode<T: Serialize>(m: &T, schema: &Schema, diags: &mut Diagnostics) -> Value {
    match from_typed(m, &schema.ty()) {
        Ok(v) => v,
        Err(e) => {
            diags.error_at(
                e.path.clone(),
                "Provider produced a value it cannot encode",
                format!("{}; this is a bug in the provider", e.message),
            );
            Value::Null
        }
    }
}

#[async_trait]
impl<R: Resource> DynResource for R {
    fn type_name(&self) -> &'static str {
        Resource::type_name(self)
    }

    fn schema(&self) -> Schema {
        Resource::schema(self)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(model) =
            decode::<R::Model>(config, &Resource::schema(self), "configuration", &mut diags)
        {
            Resource::validate(self, &model, &mut diags);
        }
        diags
    }

    async fn plan(
        &self,
        data: Option<&ProviderData>,
        prior: &Value,
        proposed: &Value,
        config: &Value,
    ) -> PlanResult {
        let schema = Resource::schema(self);
        let mut result = PlanResult::default();
        if proposed.is_null() {
            // Destroy: nothing to plan.
            result.planned = Value::Null;
            return result;
        }
        let (planned, requires_replace) = if prior.is_null() {
            (plan_create(&schema.block, proposed, config), Vec::new())
        } else {
            let change = plan_update(&schema.block, prior, proposed, config);
            (change.planned, change.requires_replace)
        };
        result.requires_replace = requires_replace;
        let diags = &mut result.diags;
        let Some(client) = client::<R::Client>(data, diags) else {
            result.planned = planned;
            return result;
        };
        let Some(planned_model) = decode::<R::Model>(&planned, &schema, "plan", diags) else {
            result.planned = planned;
            return result;
        };
        let prior_model = if prior.is_null() || !result.requires_replace.is_empty() {
            None
        } else {
            decode::<R::Model>(prior, &schema, "prior state", diags)
        };
        let modified = self
            .modify_plan(client, prior_model.as_ref(), planned_model, diags)
            .await;
        let mut planned = encode(&modified, &schema, diags);
        restore_configured(&schema.block, &mut planned, proposed, config);
        result.planned = planned;
        result
    }

    async fn apply(
        &self,
        data: Option<&ProviderData>,
        prior: &Value,
        planned: &Value,
    ) -> (Value, Diagnostics) {
        let schema = Resource::schema(self);
        let mut diags = Diagnostics::new();
        let Some(client) = client::<R::Client>(data, &mut diags) else {
            return (prior.clone(), diags);
        };
        if planned.is_null() {
            if let Some(prior_model) = decode::<R::Model>(prior, &schema, "prior state", &mut diags)
            {
                self.delete(client, prior_model, &mut diags).await;
            }
            // A failed delete keeps the object in state so it can be retried.
            let state = if diags.has_errors() {
                prior.clone()
            } else {
                Value::Null
            };
            return (state, diags);
        }
        let Some(planned_model) = decode::<R::Model>(planned, &schema, "plan", &mut diags) else {
            return (prior.clone(), diags);
        };
        let out = if prior.is_null() {
            self.create(client, planned_model, &mut diags).await
        } else {
            match decode::<R::Model>(prior, &schema, "prior state", &mut diags) {
                Some(prior_model) => {
                    self.update(client, prior_model, planned_model, &mut diags)
                        .await
                }
                None => None,
            }
        };
        let state = match out {
            Some(m) => encode(&m, &schema, &mut diags),
            None if prior.is_null() => Value::Null,
            None => prior.clone(),
        };
        (state, diags)
    }

    async fn read(&self, data: Option<&ProviderData>, state: &Value) -> (Value, Diagnostics) {
        let schema = Resource::schema(self);
        let mut diags = Diagnostics::new();
        let Some(client) = client::<R::Client>(data, &mut diags) else {
            return (state.clone(), diags);
        };
        let Some(model) = decode::<R::Model>(state, &schema, "state", &mut diags) else {
            return (state.clone(), diags);
        };
        match Resource::read(self, client, model, &mut diags).await {
            Some(m) => (encode(&m, &schema, &mut diags), diags),
            None if diags.has_errors() => (state.clone(), diags),
            None => (Value::Null, diags),
        }
    }

    async fn import(&self, data: Option<&ProviderData>, id: &str) -> (Value, Diagnostics) {
        let schema = Resource::schema(self);
        let mut diags = Diagnostics::new();
        let Some(client) = client::<R::Client>(data, &mut diags) else {
            return (Value::Null, diags);
        };
        match Resource::import(self, client, id, &mut diags).await {
            Some(m) => (encode(&m, &schema, &mut diags), diags),
            None => {
                if !diags.has_errors() {
                    diags.error(
                        "Cannot import non-existent remote object",
                        format!(
                            "No {} with id {id:?} exists in either region.",
                            Resource::type_name(self)
                        ),
                    );
                }
                (Value::Null, diags)
            }
        }
    }
}

/// The type-erased data source.
#[async_trait]
pub trait DynDataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn read(&self, data: Option<&ProviderData>, config: &Value) -> (Value, Diagnostics);
}

#[async_trait]
impl<D: DataSource> DynDataSource for D {
    fn type_name(&self) -> &'static str {
        DataSource::type_name(self)
    }

    fn schema(&self) -> Schema {
        DataSource::schema(self)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(model) = decode::<D::Model>(
            config,
            &DataSource::schema(self),
            "configuration",
            &mut diags,
        ) {
            DataSource::validate(self, &model, &mut diags);
        }
        diags
    }

    async fn read(&self, data: Option<&ProviderData>, config: &Value) -> (Value, Diagnostics) {
        let schema = DataSource::schema(self);
        let mut diags = Diagnostics::new();
        let Some(client) = client::<D::Client>(data, &mut diags) else {
            return (Value::Null, diags);
        };
        let Some(model) = decode::<D::Model>(config, &schema, "configuration", &mut diags) else {
            return (Value::Null, diags);
        };
        match DataSource::read(self, client, model, &mut diags).await {
            Some(m) => (encode(&m, &schema, &mut diags), diags),
            None => (Value::Null, diags),
        }
    }
}
