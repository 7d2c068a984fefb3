//! The gate's derivation, fed each scenario's own input, must derive the checks the
//! scenario declares (compared by action and resource). A disagreement means one of
//! the two models of AWS is wrong, so both are kept honest by this test.

use std::collections::BTreeSet;
use std::path::PathBuf;

use iamc_core::catalog::Catalog;
use iamc_core::gate::derive::{Directory, LaunchTemplateInfo, TemplateUnread, derive};
use iamc_core::load::ProfileSource;
use iamc_core::scenario::substitute;
use iamc_core::template::render::Target;
use iamc_live::files::load;

/// What the seed profile's fixtures create: CAPA names each instance profile after its
/// role; the node launch template carries the nodes profile; no service-linked role
/// exists before the scenarios that create them.
struct SeedDirectory;

impl Directory for SeedDirectory {
    fn instance_profile_role(&self, profile: &str) -> Option<String> {
        let path_name = profile.split(":instance-profile/").nth(1).unwrap_or(profile);
        // The stack's own profile wraps the bootstrapper role; CAPA's share their role's name.
        let role = if path_name == "DKPBootstrapInstanceProfile" { "dkp-bootstrapper-role" } else { path_name };
        Some(format!("arn:aws:iam::000000000000:role/{role}"))
    }
    fn launch_template(&self, id: &str, _version: &str) -> Result<LaunchTemplateInfo, TemplateUnread> {
        Ok(LaunchTemplateInfo {
            id: id.to_string(),
            image_id: Some("ami-0a1b2c3d4e5f60010".into()),
            key_name: Some("default".into()),
            security_group_ids: vec!["sg-0a1b2c3d4e5f6000c".into()],
            instance_profile: Some("nodes.cluster-api-provider-aws.sigs.k8s.io".into()),
            tag_specifications: ["instance", "volume"]
                .iter()
                .map(|t| {
                    let tags = [
                        ("Name", "dkp-demo-md-0"),
                        ("sigs.k8s.io/cluster-api-provider-aws/cluster/dkp-demo", "owned"),
                        ("sigs.k8s.io/cluster-api-provider-aws/role", "node"),
                        ("kubernetes.io/cluster/dkp-demo", "owned"),
                    ];
                    (t.to_string(), tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
                })
                .collect(),
        })
    }
    fn service_linked_role_exists(&self, _: &str) -> bool {
        true
    }
    fn association_resources(&self, id: &str) -> Vec<String> {
        let ec2 = "arn:aws:ec2:us-west-2:000000000000";
        match id {
            "rtbassoc-0a1b2c3d4e5f6000a" => vec![
                format!("{ec2}:route-table/rtb-0a1b2c3d4e5f60008"),
                format!("{ec2}:subnet/subnet-0a1b2c3d4e5f60002"),
            ],
            "rtbassoc-0a1b2c3d4e5f6001a" => vec![
                format!("{ec2}:route-table/rtb-0a1b2c3d4e5f60009"),
                format!("{ec2}:subnet/subnet-0a1b2c3d4e5f60003"),
            ],
            "eipassoc-0a1b2c3d4e5f60006" => vec![format!("{ec2}:elastic-ip/eipalloc-0a1b2c3d4e5f60005")],
            _ => Vec::new(),
        }
    }
    fn instance_group(&self, _: &str) -> Option<String> {
        Some("dkp-demo-md-0".into())
    }
    fn auto_scaling_group_arn(&self, name: &str) -> Option<String> {
        Some(format!(
            "arn:aws:autoscaling:us-west-2:000000000000:autoScalingGroup:6d4f5a1e-2b3c-4d5e-8f90-123456789abc:autoScalingGroupName/{name}"
        ))
    }
}

/// Disagreements understood and accepted, with why. The test fails when this list and
/// the real disagreements differ in either direction, so it shrinks as the gate learns.
const KNOWN_GAPS: &[(&str, &str)] = &[];

#[test]
fn derivation_agrees_with_declared_checks() {
    let target = Target::default();
    let loaded = load(&ProfileSource::Dir(PathBuf::from("scenarios/dkp-bootstrapper")), None, &target).unwrap();
    let mut report = Vec::new();
    for s in &loaded.profile.scenarios {
        // Synthetic probes are no requests: there is nothing for the gate to read.
        if s.synthetic.is_some() {
            continue;
        }
        let input: serde_json::Value = serde_json::from_str(&substitute(&s.input.to_string(), &target)).unwrap();
        let derivation = derive(Catalog::embedded(), &s.service, &s.operation, &input, &target, &SeedDirectory);
        assert!(derivation.unresolved.is_empty(), "{}: {:?}", s.id, derivation.unresolved);
        let derived: BTreeSet<(String, String)> =
            derivation.checks.into_iter().map(|d| (d.action, d.resource)).collect();
        let declared: BTreeSet<(String, String)> =
            s.checks.iter().map(|c| (c.action.clone(), c.rendered(&target).0)).collect();
        // Service-linked-role creation depends on the account's state, not the request.
        let declared: BTreeSet<_> = declared
            .into_iter()
            .filter(|(a, _)| a != "iam:CreateServiceLinkedRole" || s.operation == "CreateServiceLinkedRole")
            .collect();
        let known = KNOWN_GAPS.iter().any(|(id, _)| *id == s.id);
        if (derived != declared) != known {
            report.push(format!(
                "{} ({}:{}){}\n  only derived:  {:?}\n  only declared: {:?}",
                s.id,
                s.service,
                s.operation,
                if known { " is listed in KNOWN_GAPS but now agrees: remove it" } else { "" },
                derived.difference(&declared).collect::<Vec<_>>(),
                declared.difference(&derived).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        report.is_empty(),
        "{} scenario(s) disagree (or agree though listed as known gaps):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// For every check both sides name, the condition keys the gate derives from the request
/// must be those the scenario declares (keys compare case-insensitively, as IAM does).
#[test]
fn derived_contexts_agree_with_declared_ones() {
    use std::collections::BTreeMap;
    let target = Target::default();
    let loaded = load(&ProfileSource::Dir(PathBuf::from("scenarios/dkp-bootstrapper")), None, &target).unwrap();
    let normalize = |ctx: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
        ctx.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.iter().map(|x| substitute(x, &target)).collect())).collect()
    };
    let mut report = Vec::new();
    for s in loaded.profile.scenarios.iter().filter(|s| s.synthetic.is_none()) {
        let input: serde_json::Value = serde_json::from_str(&substitute(&s.input.to_string(), &target)).unwrap();
        let derivation = derive(Catalog::embedded(), &s.service, &s.operation, &input, &target, &SeedDirectory);
        assert!(derivation.unresolved.is_empty(), "{}: {:?}", s.id, derivation.unresolved);
        let derived = derivation.checks;
        for c in &s.checks {
            let (resource, _) = c.rendered(&target);
            let Some(d) = derived.iter().find(|d| d.action == c.action && d.resource == resource) else { continue };
            let (want, got) = (normalize(&c.context), normalize(&d.context));
            if want != got {
                report
                    .push(format!("{} {} on {}\n  declared: {want:?}\n  derived:  {got:?}", s.id, c.action, resource));
            }
        }
    }
    assert!(report.is_empty(), "{} check(s) with other condition keys:\n{}", report.len(), report.join("\n"));
}
