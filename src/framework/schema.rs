//! Schemas: the shape of a provider, resource or data source configuration,
//! plus the plan behaviour the framework applies generically (defaults,
//! requires-replace, computed values that stay stable across updates).

use super::types::Type;
use super::value::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Schema {
    /// The state schema version stored by Terraform (`schema_version`).
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Self {
        Self { version, block }
    }

    pub fn ty(&self) -> Type {
        self.block.ty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

impl Block {
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            ..Self::default()
        }
    }

    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }

    /// The object type Terraform derives from this block.
    pub fn ty(&self) -> Type {
        let mut fields: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty()))
            .collect();
        for b in &self.blocks {
            fields.insert(b.type_name.clone(), b.ty());
        }
        Type::Object(fields)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    Group,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn ty(&self) -> Type {
        let inner = self.block.ty();
        match self.nesting {
            Nesting::Single | Nesting::Group => inner,
            Nesting::List => Type::List(Box::new(inner)),
            Nesting::Set => Type::Set(Box::new(inner)),
            Nesting::Map => Type::Map(Box::new(inner)),
        }
    }
}

#[derive(Clone, Debug)]
pub enum AttrKind {
    Plain(Type),
    Nested {
        nesting: Nesting,
        attributes: Vec<Attribute>,
    },
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub kind: AttrKind,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// A change of this attribute cannot be applied in place.
    pub requires_replace: bool,
    /// A computed value that an in-place update may change: planned unknown
    /// on update. Other computed values keep their prior value on update.
    pub volatile: bool,
    /// The value planned when an optional+computed attribute is null in config.
    pub default: Option<Value>,
}

impl Attribute {
    fn base(name: &str, kind: AttrKind) -> Self {
        Self {
            name: name.to_string(),
            kind,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            requires_replace: false,
            volatile: false,
            default: None,
        }
    }

    pub fn new(name: &str, ty: Type) -> Self {
        Self::base(name, AttrKind::Plain(ty))
    }

    pub fn string(name: &str) -> Self {
        Self::new(name, Type::String)
    }

    pub fn number(name: &str) -> Self {
        Self::new(name, Type::Number)
    }

    pub fn bool(name: &str) -> Self {
        Self::new(name, Type::Bool)
    }

    pub fn string_list(name: &str) -> Self {
        Self::new(name, Type::List(Box::new(Type::String)))
    }

    pub fn string_map(name: &str) -> Self {
        Self::new(name, Type::Map(Box::new(Type::String)))
    }

    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        Self::base(
            name,
            AttrKind::Nested {
                nesting,
                attributes,
            },
        )
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Optional with a default: the attribute is optional+computed and the
    /// default is planned when the configuration leaves it out.
    pub fn default(mut self, v: Value) -> Self {
        self.optional = true;
        self.computed = true;
        self.default = Some(v);
        self
    }

    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }

    pub fn ty(&self) -> Type {
        match &self.kind {
            AttrKind::Plain(t) => t.clone(),
            AttrKind::Nested {
                nesting,
                attributes,
            } => {
                let obj = Type::Object(
                    attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.ty()))
                        .collect(),
                );
                match nesting {
                    Nesting::Single | Nesting::Group => obj,
                    Nesting::List => Type::List(Box::new(obj)),
                    Nesting::Set => Type::Set(Box::new(obj)),
                    Nesting::Map => Type::Map(Box::new(obj)),
                }
            }
        }
    }

    /// Computed only: the configuration can never set it.
    pub fn is_computed_only(&self) -> bool {
        self.computed && !self.optional && !self.required
    }

    pub fn nested_attributes(&self) -> Option<(Nesting, &[Attribute])> {
        match &self.kind {
            AttrKind::Nested {
                nesting,
                attributes,
            } => Some((*nesting, attributes)),
            AttrKind::Plain(_) => None,
        }
    }
}
