//! Registry-layout documentation generated from the schemas themselves
//! (`terraform-provider-drpair docs`), so the docs can never drift from what
//! the provider accepts: a test compares the checked-in `docs/` with this.

use crate::framework::function::Signature;
use crate::framework::provider::ProviderServer;
use crate::framework::schema::{AttrKind, Attribute, Block, Nesting, Schema};
use crate::framework::Type;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Every page, keyed by its path under `docs/`.
pub fn render(server: &ProviderServer, examples: &Path) -> BTreeMap<PathBuf, String> {
    let schemas = server.schemas();
    let mut pages = BTreeMap::new();
    pages.insert(
        PathBuf::from("index.md"),
        index_page(&schemas.provider, examples),
    );
    for (name, schema) in &schemas.resources {
        let page = object_page(
            name,
            "Resource",
            schema,
            &examples.join("resources").join(name),
        );
        pages.insert(PathBuf::from(format!("resources/{}.md", short(name))), page);
    }
    for (name, schema) in &schemas.data_sources {
        let page = object_page(
            name,
            "Data Source",
            schema,
            &examples.join("data-sources").join(name),
        );
        pages.insert(
            PathBuf::from(format!("data-sources/{}.md", short(name))),
            page,
        );
    }
    for (name, schema) in &schemas.actions {
        let page = object_page(name, "Action", schema, &examples.join("actions").join(name));
        pages.insert(PathBuf::from(format!("actions/{}.md", short(name))), page);
    }
    for (name, sig) in &schemas.functions {
        let page = function_page(name, sig, &examples.join("functions").join(name));
        pages.insert(PathBuf::from(format!("functions/{name}.md")), page);
    }
    pages
}

/// `drpair_network` → `network`, as the registry names resource pages.
fn short(type_name: &str) -> &str {
    type_name.strip_prefix("drpair_").unwrap_or(type_name)
}

fn example(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn front_matter(title: &str, description: &str) -> String {
    let first = description
        .split(". ")
        .next()
        .unwrap_or(description)
        .trim_end_matches('.');
    format!("---\npage_title: \"{title}\"\nsubcategory: \"\"\ndescription: |-\n  {first}.\n---\n\n")
}

fn index_page(provider: &Schema, examples: &Path) -> String {
    let mut out = front_matter("drpair Provider", &provider.block.description);
    let _ = writeln!(out, "# drpair Provider\n\n{}\n", provider.block.description);
    if let Some(ex) = example(&examples.join("provider"), "provider.tf") {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```\n", ex);
    }
    out.push_str(&schema_section(&provider.block));
    out
}

fn object_page(name: &str, kind: &str, schema: &Schema, examples: &Path) -> String {
    let mut out = front_matter(
        &format!("{name} {kind} - drpair"),
        &schema.block.description,
    );
    let _ = writeln!(out, "# {name} ({kind})\n\n{}\n", schema.block.description);
    if let Some(ex) = example(examples, "main.tf") {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```\n", ex);
    }
    out.push_str(&schema_section(&schema.block));
    if let Some(ex) = example(examples, "import.sh") {
        let _ = writeln!(
            out,
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}```",
            ex
        );
    }
    out
}

fn function_page(name: &str, sig: &Signature, examples: &Path) -> String {
    let mut out = front_matter(&format!("{name} function - drpair"), &sig.summary);
    let _ = writeln!(out, "# function: {name}\n\n{}\n", sig.description);
    if let Some(ex) = example(examples, "function.tf") {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}```\n", ex);
    }
    let params: Vec<String> = sig
        .parameters
        .iter()
        .map(|p| format!("{} {}", p.name, type_name(&p.ty).to_lowercase()))
        .collect();
    let _ = writeln!(
        out,
        "## Signature\n\n```text\n{name}({}) {}\n```\n\n## Arguments\n",
        params.join(", "),
        type_name(&sig.returns).to_lowercase()
    );
    for (i, p) in sig.parameters.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. `{}` ({}) {}",
            i + 1,
            p.name,
            type_name(&p.ty),
            p.description
        );
    }
    out
}

fn schema_section(block: &Block) -> String {
    let mut out = String::from("## Schema\n\n");
    let mut nested = Vec::new();
    out.push_str(&attribute_groups(&block.attributes, "", &mut nested));
    while let Some((anchor, attr)) = nested.first().cloned() {
        nested.remove(0);
        let Some((_, inner)) = attr.nested_attributes() else {
            continue;
        };
        let _ = writeln!(
            out,
            "<a id=\"nestedatt--{anchor}\"></a>\n### Nested Schema for `{}`\n",
            anchor.replace("--", ".")
        );
        out.push_str(&attribute_groups(inner, &anchor, &mut nested));
    }
    out
}

fn attribute_groups(
    attrs: &[Attribute],
    parent: &str,
    nested: &mut Vec<(String, Attribute)>,
) -> String {
    let mut out = String::new();
    type Group = (&'static str, fn(&Attribute) -> bool);
    let groups: [Group; 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.is_computed_only()),
    ];
    for (title, member) in groups {
        let mut items: Vec<&Attribute> = attrs.iter().filter(|a| member(a)).collect();
        if items.is_empty() {
            continue;
        }
        items.sort_by(|a, b| a.name.cmp(&b.name));
        let level = if parent.is_empty() {
            "###"
        } else {
            "Optional:"
        };
        if parent.is_empty() {
            let _ = writeln!(out, "{level} {title}\n");
        } else {
            let _ = writeln!(out, "{title}:\n");
        }
        for a in items {
            let anchor = if parent.is_empty() {
                a.name.clone()
            } else {
                format!("{parent}--{}", a.name)
            };
            let ty = attribute_type(a);
            let link = if a.nested_attributes().is_some() {
                nested.push((anchor.clone(), a.clone()));
                format!(" (see [below for nested schema](#nestedatt--{anchor}))")
            } else {
                String::new()
            };
            let sensitive = if a.sensitive { ", Sensitive" } else { "" };
            let _ = writeln!(
                out,
                "- `{}` ({ty}{sensitive}) {}{link}",
                a.name, a.description
            );
        }
        out.push('\n');
    }
    out
}

fn attribute_type(a: &Attribute) -> String {
    match &a.kind {
        AttrKind::Plain(t) => type_name(t),
        AttrKind::Nested { nesting, .. } => match nesting {
            Nesting::Single | Nesting::Group => "Attributes".into(),
            Nesting::List => "Attributes List".into(),
            Nesting::Set => "Attributes Set".into(),
            Nesting::Map => "Attributes Map".into(),
        },
    }
}

fn type_name(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_name(e)),
        Type::Set(e) => format!("Set of {}", type_name(e)),
        Type::Map(e) => format!("Map of {}", type_name(e)),
        Type::Tuple(_) => "Tuple".into(),
        Type::Object(_) => "Object".into(),
    }
}

/// Writes the pages under `out`, removing pages no schema produces any more.
pub fn write(pages: &BTreeMap<PathBuf, String>, out: &Path) -> std::io::Result<()> {
    for sub in ["resources", "data-sources", "actions", "functions"] {
        let dir = out.join(sub);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let rel = Path::new(sub).join(e.file_name());
                if !pages.contains_key(&rel) {
                    std::fs::remove_file(e.path())?;
                }
            }
        }
    }
    for (rel, text) in pages {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Differences between the generated pages and those under `dir`.
pub fn check(pages: &BTreeMap<PathBuf, String>, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (rel, text) in pages {
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(on_disk) if &on_disk == text => {}
            Ok(_) => problems.push(format!("{} is out of date", rel.display())),
            Err(_) => problems.push(format!("{} is missing", rel.display())),
        }
    }
    for sub in ["resources", "data-sources", "actions", "functions"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                let rel = Path::new(sub).join(e.file_name());
                if !pages.contains_key(&rel) {
                    problems.push(format!(
                        "{} documents nothing the provider has",
                        rel.display()
                    ));
                }
            }
        }
    }
    problems
}
