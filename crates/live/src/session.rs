//! The administrator's session of a run (where its calls go, with which credentials) and
//! reading a deployed role back from IAM: shared by the run, the gate server (which reads
//! a role back when it first sees it), the sweep and the oracles, so none of them imports
//! the others for it.

use std::sync::Arc;

use serde_json::Value;

use crate::client::{Answer, Client, Credentials, ExecError};
use iamc_core::policy::{Policy, PolicyError, PolicyKind, parse_policy};
use iamc_core::template::TemplateError;
use iamc_core::wire::{self, WireError};

/// How many pages [`Session::admin_pages`] follows at most (as the sweep): a listing
/// longer than this is cut there rather than followed for ever.
const MAX_PAGES: usize = 1000;

/// A call with the administrator's credentials that did not succeed ([`Session::admin_ok`]).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call got no answer.
    #[error("{0}")]
    Exec(#[from] ExecError),
    /// The service answered with an error.
    #[error("{service}:{operation} answered {status} {code}: {message}")]
    Answered {
        /// The service called (`iam`, `cloudformation`, …).
        service: String,
        /// The operation called.
        operation: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The error code of the answer.
        code: String,
        /// The error message of the answer.
        message: String,
    },
    /// The service answered successfully, but the wire model cannot read the answer.
    #[error("{service}:{operation} answered what its wire model cannot read: {source}")]
    Unreadable {
        /// The service called.
        service: String,
        /// The operation called.
        operation: String,
        /// What the wire model could not read (boxed: the error stays small).
        #[source]
        source: Box<WireError>,
    },
}

/// Why the role and its policies could not be read back from IAM ([`read_back`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadBackError {
    /// An IAM call failed.
    #[error("read back IAM: {0}")]
    Call(#[source] CallError),
    /// GetRole answered without the role's ARN.
    #[error("read back IAM: GetRole returned no Arn")]
    NoArn,
    /// A managed policy's version came without its document.
    #[error("read back IAM: GetPolicyVersion of {arn} returned no Document")]
    NoDocument {
        /// The managed policy's ARN.
        arn: String,
    },
    /// An inline policy came without its document.
    #[error("read back IAM: GetRolePolicy {name} returned no PolicyDocument")]
    NoInlineDocument {
        /// The inline policy's name.
        name: String,
    },
    /// A policy document is not JSON.
    #[error("read back IAM: {0}")]
    Json(#[source] TemplateError),
    /// A policy document is not an IAM policy the tool reads.
    #[error("read back IAM: {0}")]
    Policy(#[source] PolicyError),
}

/// Where a run's calls go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// One URL serves every service: an emulator, or the gate in front of one.
    One(String),
    /// AWS's own regional endpoints (IAM's is global), over HTTPS.
    Aws,
}

/// The calls of a run: the administrator's credentials and where to send them.
pub struct Session {
    /// The signing HTTP client every call goes through.
    pub client: Client,
    /// Where the calls go.
    pub endpoints: Endpoints,
    /// The run's region.
    pub region: String,
    /// The administrator's credentials.
    pub admin: Credentials,
}

impl Session {
    /// The URL `service`'s calls go to.
    pub fn url(&self, service: &str) -> String {
        match &self.endpoints {
            Endpoints::One(url) => url.clone(),
            Endpoints::Aws => iamc_core::aws::endpoint(service, &self.region),
        }
    }

    /// The region a call to `service` is signed for (IAM's global endpoint signs as us-east-1).
    pub fn signing_region(&self, service: &str) -> String {
        match (&self.endpoints, service) {
            (Endpoints::Aws, "iam") => "us-east-1".to_string(),
            _ => self.region.clone(),
        }
    }

    /// One call with explicit credentials.
    pub async fn call(
        &self,
        creds: &Credentials,
        service: &str,
        operation: &str,
        input: &Value,
        extra_headers: &[(&str, &str)],
    ) -> Result<Answer, ExecError> {
        let (url, region) = (self.url(service), self.signing_region(service));
        self.client.call(&url, &region, creds, service, operation, input, extra_headers).await
    }

    /// One call with the administrator's credentials, whatever it answered.
    pub async fn admin(&self, service: &str, operation: &str, input: Value) -> Result<Answer, ExecError> {
        self.call(&self.admin, service, operation, &input, &[]).await
    }

    /// One call with the administrator's credentials; its body, or why it failed.
    pub async fn admin_ok(&self, service: &str, operation: &str, input: Value) -> Result<String, CallError> {
        let a = self.admin(service, operation, input).await?;
        match a.error {
            None => Ok(a.body),
            Some((code, message)) => Err(CallError::Answered {
                service: service.to_string(),
                operation: operation.to_string(),
                status: a.status,
                code,
                message,
            }),
        }
    }

    /// One call with the administrator's credentials; its answer's output as the wire
    /// model reads it (`wire::output`: API member names, typed scalars), or why not.
    pub async fn admin_read(&self, service: &str, operation: &str, input: Value) -> Result<Value, CallError> {
        let a = self.admin(service, operation, input).await?;
        match a.error {
            None => read_output(service, operation, a.status, &a.body),
            Some((code, message)) => Err(CallError::Answered {
                service: service.to_string(),
                operation: operation.to_string(),
                status: a.status,
                code,
                message,
            }),
        }
    }

    /// Every page of a listing with the administrator's credentials, each read as
    /// [`Session::admin_read`] reads one, following the operation's botocore paginator
    /// (`wire::next_input`: IAM's `IsTruncated`/`Marker`, `NextToken`); one page when the
    /// operation has none. At most [`MAX_PAGES`] pages.
    pub async fn admin_pages(&self, service: &str, operation: &str, input: Value) -> Result<Vec<Value>, CallError> {
        let paginator = wire::models().service(service).and_then(|m| m.paginator(operation));
        let mut input = input;
        let mut pages = Vec::new();
        for _ in 0..MAX_PAGES {
            let output = self.admin_read(service, operation, input.clone()).await?;
            let next = paginator.and_then(|p| wire::next_input(p, &input, &output));
            pages.push(output);
            match next {
                Some(n) => input = n,
                None => break,
            }
        }
        Ok(pages)
    }
}

/// A successful answer's output, read by the wire model; the error names the call.
pub fn read_output(service: &str, operation: &str, status: u16, body: &str) -> Result<Value, CallError> {
    wire::output(service, operation, status, body).map_err(|source| CallError::Unreadable {
        service: service.to_string(),
        operation: operation.to_string(),
        source: Box::new(source),
    })
}

/// The strings at `pointer` (a JSON pointer, `/AttachedPolicies`) of each page, then
/// `field` of each item when given (`PolicyArn`), in page order: a listing's results.
pub fn listed(pages: &[Value], pointer: &str, field: Option<&str>) -> Vec<String> {
    pages
        .iter()
        .filter_map(|page| page.pointer(pointer).and_then(Value::as_array))
        .flatten()
        .filter_map(|item| match field {
            Some(f) => item.get(f),
            None => Some(item),
        })
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The string at `pointer` (a JSON pointer, `/Role/Arn`) of a read output.
pub fn text_at(output: &Value, pointer: &str) -> Option<String> {
    output.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

/// Reads back the role and every policy attached to it, as the emulator's IAM holds them.
pub async fn read_back(session: &Session, role_name: &str) -> Result<(String, Vec<Policy>), ReadBackError> {
    let read = |operation: &'static str, input: Value| async move {
        session.admin_read("iam", operation, input).await.map_err(ReadBackError::Call)
    };
    let pages = |operation: &'static str, input: Value| async move {
        session.admin_pages("iam", operation, input).await.map_err(ReadBackError::Call)
    };
    let role = read("GetRole", serde_json::json!({"RoleName": role_name})).await?;
    let role_arn = text_at(&role, "/Role/Arn").ok_or(ReadBackError::NoArn)?;
    let mut policies = Vec::new();
    let attached = pages("ListAttachedRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    for arn in listed(&attached, "/AttachedPolicies", Some("PolicyArn")) {
        let policy = read("GetPolicy", serde_json::json!({"PolicyArn": arn})).await?;
        let version = text_at(&policy, "/Policy/DefaultVersionId").unwrap_or_else(|| "v1".into());
        let name = text_at(&policy, "/Policy/PolicyName").unwrap_or_else(|| arn.clone());
        let body = read("GetPolicyVersion", serde_json::json!({"PolicyArn": arn, "VersionId": version})).await?;
        let document =
            text_at(&body, "/PolicyVersion/Document").ok_or_else(|| ReadBackError::NoDocument { arn: arn.clone() })?;
        policies.push(parse_document(&name, &format!("emulator IAM {arn}"), &document)?);
    }
    let inline = pages("ListRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    for name in listed(&inline, "/PolicyNames", None) {
        let body = read("GetRolePolicy", serde_json::json!({"RoleName": role_name, "PolicyName": name})).await?;
        let document =
            text_at(&body, "/PolicyDocument").ok_or_else(|| ReadBackError::NoInlineDocument { name: name.clone() })?;
        policies.push(parse_document(&name, &format!("emulator IAM role/{role_name} inline {name}"), &document)?);
    }
    Ok((role_arn, policies))
}

/// IAM returns documents URL-encoded (RFC 3986); some emulators return them plain.
fn parse_document(name: &str, label: &str, document: &str) -> Result<Policy, ReadBackError> {
    let text = if document.trim_start().starts_with('{') { document.to_string() } else { percent_decode(document) };
    let node = iamc_core::template::json::parse(&text, &Arc::from(label)).map_err(ReadBackError::Json)?;
    parse_policy(name, &node, PolicyKind::Identity).map_err(ReadBackError::Policy)
}

/// Decodes `%XX` escapes and `+` (as a space) in an IAM document.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured answer of `operation` (the wire model's fixtures: moto's answers).
    fn captured(operation: &str) -> String {
        let fixtures: Value =
            serde_json::from_str(include_str!("../../core/src/wire/fixtures/responses.json")).unwrap();
        let case = fixtures["cases"].as_array().unwrap().iter().find(|c| c["operation"] == operation).unwrap();
        case["body"].as_str().unwrap().to_string()
    }

    fn read(operation: &str) -> Value {
        read_output("iam", operation, 200, &captured(operation)).unwrap()
    }

    #[test]
    fn read_back_answers_are_read_by_the_model_as_the_text_search_read_them() {
        let old = |operation: &str, name: &str| iamc_core::xml::first(&captured(operation), name);
        assert_eq!(text_at(&read("GetRole"), "/Role/Arn"), old("GetRole", "Arn"));
        assert_eq!(
            listed(&[read("ListAttachedRolePolicies")], "/AttachedPolicies", Some("PolicyArn")),
            iamc_core::xml::texts(&captured("ListAttachedRolePolicies"), "PolicyArn")
        );
        assert_eq!(text_at(&read("GetPolicy"), "/Policy/DefaultVersionId"), old("GetPolicy", "DefaultVersionId"));
        assert_eq!(text_at(&read("GetPolicy"), "/Policy/PolicyName"), old("GetPolicy", "PolicyName"));
        assert_eq!(
            listed(&[read("ListRolePolicies")], "/PolicyNames", None),
            ["inline & more"],
            "entities decoded, as the text search did"
        );
        assert_eq!(
            listed(&[read("ListGroupsForUser")], "/Groups", Some("GroupName")),
            iamc_core::xml::texts(&captured("ListGroupsForUser"), "GroupName")
        );
        assert!(listed(&[read("ListUserPolicies")], "/PolicyNames", None).is_empty());
        // Documents: GetPolicyVersion's as moto gives it (plain), GetRolePolicy's URL-encoded.
        let managed = text_at(&read("GetPolicyVersion"), "/PolicyVersion/Document").unwrap();
        assert_eq!(Some(&managed), old("GetPolicyVersion", "Document").as_ref());
        let inline = text_at(&read("GetRolePolicy"), "/PolicyDocument").unwrap();
        assert!(inline.starts_with("%7B"), "{inline}");
        for document in [managed, inline] {
            let policy = parse_document("p", "test", &document).unwrap();
            assert_eq!(format!("{policy:?}").matches("ec2:DescribeTags").count(), 1, "{policy:?}");
        }
        // A member the answer lacks is absent: read_back's typed errors follow.
        let no_arn =
            read_output("iam", "GetRole", 200, &captured("GetRole").replace("<Arn>", "<X>").replace("</Arn>", "</X>"));
        assert_eq!(text_at(&no_arn.unwrap(), "/Role/Arn"), None);
    }

    #[test]
    fn listed_joins_the_pages_in_order() {
        let pages = [
            serde_json::json!({"PolicyNames": ["a", "b"], "IsTruncated": true, "Marker": "m"}),
            serde_json::json!({"IsTruncated": false}),
            serde_json::json!({"PolicyNames": ["c"]}),
        ];
        assert_eq!(listed(&pages, "/PolicyNames", None), ["a", "b", "c"]);
        let e = read_output("iam", "GetRole", 200, "<nope").unwrap_err();
        assert!(e.to_string().starts_with("iam:GetRole answered what its wire model cannot read"), "{e}");
    }
}
