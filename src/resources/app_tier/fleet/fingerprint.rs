//! The launch template fingerprint: a stable hash of what a launch template makes instances
//! from, leaving out what must differ between regions (ids, the regional AMI, the instance
//! profile's regional name and the `DR-Role` tag). Equal fingerprints in both regions mean the
//! templates are identical in every other field.

use crate::aws::tags::{Tags, DR_ROLE_TAG};

use super::TemplateData;

/// FNV-1a, 64 bits: stable across builds and platforms (unlike std's hasher), which is what a
/// value kept in Terraform state needs. Not for security.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

fn region_neutral(tags: &Tags) -> String {
    tags.iter()
        .filter(|(k, _)| k.as_str() != DR_ROLE_TAG)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The fields that must be identical in both regions, by name, in a fixed order.
pub fn comparable_fields(d: &TemplateData) -> Vec<(&'static str, String)> {
    vec![
        ("instance_type", d.instance_type.clone()),
        ("user_data", d.user_data.clone().unwrap_or_default()),
        ("metadata_http_tokens", d.http_tokens.clone()),
        ("metadata_http_endpoint", d.http_endpoint.clone()),
        ("metadata_hop_limit", d.hop_limit.to_string()),
        ("root_device_name", d.root_device_name.clone()),
        ("root_volume_size", d.root_volume_size.to_string()),
        ("root_volume_type", d.root_volume_type.clone()),
        ("root_volume_encrypted", d.encrypted.to_string()),
        (
            "root_volume_delete_on_termination",
            d.delete_on_termination.to_string(),
        ),
        ("instance_tags", region_neutral(&d.instance_tags)),
        ("volume_tags", region_neutral(&d.volume_tags)),
    ]
}

/// `lt-` and 16 hex digits.
pub fn fingerprint(d: &TemplateData) -> String {
    let canonical: String = comparable_fields(d)
        .into_iter()
        .map(|(k, v)| format!("{k}\u{1f}{v}\u{1e}"))
        .collect();
    format!("lt-{:016x}", fnv1a64(canonical.as_bytes()))
}

/// The names of the fields in which two templates differ.
pub fn differences(a: &TemplateData, b: &TemplateData) -> Vec<&'static str> {
    comparable_fields(a)
        .into_iter()
        .zip(comparable_fields(b))
        .filter(|((_, x), (_, y))| x != y)
        .map(|((k, _), _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(region: &str, role: &str) -> TemplateData {
        let tags: Tags = [
            ("Environment".to_string(), "test".to_string()),
            ("DR-Role".to_string(), role.to_string()),
        ]
        .into();
        TemplateData {
            image_id: format!("ami-{region}"),
            instance_type: "t3.medium".into(),
            user_data: None,
            instance_profile: format!("web-test-{region}"),
            security_group_ids: vec![format!("sg-{region}")],
            http_tokens: "required".into(),
            http_endpoint: "enabled".into(),
            hop_limit: 2,
            root_device_name: "/dev/xvda".into(),
            root_volume_size: 20,
            root_volume_type: "gp3".into(),
            encrypted: true,
            delete_on_termination: true,
            instance_tags: tags.clone(),
            volume_tags: tags,
        }
    }

    #[test]
    fn regional_fields_do_not_count() {
        let a = data("us-east-1", "primary");
        let b = data("us-east-2", "dr");
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert!(differences(&a, &b).is_empty());
        assert!(fingerprint(&a).starts_with("lt-"));
        assert_eq!(fingerprint(&a).len(), 19);
    }

    #[test]
    fn a_different_instance_type_or_volume_differs() {
        let a = data("us-east-1", "primary");
        let mut b = data("us-east-2", "dr");
        b.instance_type = "t3.large".into();
        b.encrypted = false;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(
            differences(&a, &b),
            vec!["instance_type", "root_volume_encrypted"]
        );
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
