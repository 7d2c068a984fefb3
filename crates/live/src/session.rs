//! The administrator's session of a run (where its calls go, with which credentials) and
//! reading a deployed role back from IAM: shared by the run, the gate server (which reads
//! a role back when it first sees it), the sweep and the oracles, so none of them imports
//! the others for it.

use std::sync::Arc;

use serde_json::Value;

use crate::client::{Answer, Client, Credentials, ExecError};
use iamc_core::policy::{Policy, PolicyError, PolicyKind, parse_policy};
use iamc_core::template::TemplateError;

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
}

/// Reads back the role and every policy attached to it, as the emulator's IAM holds them.
pub async fn read_back(session: &Session, role_name: &str) -> Result<(String, Vec<Policy>), ReadBackError> {
    let iam = |operation: &'static str, input: Value| async move {
        session.admin_ok("iam", operation, input).await.map_err(ReadBackError::Call)
    };
    let role = iam("GetRole", serde_json::json!({"RoleName": role_name})).await?;
    let role_arn = iamc_core::xml::first(&role, "Arn").ok_or(ReadBackError::NoArn)?;
    let mut policies = Vec::new();
    let attached = iam("ListAttachedRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    for arn in iamc_core::xml::texts(&attached, "PolicyArn") {
        let policy = iam("GetPolicy", serde_json::json!({"PolicyArn": arn})).await?;
        let version = iamc_core::xml::first(&policy, "DefaultVersionId").unwrap_or_else(|| "v1".into());
        let name = iamc_core::xml::first(&policy, "PolicyName").unwrap_or_else(|| arn.clone());
        let body = iam("GetPolicyVersion", serde_json::json!({"PolicyArn": arn, "VersionId": version})).await?;
        let document =
            iamc_core::xml::first(&body, "Document").ok_or_else(|| ReadBackError::NoDocument { arn: arn.clone() })?;
        policies.push(parse_document(&name, &format!("emulator IAM {arn}"), &document)?);
    }
    let inline = iam("ListRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    for name in iamc_core::xml::texts(&inline, "member") {
        let body = iam("GetRolePolicy", serde_json::json!({"RoleName": role_name, "PolicyName": name})).await?;
        let document = iamc_core::xml::first(&body, "PolicyDocument")
            .ok_or_else(|| ReadBackError::NoInlineDocument { name: name.clone() })?;
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
