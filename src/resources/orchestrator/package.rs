//! The Lambda package: the Python module in `lambda/orchestrator/` (compiled into the provider
//! with `include_str!`), zipped at apply time. The Lambda runtime brings boto3, so there is
//! nothing to build, and operators can read exactly what runs.

use std::sync::OnceLock;

use super::sha256::code_sha256;
use super::zip::write_stored;

pub const RUNTIME: &str = "python3.12";
pub const ORCHESTRATOR_HANDLER: &str = "drpair_failover.orchestrator.handler";
pub const NOTIFIER_HANDLER: &str = "drpair_failover.notifier.handler";

macro_rules! sources {
    ($($file:literal),* $(,)?) => {
        [$((
            concat!("drpair_failover/", $file),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lambda/orchestrator/drpair_failover/", $file)),
        )),*]
    };
}

/// Every file of the module, by its path inside the package.
pub const SOURCES: [(&str, &str); 8] = sources!(
    "__init__.py",
    "aws.py",
    "config.py",
    "notifier.py",
    "orchestrator.py",
    "signals.py",
    "state.py",
    "steps.py",
);

/// The zipped module and Lambda's hash of it.
pub struct Package {
    pub zip: Vec<u8>,
    /// Base64 of the zip's SHA-256, as Lambda reports a function's `CodeSha256`.
    pub code_sha256: String,
}

/// The package, built once per process (the bytes never change within a build).
pub fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        let entries: Vec<(&str, &[u8])> = SOURCES
            .iter()
            .map(|(path, text)| (*path, text.as_bytes()))
            .collect();
        let zip = write_stored(&entries).expect("the Lambda package fits a plain zip");
        Package {
            code_sha256: code_sha256(&zip),
            zip,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    #[test]
    fn every_module_file_is_shipped() {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lambda/orchestrator/drpair_failover");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".py"))
            .map(|name| format!("drpair_failover/{name}"))
            .collect();
        let shipped: BTreeSet<String> = SOURCES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(shipped, on_disk, "add new modules to SOURCES");
    }

    #[test]
    fn the_package_is_stable() {
        let p = package();
        assert_eq!(p.code_sha256, code_sha256(&p.zip));
        assert_eq!(p.code_sha256.len(), 44);
        for (_, text) in SOURCES {
            assert!(!text.is_empty());
        }
        // The handlers name modules of the package.
        for handler in [ORCHESTRATOR_HANDLER, NOTIFIER_HANDLER] {
            let module = handler.rsplit_once('.').unwrap().0.replace('.', "/") + ".py";
            assert!(SOURCES.iter().any(|(p, _)| *p == module), "{module}");
        }
    }
}
