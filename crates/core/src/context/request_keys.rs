//! Service condition keys whose values AWS takes from the request's own parameters
//! (`ec2:InstanceType` of `ec2:RunInstances` is the call's `InstanceType`), read from the
//! call's input: a scenario's `input` statically, the request's parameters in the gate.
//! The facts are data, each with its source: `catalog/request-keys.toml`.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::Catalog;
use crate::template::render::Target;

const EMBEDDED: &str = include_str!("../../../../catalog/request-keys.toml");

/// One key and where its value is in the call's input.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestKey {
    /// The IAM action whose check carries the key (`ec2:RunInstances`).
    pub action: String,
    /// The key, as the Service Authorization Reference spells it.
    pub key: String,
    /// The resource type of the check it is on; empty for every check of the action.
    pub resource_type: String,
    /// The member path in the input: `A.B` nested, `A[]` each element of a list.
    pub input: String,
    /// The value's form: `{}` is the member's value, `${Partition}`, `${Region}` and
    /// `${Account}` the target's.
    pub value: String,
    /// The page this comes from.
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    key: Vec<RequestKey>,
}

/// Every request key of the data file.
pub fn all() -> &'static [RequestKey] {
    static KEYS: OnceLock<Vec<RequestKey>> = OnceLock::new();
    KEYS.get_or_init(|| parse(EMBEDDED).expect("catalog/request-keys.toml is checked by its tests"))
}

/// Reads the data file strictly.
pub fn parse(text: &str) -> Result<Vec<RequestKey>, RequestKeysError> {
    Ok(toml::from_str::<File>(text)?.key)
}

/// Why catalog/request-keys.toml was refused: not TOML of the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("catalog/request-keys.toml: {0}")]
pub struct RequestKeysError(#[from] toml::de::Error);

/// The key's values for a check of `action` on `resource`, read from the call's `input`:
/// `Some(values)` when the data file covers the key for the check's resource type and the
/// input holds the member, `Some(empty)` when it covers it and the input lacks the member
/// (the request then lacks the key), `None` when the file does not cover it.
pub fn values(
    catalog: &Catalog,
    target: &Target,
    action: &str,
    resource: &str,
    key: &str,
    input: &Value,
) -> Option<(Vec<String>, &'static str)> {
    let types: Vec<String> = catalog.action(action).map(|a| catalog.classify(&a, resource)).unwrap_or_default();
    let row = all().iter().find(|k| {
        k.action.eq_ignore_ascii_case(action)
            && k.key.eq_ignore_ascii_case(key)
            && (k.resource_type.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(&k.resource_type)))
    })?;
    let found: Vec<String> = member(input, &row.input).into_iter().map(|v| form(&row.value, &v, target)).collect();
    Some((found, row.source.as_str()))
}

/// The values at `path` in `input` (strings, numbers and booleans as text).
fn member(input: &Value, path: &str) -> Vec<String> {
    let mut at: Vec<&Value> = vec![input];
    for part in path.split('.') {
        let (name, each) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        at = at
            .into_iter()
            .filter_map(|v| v.get(name))
            .flat_map(|v| match (each, v) {
                (true, Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                _ => vec![v],
            })
            .collect();
    }
    at.into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .collect()
}

fn form(template: &str, value: &str, target: &Target) -> String {
    template
        .replace("${Partition}", &target.partition)
        .replace("${Region}", &target.region)
        .replace("${Account}", &target.account_id)
        .replace("{}", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses_and_every_row_names_its_source_and_a_catalog_key() {
        let catalog = Catalog::embedded();
        assert!(!all().is_empty());
        for k in all() {
            assert!(k.source.len() > 20, "{k:?}");
            let a = catalog.action(&k.action).unwrap_or_else(|| panic!("{} is in the catalog", k.action));
            let listed = a.action.condition_keys.iter().chain(a.action.resources.iter().flat_map(|r| {
                r.condition_keys.iter().chain(
                    catalog.resource_type(a.service, &r.resource_type).into_iter().flat_map(|t| &t.condition_keys),
                )
            }));
            let mut listed = listed;
            assert!(listed.any(|l| l.eq_ignore_ascii_case(&k.key)), "the SAR lists {} for {}", k.key, k.action);
        }
    }

    #[test]
    fn members_are_read_nested_and_per_element() {
        let input = serde_json::json!({"A": "x", "B": {"C": 5}, "L": [{"N": "a"}, {"N": "b"}], "F": true});
        assert_eq!(member(&input, "A"), ["x"]);
        assert_eq!(member(&input, "B.C"), ["5"]);
        assert_eq!(member(&input, "L[].N"), ["a", "b"]);
        assert_eq!(member(&input, "F"), ["true"]);
        assert!(member(&input, "Missing").is_empty());
        let t = Target::default();
        assert_eq!(
            form("arn:${Partition}:ec2:${Region}:${Account}:subnet/{}", "subnet-1", &t),
            "arn:aws:ec2:us-west-2:000000000000:subnet/subnet-1"
        );
    }
}
