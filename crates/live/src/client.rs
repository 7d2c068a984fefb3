//! Sending one AWS API call over real HTTP: serialized by the service's wire protocol
//! (`iamc_core::wire`), signed with SigV4, and answered with the status, body and the
//! service error code, if any. Used for scenario calls, fixtures, and the gate's lookups.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as SdkCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use iamc_core::aws::errors::service_error;
use iamc_core::wire::{self, ServiceModel, WireError};

/// AWS credentials: the administrator's, or those AssumeRole returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The service's answer to one call.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// The error code and message when the call failed.
    pub error: Option<(String, String)>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why one call got no answer (an answer with an error code is an [`Answer`], not this).
/// Each message carries its cause's words, so the caller's one line says everything.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The wire model has no such service.
    #[error("no wire model for service `{0}`")]
    UnknownService(String),
    /// The input does not fit the operation's wire model.
    #[error("failed to serialize {operation}: {source}")]
    Serialize {
        operation: String,
        #[source]
        source: Box<WireError>,
    },
    /// The request could not be built or signed.
    #[error("failed to sign the request: {0}")]
    Sign(#[source] BoxError),
    /// No connection, or the connection failed before the answer's head came.
    #[error("failed to reach {url}: {}", error_chain(source))]
    Connect {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The connection failed while the answer's body was read.
    #[error("failed to reach {url}: {source}")]
    Body {
        url: String,
        #[source]
        source: hyper::Error,
    },
    /// No answer within the client's timeout.
    #[error("no answer from {url} within {seconds} s")]
    Timeout { url: String, seconds: u64 },
}

/// A cause of any error type, kept as the source of the error it explains.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP client for AWS-style endpoints: plain HTTP for emulators and the gate, HTTPS
/// for AWS itself.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Default for Client {
    fn default() -> Self {
        Client::new(Duration::from_secs(60))
    }
}

impl Client {
    pub fn new(timeout: Duration) -> Client {
        // Without the system's root certificates only plain HTTP works; that is all an
        // emulator needs, and a call to AWS then fails with a clear connection error.
        let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(b) => b.https_or_http().enable_http1().build(),
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
                .https_or_http()
                .enable_http1()
                .build(),
        };
        Client { http: HyperClient::builder(TokioExecutor::new()).build(connector), timeout }
    }

    /// Serializes, signs and sends one call. `extra_headers` are added after signing
    /// (unsigned), such as the scenario id the gate records.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        url: &str,
        region: &str,
        creds: &Credentials,
        service: &str,
        operation: &str,
        input: &Value,
        extra_headers: &[(&str, &str)],
    ) -> Result<Answer, ExecError> {
        let model = wire::models().service(service).ok_or_else(|| ExecError::UnknownService(service.to_string()))?;
        let input = wire::with_idempotency_tokens(model, operation, input, &mut idempotency_token);
        let req = wire::serialize(model, operation, &input)
            .map_err(|e| ExecError::Serialize { operation: operation.to_string(), source: Box::new(e) })?;
        let body = Bytes::from(req.body);
        let mut builder = http::Request::builder().method("POST").uri(url);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let host = url
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        builder = builder.header("host", host);
        let mut request = builder.body(body.clone()).map_err(|e| ExecError::Sign(e.into()))?;
        sign_request(&mut request, model, region, creds, &body)?;
        for (k, v) in extra_headers {
            if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(*k), http::HeaderValue::try_from(*v)) {
                request.headers_mut().insert(name, value);
            }
        }
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(body));
        let response = tokio::time::timeout(self.timeout, self.http.request(request))
            .await
            .map_err(|_| ExecError::Timeout { url: url.to_string(), seconds: self.timeout.as_secs() })?
            .map_err(|source| ExecError::Connect { url: url.to_string(), source })?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let bytes = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| ExecError::Timeout { url: url.to_string(), seconds: self.timeout.as_secs() })?
            .map_err(|source| ExecError::Body { url: url.to_string(), source })?
            .to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let error = service_error(model.protocol, status, &headers, &body);
        Ok(Answer { status, body, headers, error })
    }
}

/// An error with its sources, joined by `: ` (the SDK's `Display` says only the top one).
/// A source whose words the message already carries (this project's errors say their
/// cause) is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Signs in place with SigV4 (headers), as the AWS SDKs do.
pub fn sign_request(
    request: &mut http::Request<Bytes>,
    model: &ServiceModel,
    region: &str,
    creds: &Credentials,
    body: &[u8],
) -> Result<(), ExecError> {
    let identity = SdkCredentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "iam-conformance",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(&model.signing_name)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ExecError::Sign(e.into()))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| ExecError::Sign(e.into()))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| ExecError::Sign(e.into()))?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// The access key, region and service of a SigV4 `Authorization` header.
pub fn credential_scope(authorization: &str) -> Option<(String, String, String)> {
    let credential = authorization.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let mut parts = credential.split('/');
    let key = parts.next()?.to_string();
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    Some((key, region, service))
}

/// A version-4-shaped UUID from the clock and a counter: unique per process, which is
/// all an idempotency token needs here.
fn idempotency_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h: u128 = nanos ^ (u128::from(n) << 64) ^ u128::from(std::process::id());
    // Mix (splitmix-style) so consecutive tokens differ in every digit.
    h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    h ^= h >> 67;
    let hex = format!("{h:032x}");
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_tokens_are_uuid_shaped_and_fresh() {
        let (a, b) = (idempotency_token(), idempotency_token());
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4', "version 4: {a}");
        assert_ne!(a, b, "each call gets its own token");
    }

    #[test]
    fn reads_the_credential_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(credential_scope(h), Some(("AKIDEXAMPLE".into(), "us-west-2".into(), "ec2".into())));
        assert_eq!(credential_scope("Basic xyz"), None);
    }
}
