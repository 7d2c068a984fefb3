//! The request space's facts, read strictly from `catalog/request-space.toml`: how each
//! global condition key may vary, what each ARN placeholder can stand for, and the keys
//! AWS derives from the resource. Each row carries its source (docs/exact.md).

use std::sync::OnceLock;

use serde::Deserialize;

const EMBEDDED: &str = include_str!("../../../../catalog/request-space.toml");

/// The data types the Service Authorization Reference and the IAM User Guide give keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum KeyType {
    /// A string.
    String,
    /// An ARN (compared as a string or by the ARN operators).
    #[serde(rename = "ARN")]
    Arn,
    /// `true` or `false`.
    Bool,
    /// A number.
    Numeric,
    /// A date.
    Date,
    /// An IPv4 or IPv6 address.
    IPAddress,
    /// Several strings.
    ArrayOfString,
    /// Several ARNs.
    ArrayOfARN,
}

impl KeyType {
    /// From the catalog's spelling; unknown types are strings.
    pub fn parse(text: &str) -> KeyType {
        match text {
            "ARN" => KeyType::Arn,
            "Bool" | "Boolean" => KeyType::Bool,
            "Numeric" => KeyType::Numeric,
            "Date" => KeyType::Date,
            "IPAddress" => KeyType::IPAddress,
            "ArrayOfString" => KeyType::ArrayOfString,
            "ArrayOfARN" => KeyType::ArrayOfARN,
            _ => KeyType::String,
        }
    }

    /// Whether a request may carry several values.
    pub fn multivalued(self) -> bool {
        matches!(self, KeyType::ArrayOfString | KeyType::ArrayOfARN)
    }
}

/// Whether a request carries a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// In every request context, as AWS documents.
    Always,
    /// In some requests only.
    Sometimes,
}

/// One global (`aws:`) key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalKey {
    /// As AWS spells it; `aws:PrincipalTag/*` stands for every tag key.
    pub key: String,
    /// Its data type.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// Whether every request carries it.
    pub presence: Presence,
    /// The page this comes from.
    #[cfg_attr(not(test), allow(dead_code, reason = "a citation: only its tests read it"))]
    pub source: String,
}

/// What one `${…}` placeholder of the catalog's ARN formats can stand for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    /// The placeholder's name (`Partition`).
    pub name: String,
    /// The service it applies to; empty for every service.
    pub service: String,
    /// A regular expression of every string it can be.
    pub pattern: String,
    /// The page this comes from.
    #[cfg_attr(not(test), allow(dead_code, reason = "a citation: only its tests read it"))]
    pub source: String,
}

/// A request key AWS derives from the resource: for `action`, the resource is `resource`
/// with `${key}` standing for the key's value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The action, `service:Name`.
    pub action: String,
    /// The key.
    pub key: String,
    /// The resource's format, with the key as a placeholder.
    pub resource: String,
    /// What the key's value can be.
    pub key_pattern: String,
    /// The page this comes from.
    #[cfg_attr(not(test), allow(dead_code, reason = "a citation: only its tests read it"))]
    pub source: String,
}

/// Every fact of the request space.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The global keys.
    #[serde(default)]
    pub global_key: Vec<GlobalKey>,
    /// The placeholders with a known grammar; any other stands for any non-empty string.
    #[serde(default)]
    pub placeholder: Vec<Placeholder>,
    /// Keys derived from the resource.
    #[serde(default)]
    pub link: Vec<Link>,
}

impl Facts {
    /// The facts embedded in the binary.
    pub fn embedded() -> &'static Facts {
        static FACTS: OnceLock<Facts> = OnceLock::new();
        FACTS.get_or_init(|| Facts::parse(EMBEDDED).expect("catalog/request-space.toml is checked by its tests"))
    }

    /// Reads and checks the facts: every pattern must compile.
    pub fn parse(text: &str) -> Result<Facts, FactsError> {
        let facts: Facts = toml::from_str(text)?;
        for p in &facts.placeholder {
            super::lang::Lang::new(&p.pattern)
                .map_err(|source| FactsError::Pattern { row: format!("placeholder {}", p.name), source })?;
        }
        for l in &facts.link {
            super::lang::Lang::new(&l.key_pattern)
                .map_err(|source| FactsError::Pattern { row: format!("link {} {}", l.action, l.key), source })?;
        }
        Ok(facts)
    }

    /// The row for a global key (tag keys by their prefix), case-insensitively.
    pub fn global(&self, key: &str) -> Option<&GlobalKey> {
        let key = key.to_ascii_lowercase();
        self.global_key.iter().find(|g| {
            let name = g.key.to_ascii_lowercase();
            match name.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => name == key,
            }
        })
    }

    /// The grammar of a placeholder for a service, if the facts give one; a row named
    /// `*Suffix` covers every placeholder ending in the suffix (exact names first).
    pub fn placeholder(&self, service: &str, name: &str) -> Option<&Placeholder> {
        let exact = |p: &Placeholder| p.name == name;
        let matches = |p: &Placeholder| exact(p) || p.name.strip_prefix('*').is_some_and(|s| name.ends_with(s));
        self.placeholder
            .iter()
            .filter(|p| matches(p) && (p.service == service || p.service.is_empty()))
            // The service's own row before a general one; an exact name before a suffix.
            .min_by_key(|p| (p.service.is_empty(), !exact(p)))
    }

    /// The key AWS derives from the resource of `action`, if any.
    pub fn link(&self, action: &str) -> Option<&Link> {
        self.link.iter().find(|l| l.action.eq_ignore_ascii_case(action))
    }
}

/// Why catalog/request-space.toml was refused.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// Not TOML of the expected shape (unknown fields included).
    #[error("catalog/request-space.toml: {0}")]
    Toml(#[from] toml::de::Error),
    /// A row's pattern does not compile.
    #[error("catalog/request-space.toml: {row}: {source}")]
    Pattern {
        /// The row, by kind and name.
        row: String,
        /// What the automaton library said.
        source: super::Unmodelled,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_facts_parse_and_every_row_has_a_source() {
        let f = Facts::embedded();
        assert!(!f.global_key.is_empty() && !f.placeholder.is_empty() && !f.link.is_empty());
        let sources = f
            .global_key
            .iter()
            .map(|g| &g.source)
            .chain(f.placeholder.iter().map(|p| &p.source))
            .chain(f.link.iter().map(|l| &l.source));
        for s in sources {
            assert!(s.len() > 10, "a row without its source: {s:?}");
        }
    }

    #[test]
    fn tag_keys_are_found_by_prefix() {
        let f = Facts::embedded();
        assert!(f.global("aws:ResourceTag/sigs.k8s.io/role").is_some());
        assert_eq!(f.global("AWS:SECURETRANSPORT").map(|g| g.key_type), Some(KeyType::Bool));
        assert!(f.global("aws:NoSuchKey").is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = Facts::parse(
            "[[link]]\naction = \"a\"\nkey = \"k\"\nresource = \"r\"\nkey_pattern = \"x\"\nsource = \"s\"\nextra = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("extra"), "{err}");
    }
}
