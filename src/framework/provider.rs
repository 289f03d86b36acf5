//! The provider server: the framework's entry point for the protocol layer.
//! It owns the registry of resources and data sources, decodes wire values
//! with the right schema, and dispatches to the typed implementations.

use super::action::{DynAction, Progress};
use super::diag::Diagnostics;
use super::function::{Function, FunctionError, Signature};
use super::resource::{DynDataSource, DynResource, ProviderData};
use super::schema::Schema;
use super::typed::to_typed;
use super::types::Type;
use super::value::{decode_json, decode_msgpack, encode_msgpack, Value};
use super::AttributePath;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A value as it crosses the wire: Terraform sends msgpack, state upgrades
/// arrive as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Msgpack(Vec<u8>),
    Json(Vec<u8>),
}

impl RawValue {
    pub fn decode(&self, ty: &Type, what: &str, diags: &mut Diagnostics) -> Value {
        let result = match self {
            RawValue::Msgpack(b) => decode_msgpack(b, ty),
            RawValue::Json(b) => decode_json(b, ty),
        };
        result.unwrap_or_else(|e| {
            diags.error_at(
                e.path.clone(),
                format!("Invalid {what} value"),
                format!(
                    "Terraform sent a value that does not match the schema: {}",
                    e.message
                ),
            );
            Value::Null
        })
    }

    pub fn encode(v: &Value, ty: &Type, diags: &mut Diagnostics) -> RawValue {
        match encode_msgpack(v, ty) {
            Ok(b) => RawValue::Msgpack(b),
            Err(e) => {
                diags.error_at(
                    e.path.clone(),
                    "Provider produced an invalid value",
                    format!("{}; this is a bug in the provider", e.message),
                );
                RawValue::Msgpack(vec![0xc0])
            }
        }
    }
}

/// The provider itself: its configuration and the objects it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    type Model: DeserializeOwned + Send;

    /// The provider's local name, the prefix of every type name.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}
    async fn configure(
        &self,
        config: Self::Model,
        terraform_version: &str,
        diags: &mut Diagnostics,
    ) -> Option<ProviderData>;
    fn resources(&self) -> Vec<Arc<dyn DynResource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DynDataSource>>;
    fn actions(&self) -> Vec<Arc<dyn DynAction>> {
        Vec::new()
    }
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
}

#[async_trait]
trait DynProvider: Send + Sync {
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn configure(
        &self,
        config: &Value,
        tf_version: &str,
    ) -> (Option<ProviderData>, Diagnostics);
}

fn decode_config<T: DeserializeOwned>(
    v: &Value,
    schema: &Schema,
    diags: &mut Diagnostics,
) -> Option<T> {
    match to_typed::<T>(v, &schema.ty()) {
        Ok(m) => Some(m),
        Err(e) => {
            diags.error_at(
                e.path.clone(),
                "Invalid provider configuration",
                e.message.clone(),
            );
            None
        }
    }
}

#[async_trait]
impl<P: Provider> DynProvider for P {
    fn schema(&self) -> Schema {
        Provider::schema(self)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(m) = decode_config::<P::Model>(config, &Provider::schema(self), &mut diags) {
            Provider::validate(self, &m, &mut diags);
        }
        diags
    }

    async fn configure(
        &self,
        config: &Value,
        tf_version: &str,
    ) -> (Option<ProviderData>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(m) = decode_config::<P::Model>(config, &Provider::schema(self), &mut diags) else {
            return (None, diags);
        };
        Provider::validate(self, &m, &mut diags);
        if diags.has_errors() {
            return (None, diags);
        }
        let data = Provider::configure(self, m, tf_version, &mut diags).await;
        (data, diags)
    }
}

pub struct ProviderSchemas {
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
    pub actions: BTreeMap<String, Schema>,
    pub functions: BTreeMap<String, Signature>,
}

pub struct PlanOutput {
    pub planned: RawValue,
    pub requires_replace: Vec<AttributePath>,
    pub diags: Diagnostics,
}

pub struct ServedValue {
    pub value: Option<RawValue>,
    pub diags: Diagnostics,
}

pub struct ProviderServer {
    provider: Box<dyn DynProvider>,
    resources: BTreeMap<String, Arc<dyn DynResource>>,
    data_sources: BTreeMap<String, Arc<dyn DynDataSource>>,
    actions: BTreeMap<String, Arc<dyn DynAction>>,
    functions: BTreeMap<String, Arc<dyn Function>>,
    configured: RwLock<Option<ProviderData>>,
}

impl ProviderServer {
    pub fn new<P: Provider>(provider: P) -> Self {
        let resources = provider
            .resources()
            .into_iter()
            .map(|r| (r.type_name().to_string(), r))
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|d| (d.type_name().to_string(), d))
            .collect();
        let actions = provider
            .actions()
            .into_iter()
            .map(|a| (a.type_name().to_string(), a))
            .collect();
        let functions = provider
            .functions()
            .into_iter()
            .map(|f| (f.name().to_string(), f))
            .collect();
        Self {
            provider: Box::new(provider),
            resources,
            data_sources,
            actions,
            functions,
            configured: RwLock::new(None),
        }
    }

    pub fn schemas(&self) -> ProviderSchemas {
        ProviderSchemas {
            provider: self.provider.schema(),
            resources: self
                .resources
                .iter()
                .map(|(k, r)| (k.clone(), r.schema()))
                .collect(),
            data_sources: self
                .data_sources
                .iter()
                .map(|(k, d)| (k.clone(), d.schema()))
                .collect(),
            actions: self
                .actions
                .iter()
                .map(|(k, a)| (k.clone(), a.schema()))
                .collect(),
            functions: self
                .functions
                .iter()
                .map(|(k, f)| (k.clone(), f.signature()))
                .collect(),
        }
    }

    pub fn action_type_names(&self) -> Vec<String> {
        self.actions.keys().cloned().collect()
    }

    pub fn function_names(&self) -> Vec<String> {
        self.functions.keys().cloned().collect()
    }

    pub fn resource_type_names(&self) -> Vec<String> {
        self.resources.keys().cloned().collect()
    }

    pub fn data_source_type_names(&self) -> Vec<String> {
        self.data_sources.keys().cloned().collect()
    }

    fn data(&self) -> Option<ProviderData> {
        self.configured.read().ok().and_then(|g| g.clone())
    }

    fn resource(&self, type_name: &str, diags: &mut Diagnostics) -> Option<Arc<dyn DynResource>> {
        let r = self.resources.get(type_name).cloned();
        if r.is_none() {
            diags.error(
                "Unknown resource type",
                format!("The drpair provider has no resource type {type_name:?}."),
            );
        }
        r
    }

    fn data_source(
        &self,
        type_name: &str,
        diags: &mut Diagnostics,
    ) -> Option<Arc<dyn DynDataSource>> {
        let d = self.data_sources.get(type_name).cloned();
        if d.is_none() {
            diags.error(
                "Unknown data source type",
                format!("The drpair provider has no data source {type_name:?}."),
            );
        }
        d
    }

    pub fn validate_provider_config(&self, config: &RawValue) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let v = config.decode(
            &self.provider.schema().ty(),
            "provider configuration",
            &mut diags,
        );
        if !diags.has_errors() {
            diags.extend(self.provider.validate(&v));
        }
        diags
    }

    pub async fn configure(&self, config: &RawValue, terraform_version: &str) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let v = config.decode(
            &self.provider.schema().ty(),
            "provider configuration",
            &mut diags,
        );
        if diags.has_errors() {
            return diags;
        }
        let (data, more) = self.provider.configure(&v, terraform_version).await;
        diags.extend(more);
        if let Some(d) = data {
            if let Ok(mut slot) = self.configured.write() {
                *slot = Some(d);
            }
        }
        diags
    }

    pub fn validate_resource_config(&self, type_name: &str, config: &RawValue) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return diags;
        };
        let v = config.decode(&r.schema().ty(), "configuration", &mut diags);
        if !diags.has_errors() {
            diags.extend(r.validate(&v));
        }
        diags
    }

    /// State upgrade: the stored JSON (possibly of an older schema version)
    /// re-encoded under the current schema. Attributes the current schema no
    /// longer has are dropped rather than failing every run.
    pub fn upgrade_resource_state(
        &self,
        type_name: &str,
        _version: i64,
        json: &[u8],
    ) -> ServedValue {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return ServedValue { value: None, diags };
        };
        let ty = r.schema().ty();
        let pruned = match serde_json::from_slice::<serde_json::Value>(json) {
            Ok(mut j) => {
                prune_to_type(&mut j, &ty);
                serde_json::to_vec(&j).unwrap_or_default()
            }
            Err(e) => {
                diags.error(
                    "Invalid stored state",
                    format!("The state of this {type_name} is not valid JSON: {e}"),
                );
                return ServedValue { value: None, diags };
            }
        };
        let v = RawValue::Json(pruned).decode(&ty, "stored state", &mut diags);
        if diags.has_errors() {
            return ServedValue { value: None, diags };
        }
        let value = Some(RawValue::encode(&v, &ty, &mut diags));
        ServedValue { value, diags }
    }

    pub async fn read_resource(&self, type_name: &str, current: &RawValue) -> ServedValue {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return ServedValue { value: None, diags };
        };
        let ty = r.schema().ty();
        let state = current.decode(&ty, "state", &mut diags);
        if diags.has_errors() {
            return ServedValue { value: None, diags };
        }
        let data = self.data();
        let (new_state, more) = r.read(data.as_ref(), &state).await;
        diags.extend(more);
        let value = Some(RawValue::encode(&new_state, &ty, &mut diags));
        ServedValue { value, diags }
    }

    pub async fn plan_resource_change(
        &self,
        type_name: &str,
        prior: &RawValue,
        proposed: &RawValue,
        config: &RawValue,
    ) -> PlanOutput {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return PlanOutput {
                planned: proposed.clone(),
                requires_replace: vec![],
                diags,
            };
        };
        let ty = r.schema().ty();
        let prior = prior.decode(&ty, "prior state", &mut diags);
        let proposed_v = proposed.decode(&ty, "proposed new state", &mut diags);
        let config = config.decode(&ty, "configuration", &mut diags);
        if diags.has_errors() {
            return PlanOutput {
                planned: proposed.clone(),
                requires_replace: vec![],
                diags,
            };
        }
        let data = self.data();
        let result = r.plan(data.as_ref(), &prior, &proposed_v, &config).await;
        diags.extend(result.diags);
        PlanOutput {
            planned: RawValue::encode(&result.planned, &ty, &mut diags),
            requires_replace: result.requires_replace,
            diags,
        }
    }

    pub async fn apply_resource_change(
        &self,
        type_name: &str,
        prior: &RawValue,
        planned: &RawValue,
    ) -> ServedValue {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return ServedValue { value: None, diags };
        };
        let ty = r.schema().ty();
        let prior_v = prior.decode(&ty, "prior state", &mut diags);
        let planned_v = planned.decode(&ty, "planned state", &mut diags);
        if diags.has_errors() {
            return ServedValue {
                value: Some(prior.clone()),
                diags,
            };
        }
        let data = self.data();
        let (new_state, more) = r.apply(data.as_ref(), &prior_v, &planned_v).await;
        diags.extend(more);
        let value = Some(RawValue::encode(&new_state, &ty, &mut diags));
        ServedValue { value, diags }
    }

    pub async fn import_resource_state(&self, type_name: &str, id: &str) -> ServedValue {
        let mut diags = Diagnostics::new();
        let Some(r) = self.resource(type_name, &mut diags) else {
            return ServedValue { value: None, diags };
        };
        let ty = r.schema().ty();
        let data = self.data();
        let (state, more) = r.import(data.as_ref(), id).await;
        diags.extend(more);
        if state.is_null() {
            return ServedValue { value: None, diags };
        }
        let value = Some(RawValue::encode(&state, &ty, &mut diags));
        ServedValue { value, diags }
    }

    pub fn validate_data_source_config(&self, type_name: &str, config: &RawValue) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(d) = self.data_source(type_name, &mut diags) else {
            return diags;
        };
        let v = config.decode(&d.schema().ty(), "configuration", &mut diags);
        if !diags.has_errors() {
            diags.extend(d.validate(&v));
        }
        diags
    }

    pub async fn read_data_source(&self, type_name: &str, config: &RawValue) -> ServedValue {
        let mut diags = Diagnostics::new();
        let Some(d) = self.data_source(type_name, &mut diags) else {
            return ServedValue { value: None, diags };
        };
        let ty = d.schema().ty();
        let config = config.decode(&ty, "configuration", &mut diags);
        if diags.has_errors() {
            return ServedValue { value: None, diags };
        }
        let data = self.data();
        let (state, more) = d.read(data.as_ref(), &config).await;
        diags.extend(more);
        let value = Some(RawValue::encode(&state, &ty, &mut diags));
        ServedValue { value, diags }
    }
}

impl ProviderServer {
    fn action(&self, type_name: &str, diags: &mut Diagnostics) -> Option<Arc<dyn DynAction>> {
        let a = self.actions.get(type_name).cloned();
        if a.is_none() {
            diags.error(
                "Unknown action type",
                format!("The drpair provider has no action {type_name:?}."),
            );
        }
        a
    }

    pub fn validate_action_config(&self, type_name: &str, config: &RawValue) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(a) = self.action(type_name, &mut diags) else {
            return diags;
        };
        let v = config.decode(&a.schema().ty(), "action configuration", &mut diags);
        if !diags.has_errors() {
            diags.extend(a.validate(&v));
        }
        diags
    }

    pub async fn plan_action(&self, type_name: &str, config: &RawValue) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(a) = self.action(type_name, &mut diags) else {
            return diags;
        };
        let v = config.decode(&a.schema().ty(), "action configuration", &mut diags);
        if !diags.has_errors() {
            let data = self.data();
            diags.extend(a.plan(data.as_ref(), &v).await);
        }
        diags
    }

    pub async fn invoke_action(
        &self,
        type_name: &str,
        config: &RawValue,
        progress: Progress,
    ) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(a) = self.action(type_name, &mut diags) else {
            return diags;
        };
        let v = config.decode(&a.schema().ty(), "action configuration", &mut diags);
        if !diags.has_errors() {
            let data = self.data();
            diags.extend(a.invoke(data.as_ref(), &v, progress).await);
        }
        diags
    }

    /// Calls a provider function with its msgpack arguments.
    pub fn call_function(&self, name: &str, args: &[RawValue]) -> Result<RawValue, FunctionError> {
        let Some(f) = self.functions.get(name) else {
            return Err(FunctionError {
                text: format!("The drpair provider has no function {name:?}"),
                argument: None,
            });
        };
        let sig = f.signature();
        let mut values = Vec::with_capacity(args.len());
        for (i, raw) in args.iter().enumerate() {
            let Some(param) = sig.parameters.get(i).or(sig.variadic.as_ref()) else {
                return Err(FunctionError {
                    text: format!(
                        "{name} takes {} arguments, got {}",
                        sig.parameters.len(),
                        args.len()
                    ),
                    argument: None,
                });
            };
            let mut diags = Diagnostics::new();
            let v = raw.decode(&param.ty, "function argument", &mut diags);
            if diags.has_errors() {
                return Err(FunctionError::argument(i, diags.to_string()));
            }
            if v.is_null() && !param.allow_null {
                return Err(FunctionError::argument(
                    i,
                    format!("{} must not be null", param.name),
                ));
            }
            if !v.is_wholly_known() && !param.allow_unknown {
                let mut diags = Diagnostics::new();
                return Ok(RawValue::encode(&Value::Unknown, &sig.returns, &mut diags));
            }
            values.push(v);
        }
        if values.len() < sig.parameters.len() {
            return Err(FunctionError {
                text: format!(
                    "{name} takes {} arguments, got {}",
                    sig.parameters.len(),
                    values.len()
                ),
                argument: None,
            });
        }
        let result = f.call(&values)?;
        let mut diags = Diagnostics::new();
        let raw = RawValue::encode(&result, &sig.returns, &mut diags);
        if diags.has_errors() {
            return Err(FunctionError {
                text: diags.to_string(),
                argument: None,
            });
        }
        Ok(raw)
    }
}

/// Drops object attributes the type does not know (removed in a newer
/// schema), recursively.
fn prune_to_type(j: &mut serde_json::Value, ty: &Type) {
    match (j, ty) {
        (serde_json::Value::Object(map), Type::Object(fields)) => {
            map.retain(|k, _| fields.contains_key(k));
            for (k, v) in map.iter_mut() {
                if let Some(t) = fields.get(k) {
                    prune_to_type(v, t);
                }
            }
        }
        (serde_json::Value::Array(items), Type::List(t) | Type::Set(t)) => {
            for v in items {
                prune_to_type(v, t);
            }
        }
        (serde_json::Value::Object(map), Type::Map(t)) => {
            for v in map.values_mut() {
                prune_to_type(v, t);
            }
        }
        _ => {}
    }
}
