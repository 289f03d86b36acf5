//! The launch template of a region (`{id}`): one definition, applied identically in both
//! regions but for the regional AMI, instance profile and security group. A change makes a new
//! version and sets it as the default; [`TemplateData`] is what is compared.

use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData, Tag, VolumeType,
};
use aws_sdk_ec2::Client;

use crate::aws::error::api_error;
use crate::aws::tags::{from_ec2_tags, tag_specification, to_ec2_tags, Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx, Role};

use super::{part, tag_changes, ObservedTemplate, TierSpec};

const TEMPLATE: &str = "launch template";
const ROOT_VOLUME_TYPE: &str = "gp3";
/// Two hops, so containers on the instance still reach the metadata service with IMDSv2.
const HOP_LIMIT: i32 = 2;
const DEFAULT_ROOT_DEVICE: &str = "/dev/xvda";

/// A launch template version's settings, normalized for comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateData {
    pub image_id: String,
    pub instance_type: String,
    /// Base64, as the API carries it.
    pub user_data: Option<String>,
    pub instance_profile: String,
    pub security_group_ids: Vec<String>,
    pub http_tokens: String,
    pub http_endpoint: String,
    pub hop_limit: i32,
    pub root_device_name: String,
    pub root_volume_size: i32,
    pub root_volume_type: String,
    pub encrypted: bool,
    pub delete_on_termination: bool,
    pub instance_tags: Tags,
    pub volume_tags: Tags,
}

impl TemplateData {
    /// What the spec asks for in one region, given the AMI and the regional ids.
    pub fn desired(
        spec: &TierSpec,
        role: Role,
        image_id: &str,
        root_device_name: &str,
        instance_profile: &str,
        security_group_id: &str,
    ) -> Self {
        use base64::Engine as _;
        let tags = spec.tags(role, part::INSTANCE);
        TemplateData {
            image_id: image_id.to_owned(),
            instance_type: spec.instance_type.clone(),
            user_data: spec
                .user_data
                .as_ref()
                .filter(|u| !u.is_empty())
                .map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
            instance_profile: instance_profile.to_owned(),
            security_group_ids: vec![security_group_id.to_owned()],
            http_tokens: "required".into(),
            http_endpoint: "enabled".into(),
            hop_limit: HOP_LIMIT,
            root_device_name: root_device_name.to_owned(),
            root_volume_size: spec.root_volume_size,
            root_volume_type: ROOT_VOLUME_TYPE.into(),
            encrypted: true,
            delete_on_termination: true,
            instance_tags: tags.clone(),
            volume_tags: tags,
        }
    }

    pub fn from_response(d: &ResponseLaunchTemplateData) -> Self {
        let root = d.block_device_mappings().first();
        let ebs = root.and_then(|m| m.ebs());
        let tags_of = |kind: ResourceType| {
            d.tag_specifications()
                .iter()
                .find(|s| s.resource_type() == Some(&kind))
                .map(|s| from_ec2_tags(s.tags()))
                .unwrap_or_default()
        };
        let metadata = d.metadata_options();
        let mut security_group_ids = d.security_group_ids().to_vec();
        security_group_ids.sort();
        TemplateData {
            image_id: d.image_id().unwrap_or_default().to_owned(),
            instance_type: d
                .instance_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            user_data: d.user_data().filter(|u| !u.is_empty()).map(str::to_owned),
            instance_profile: d
                .iam_instance_profile()
                .and_then(|p| p.name())
                .unwrap_or_default()
                .to_owned(),
            security_group_ids,
            http_tokens: metadata
                .and_then(|m| m.http_tokens())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|| "optional".into()),
            http_endpoint: metadata
                .and_then(|m| m.http_endpoint())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|| "enabled".into()),
            hop_limit: metadata
                .and_then(|m| m.http_put_response_hop_limit())
                .unwrap_or(1),
            root_device_name: root
                .and_then(|m| m.device_name())
                .unwrap_or_default()
                .to_owned(),
            root_volume_size: ebs.and_then(|e| e.volume_size()).unwrap_or_default(),
            root_volume_type: ebs
                .and_then(|e| e.volume_type())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            encrypted: ebs.and_then(|e| e.encrypted()).unwrap_or(false),
            delete_on_termination: ebs.and_then(|e| e.delete_on_termination()).unwrap_or(false),
            instance_tags: tags_of(ResourceType::Instance),
            volume_tags: tags_of(ResourceType::Volume),
        }
    }

    /// The user data as the user wrote it.
    pub fn user_data_text(&self) -> Option<String> {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(self.user_data.as_deref()?)
            .ok()?;
        String::from_utf8(raw).ok()
    }

    fn to_request(&self) -> RequestLaunchTemplateData {
        RequestLaunchTemplateData::builder()
            .image_id(&self.image_id)
            .instance_type(InstanceType::from(self.instance_type.as_str()))
            .set_user_data(self.user_data.clone())
            .iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(&self.instance_profile)
                    .build(),
            )
            .set_security_group_ids(Some(self.security_group_ids.clone()))
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_tokens(LaunchTemplateHttpTokensState::from(
                        self.http_tokens.as_str(),
                    ))
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                        self.http_endpoint.as_str(),
                    ))
                    .http_put_response_hop_limit(self.hop_limit)
                    .build(),
            )
            .block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(&self.root_device_name)
                    .ebs(
                        LaunchTemplateEbsBlockDeviceRequest::builder()
                            .encrypted(self.encrypted)
                            .delete_on_termination(self.delete_on_termination)
                            .volume_size(self.root_volume_size)
                            .volume_type(VolumeType::from(self.root_volume_type.as_str()))
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(
                LaunchTemplateTagSpecificationRequest::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(to_ec2_tags(&self.instance_tags)))
                    .build(),
            )
            .tag_specifications(
                LaunchTemplateTagSpecificationRequest::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(to_ec2_tags(&self.volume_tags)))
                    .build(),
            )
            .build()
    }
}

/// The AMI to launch in this region and its root device: the given AMI, or the one the public
/// SSM parameter names in this region.
pub(super) async fn resolve_image(
    rc: &RegionCtx,
    spec: &TierSpec,
    fallback_root_device: Option<&str>,
) -> Result<(String, String), AwsError> {
    let image_id = match &spec.region(rc.role).ami_id {
        Some(id) => id.clone(),
        None => {
            let out = rc
                .ssm()
                .get_parameter()
                .name(&spec.image_parameter)
                .send()
                .await
                .map_err(api_error(
                    "reading",
                    "SSM parameter",
                    &spec.image_parameter,
                    &rc.region,
                ))?;
            out.parameter
                .and_then(|p| p.value)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    AwsError::api(
                        "reading",
                        "SSM parameter",
                        &spec.image_parameter,
                        &rc.region,
                        None,
                        "the parameter has no value",
                    )
                })?
        }
    };
    let images = rc
        .ec2()
        .describe_images()
        .image_ids(&image_id)
        .send()
        .await
        .map_err(api_error("describing", "AMI", &image_id, &rc.region));
    let root = match images {
        Ok(out) => out
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .map(str::to_owned),
        // A deregistered AMI still names the template's image; keep its root device.
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let root = root
        .or_else(|| fallback_root_device.map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_ROOT_DEVICE.to_owned());
    Ok((image_id, root))
}

/// The region's template by name and its default version, if the tier owns one.
pub(super) async fn find(rc: &RegionCtx, name: &str) -> Result<Option<ObservedTemplate>, AwsError> {
    let ec2 = rc.ec2();
    let out = ec2
        .describe_launch_templates()
        .filters(
            Filter::builder()
                .name("launch-template-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .map_err(api_error("describing", TEMPLATE, name, &rc.region))?;
    let Some(lt) = out
        .launch_templates()
        .iter()
        .find(|t| t.launch_template_name() == Some(name))
    else {
        return Ok(None);
    };
    let id = lt.launch_template_id().unwrap_or_default().to_owned();
    let tags = from_ec2_tags(lt.tags());
    let versions = ec2
        .describe_launch_template_versions()
        .launch_template_id(&id)
        .versions("$Default")
        .send()
        .await
        .map_err(api_error(
            "describing the default version of",
            TEMPLATE,
            &id,
            &rc.region,
        ));
    let versions = match versions {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let version = versions.launch_template_versions().first();
    let data = version
        .and_then(|v| v.launch_template_data())
        .map(TemplateData::from_response)
        .unwrap_or_default();
    let default_version = version
        .and_then(|v| v.version_number())
        .or(lt.default_version_number())
        .unwrap_or(1);
    Ok(Some(ObservedTemplate {
        id,
        default_version,
        data,
        tags,
    }))
}

/// The template exists with `desired` as its default version; returns its id and that version.
pub(super) async fn ensure(
    rc: &RegionCtx,
    spec: &TierSpec,
    existing: Option<&ObservedTemplate>,
    desired: &TemplateData,
) -> Result<(String, i64), AwsError> {
    let ec2 = rc.ec2();
    let name = &spec.id;
    let tags = spec.tags(rc.role, part::LAUNCH_TEMPLATE);
    let Some(lt) = existing else {
        let out = ec2
            .create_launch_template()
            .launch_template_name(name)
            .version_description(format!("drpair {}", spec.owner()))
            .launch_template_data(desired.to_request())
            .tag_specifications(tag_specification(ResourceType::LaunchTemplate, &tags))
            .send()
            .await
            .map_err(api_error("creating", TEMPLATE, name, &rc.region))?;
        let lt = out
            .launch_template
            .unwrap_or_else(|| aws_sdk_ec2::types::LaunchTemplate::builder().build());
        let id = lt.launch_template_id().unwrap_or_default().to_owned();
        tracing::info!("created launch template {name} ({id}) in {}", rc.region);
        return Ok((id, lt.default_version_number().unwrap_or(1)));
    };
    if lt.tags.get(OWNER_TAG) != Some(&spec.owner()) {
        return Err(AwsError::api(
            "adopting",
            TEMPLATE,
            name,
            &rc.region,
            None,
            format!("it exists but is not tagged {OWNER_TAG} = {}; delete or rename it, or choose another `name`.", spec.owner()),
        ));
    }
    retag(rc, &ec2, &lt.id, &lt.tags, &tags).await?;
    if &lt.data == desired {
        return Ok((lt.id.clone(), lt.default_version));
    }
    let out = ec2
        .create_launch_template_version()
        .launch_template_id(&lt.id)
        .version_description(format!("drpair {}", spec.owner()))
        .launch_template_data(desired.to_request())
        .send()
        .await
        .map_err(api_error(
            "creating a version of",
            TEMPLATE,
            &lt.id,
            &rc.region,
        ))?;
    let version = out
        .launch_template_version()
        .and_then(|v| v.version_number())
        .ok_or_else(|| {
            AwsError::api(
                "creating a version of",
                TEMPLATE,
                &lt.id,
                &rc.region,
                None,
                "no version number in the answer",
            )
        })?;
    ec2.modify_launch_template()
        .launch_template_id(&lt.id)
        .default_version(version.to_string())
        .send()
        .await
        .map_err(api_error(
            "setting the default version of",
            TEMPLATE,
            &lt.id,
            &rc.region,
        ))?;
    tracing::info!(
        "launch template {name} ({}) in {} is now at version {version}",
        lt.id,
        rc.region
    );
    Ok((lt.id.clone(), version))
}

async fn retag(
    rc: &RegionCtx,
    ec2: &Client,
    id: &str,
    actual: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(actual, desired);
    if !set.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(to_ec2_tags(&set)))
            .send()
            .await
            .map_err(api_error("tagging", TEMPLATE, id, &rc.region))?;
    }
    if !remove.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(
                remove
                    .iter()
                    .map(|k| Tag::builder().key(k).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(api_error("untagging", TEMPLATE, id, &rc.region))?;
    }
    Ok(())
}

/// Deletes the template (all versions) if the tier owns it.
pub(super) async fn destroy(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(lt) = find(rc, name).await? else {
        return Ok(());
    };
    if lt.tags.get(OWNER_TAG).map(String::as_str) != Some(owner) {
        return Ok(());
    }
    let result = rc
        .ec2()
        .delete_launch_template()
        .launch_template_id(&lt.id)
        .send()
        .await
        .map_err(api_error("deleting", TEMPLATE, &lt.id, &rc.region));
    match result {
        Ok(_) => {
            tracing::info!(
                "deleted launch template {name} ({}) in {}",
                lt.id,
                rc.region
            );
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_data_is_hardened() {
        let spec = TierSpec {
            id: "web-test".into(),
            environment: "test".into(),
            instance_type: "t3.medium".into(),
            root_volume_size: 20,
            user_data: Some("#!/bin/sh\necho hi\n".into()),
            ..TierSpec::default()
        };
        let d = TemplateData::desired(
            &spec,
            Role::Primary,
            "ami-1",
            "/dev/xvda",
            "web-test-us-east-1",
            "sg-1",
        );
        assert_eq!(d.http_tokens, "required");
        assert!(d.encrypted);
        assert_eq!(d.root_volume_type, "gp3");
        assert_eq!(d.user_data_text().as_deref(), Some("#!/bin/sh\necho hi\n"));
        assert_eq!(
            d.instance_tags.get("DR-Role").map(String::as_str),
            Some("primary")
        );
        let request = d.to_request();
        assert_eq!(request.image_id(), Some("ami-1"));
        assert_eq!(request.tag_specifications().len(), 2);
    }
}
