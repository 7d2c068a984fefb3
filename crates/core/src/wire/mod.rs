//! The AWS wire protocols of the services this project calls: turns (service, operation,
//! JSON input) into the HTTP request body AWS expects ([`serialize`]), a request body
//! back into (operation, JSON input) ([`parse_request`]), and an answer into its JSON
//! output ([`parse_response`]); pages with botocore's paginators ([`next_input`]) and
//! reads answers with its waiters ([`waiter_state`], [`search`]).
//!
//! Inputs are JSON objects keyed by API member names (PascalCase, as in the API
//! reference), e.g. EC2 `CreateSubnet`:
//! `{"VpcId": "vpc-1", "TagSpecifications": [{"ResourceType": "subnet", "Tags": [...]}]}`.
//! The serialization follows botocore's serializers (`botocore/serialize.py`), driven by
//! the service models in `catalog/wire-model.json` (see `catalog/WIRE-MODEL.md`):
//!
//! - `ec2`: form body `Action=..&Version=..`, members by queryName, else locationName
//!   with its first letter capitalised, else member name; lists `Name.1`, `Name.2`
//!   (an empty list sends nothing); structures `Name.Sub`.
//! - `query` (IAM, STS, Auto Scaling, classic ELB, CloudFormation): members by
//!   locationName, else member name; lists `Name.member.N` (the element's locationName
//!   instead of `member` when it has one; `Name.N` when flattened; an empty list sends
//!   `Name=`); maps `Name.entry.N.key` / `Name.entry.N.value`.
//! - `json` (Secrets Manager, Resource Groups Tagging): the input as a JSON body, with
//!   `x-amz-target: <targetPrefix>.<Operation>`.
//!
//! Value conventions (the same in both directions): booleans are JSON booleans
//! (`true`/`false` on the form wire); integer and long members are JSON integers;
//! float and double members are JSON numbers (the wire carries the number's decimal
//! text); timestamps are passed through as given (a string, or a number's text);
//! blobs are given as text and sent base64-encoded, as botocore does with `str` input.
//! Requests are always `POST /`. Idempotency tokens are not generated.
//!
//! Outputs follow botocore's parsed answers, keyed by API member names
//! (`{"Stacks": [{"StackName": "s", "StackStatus": "CREATE_COMPLETE", ...}]}`): see
//! [`parse_response`]; the fixtures in `wire/fixtures/` hold moto's answers with
//! botocore's reading of each (`catalog/capture_responses.py`).

mod model;
mod paginate;
mod parse;
mod response;
mod search;
mod serialize;
mod waiter;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_response;

pub use model::{
    Acceptor, AcceptorState, Matcher, Paginator, Protocol, ServiceModel, Source, Waiter, WireModels, models,
};
pub use paginate::next_input;
pub use parse::parse_request;
pub use response::{answer_text, output, parse_response};
pub use search::{Expression, search};
pub use serialize::{WireRequest, serialize, with_idempotency_tokens};
pub use waiter::{WaitState, waiter_state};

/// A request that does not fit the model, or a body that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// An operation the model does not have for the service.
    #[error("service {service} has no operation {operation} in the wire model")]
    UnknownOperation {
        /// The service prefix.
        service: String,
        /// The operation asked for.
        operation: String,
    },
    /// `path` names the offending member, e.g. `TagSpecifications[0].Tagz`.
    #[error("`{path}`: {shape} has no member {member} (members: {known})")]
    UnknownMember {
        /// Where the member is in the input.
        path: String,
        /// The member's name.
        member: String,
        /// The structure shape it was given to.
        shape: String,
        /// The shape's members, comma-separated.
        known: String,
    },
    /// A value of the wrong JSON type for its shape.
    #[error("`{path}`: expected {expected} for {shape}, found {found}")]
    Type {
        /// Where the value is in the input.
        path: String,
        /// The type the shape takes.
        expected: String,
        /// The shape's name.
        shape: String,
        /// The type given.
        found: String,
    },
    /// A form parameter (ec2/query request body) that does not fit the model.
    #[error("parameter `{key}`: {reason}")]
    Parameter {
        /// The parameter's name.
        key: String,
        /// Why it does not fit.
        reason: String,
    },
    /// A request that cannot be read at all: a bad encoding, body, header or `Action`.
    #[error("malformed: {0}")]
    Malformed(String),
    /// An answer that does not fit the output shape; `path` names the member
    /// (`Reservations[0].Instances[1].LaunchTime`).
    #[error("answer member `{path}`: {reason}")]
    Response {
        /// Where the member is in the answer.
        path: String,
        /// Why it does not fit.
        reason: String,
    },
    /// [`parse_response`] reads successful answers only.
    #[error("HTTP {status} is an error answer (its code and message: aws::errors::service_error)")]
    NotSuccess {
        /// The answer's HTTP status.
        status: u16,
    },
    /// The model keeps no output shapes for the operation (it is not in the extraction's
    /// read operations: `catalog/wire_model.py`).
    #[error("the wire model does not read answers of {service}:{operation}")]
    NotRead {
        /// The service prefix.
        service: String,
        /// The operation.
        operation: String,
    },
}

/// Percent-encodes per the SigV4 rules: `A-Z a-z 0-9 - _ . ~` stay as they are, every
/// other byte of the UTF-8 encoding becomes `%XX` (uppercase hex); a space is `%20`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` component: `%XX` and `+` (space).
pub(crate) fn url_decode(s: &str) -> Result<String, WireError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(WireError::Malformed(format!("bad percent-escape in {s:?}"))),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| WireError::Malformed(format!("{s:?} does not decode to UTF-8")))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4), as botocore sends blobs.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict standard base64 with padding; `None` if `s` is not canonical base64.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, chunk) in b.chunks(4).enumerate() {
        let last = ci == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { B64.iter().position(|&x| x == c)? as u32 };
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Canonical: the bits dropped by the padding must be zero.
        if (pad == 1 && bytes[2] != 0) || (pad == 2 && (bytes[1] != 0 || bytes[2] != 0)) {
            return None;
        }
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// A JSON value's kind, for error messages.
pub(crate) fn kind(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Child paths for error messages: `A`, `A.B`, `A[0]`, `A["key"]`.
pub(crate) fn path_member(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_string() } else { format!("{path}.{member}") }
}

pub(crate) fn path_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub(crate) fn path_key(path: &str, key: &str) -> String {
    format!("{path}[{}]", serde_json::Value::from(key))
}

pub(crate) fn show_path(path: &str) -> String {
    if path.is_empty() { "(input)".to_string() } else { path.to_string() }
}
