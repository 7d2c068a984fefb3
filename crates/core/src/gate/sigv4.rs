//! Verifying AWS Signature Version 4, as a service does before it authorizes: the
//! canonical request, the string to sign and the HMAC-SHA256 key chain, in the header
//! form (`Authorization: AWS4-HMAC-SHA256 Credential=…`) and the query form (presigned,
//! `X-Amz-Credential=…&X-Amz-Signature=…`). Pure: the caller passes the request, the
//! secret it knows for the key and the current time.
//!
//! The steps follow the IAM User Guide, "Create a signed AWS API request" (canonical
//! request, string to sign, signing key) and "Elements of an AWS API request signature";
//! the request time may be off by at most 15 minutes ("Signature expired", the Common
//! Errors page of each API reference, `RequestExpired`).

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::wire::url_encode;

/// How far the request's time may be from the gate's clock, in seconds (15 minutes).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// The parts of an HTTP request a signature covers.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path as it came on the wire (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The headers, as received.
    pub headers: &'a [(String, String)],
    /// The body, whose hash the signature covers.
    pub body: &'a [u8],
}

impl RequestParts<'_> {
    /// Every value of a header (names compare case-insensitively).
    pub fn header_values(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_string();
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(&name)).map(|(_, v)| v.as_str())
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// The query parameters, decoded (`+` is a space, as SigV4 canonicalization reads them).
    pub fn query_params(&self) -> Vec<(String, String)> {
        let Some(q) = self.query else { return Vec::new() };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

fn decode(s: &str) -> String {
    crate::wire::url_decode(s).unwrap_or_else(|_| s.to_string())
}

/// Where the signature was carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The `Authorization` header.
    Header,
    /// The query string (presigned).
    Query,
}

/// The credential scope: `KEY/YYYYMMDD/region/service/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The access key id.
    pub access_key: String,
    /// The date, `YYYYMMDD`.
    pub date: String,
    /// The region signed for.
    pub region: String,
    /// The signing name of the service signed for.
    pub service: String,
}

/// A SigV4 signature as the request carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Where it was carried.
    pub form: Form,
    /// The credential scope.
    pub scope: Scope,
    /// The names of the headers the signature covers, as carried.
    pub signed_headers: Vec<String>,
    /// The signature to verify, as carried.
    pub signature: String,
    /// `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// Presigned requests: `X-Amz-Expires`, in seconds.
    pub expires: Option<i64>,
    /// `X-Amz-Security-Token`, for session credentials.
    pub security_token: Option<String>,
}

/// Why a request is not authenticated; each maps to a service's error
/// (`gate::decide::auth_denial`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No signature at all.
    Missing,
    /// A signature that does not have SigV4's form.
    Incomplete(String),
    /// An access key the gate does not know.
    UnknownKey(String),
    /// A session token that is not the one issued with the key (or one where none belongs).
    InvalidToken,
    /// The signature does not match (wrong secret, changed request).
    BadSignature(String),
    /// The request's time is more than 15 minutes from the gate's clock, or a presigned
    /// request is past its `X-Amz-Expires`.
    Skewed(String),
    /// The session credentials are past their expiration.
    TokenExpired,
}

impl AuthError {
    /// The message the service gives.
    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "Request is missing Authentication Token".into(),
            AuthError::Incomplete(why) => format!("The request signature does not conform to AWS standards: {why}"),
            AuthError::UnknownKey(_) | AuthError::InvalidToken => {
                "The security token included in the request is invalid.".into()
            }
            AuthError::BadSignature(_) => "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            AuthError::Skewed(m) => m.clone(),
            AuthError::TokenExpired => "The security token included in the request is expired".into(),
        }
    }
}

/// Reads the signature of a request: `Ok(None)` when it carries none.
pub fn read(req: &RequestParts<'_>) -> Result<Option<Signature>, AuthError> {
    let mut auths = req.header_values("authorization");
    let header = auths.next();
    if auths.next().is_some() {
        return Err(AuthError::Incomplete("more than one Authorization header".into()));
    }
    let params = req.query_params();
    let q = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let query_signed = q("X-Amz-Signature").is_some() || q("X-Amz-Credential").is_some();
    match (header, query_signed) {
        (Some(_), true) => {
            Err(AuthError::Incomplete("signed both in the Authorization header and in the query".into()))
        }
        (None, false) => Ok(None),
        (Some(h), false) => read_header(req, h).map(Some),
        (None, true) => {
            let need = |name: &str| q(name).ok_or_else(|| AuthError::Incomplete(format!("no {name} in the query")));
            if need("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
                return Err(AuthError::Incomplete("X-Amz-Algorithm is not AWS4-HMAC-SHA256".into()));
            }
            let expires =
                need("X-Amz-Expires")?.parse::<i64>().ok().filter(|e| (0..=604_800).contains(e)).ok_or_else(|| {
                    AuthError::Incomplete("X-Amz-Expires is not a number of seconds up to 604800".into())
                })?;
            Ok(Some(Signature {
                form: Form::Query,
                scope: scope(&need("X-Amz-Credential")?)?,
                signed_headers: need("X-Amz-SignedHeaders")?.split(';').map(str::to_string).collect(),
                signature: need("X-Amz-Signature")?,
                amz_date: need("X-Amz-Date")?,
                expires: Some(expires),
                security_token: q("X-Amz-Security-Token"),
            }))
        }
    }
}

fn read_header(req: &RequestParts<'_>, header: &str) -> Result<Signature, AuthError> {
    let rest = header
        .trim()
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| AuthError::Incomplete("the Authorization header is not AWS4-HMAC-SHA256".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(AuthError::Incomplete(format!("unexpected `{k}` in the Authorization header"))),
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(AuthError::Incomplete(format!("`{k}` twice in the Authorization header")));
        }
    }
    let missing = |what: &str| AuthError::Incomplete(format!("the Authorization header has no {what}"));
    let mut dates = req.header_values("x-amz-date");
    let amz_date = dates.next().ok_or_else(|| AuthError::Incomplete("no X-Amz-Date header".into()))?.trim().to_string();
    if dates.next().is_some() {
        return Err(AuthError::Incomplete("more than one X-Amz-Date header".into()));
    }
    let mut tokens = req.header_values("x-amz-security-token");
    let security_token = tokens.next().map(|t| t.trim().to_string());
    if tokens.next().is_some() {
        return Err(AuthError::Incomplete("more than one X-Amz-Security-Token header".into()));
    }
    Ok(Signature {
        form: Form::Header,
        scope: scope(&credential.ok_or_else(|| missing("Credential"))?)?,
        signed_headers: signed.ok_or_else(|| missing("SignedHeaders"))?.split(';').map(str::to_string).collect(),
        signature: signature.ok_or_else(|| missing("Signature"))?,
        amz_date,
        expires: None,
        security_token,
    })
}

fn scope(credential: &str) -> Result<Scope, AuthError> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"] if !key.is_empty() && date.len() == 8 => Ok(Scope {
            access_key: key.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
        }),
        _ => Err(AuthError::Incomplete(format!(
            "Credential `{credential}` is not KEY/YYYYMMDD/region/service/aws4_request"
        ))),
    }
}

/// Seconds since 1970 of an `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(crate::calendar::days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Seconds since 1970 of an RFC 3339 time as STS writes `Expiration`
/// (`2026-12-01T12:00:00Z`, fractions and offsets accepted).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = text.trim();
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    if t.len() < 19 || t.as_bytes()[4] != b'-' || t.as_bytes()[10] != b'T' && t.as_bytes()[10] != b't' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh = o.get(1..3)?.parse::<i64>().ok()?;
            let om = o.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    Some(crate::calendar::days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

fn amz_text(unix: i64) -> String {
    let (y, m, d) = crate::calendar::civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Checks the request's time against `now` (seconds since 1970): within 15 minutes, and
/// for a presigned request not past its expiry.
pub fn check_time(sig: &Signature, now: i64) -> Result<(), AuthError> {
    let t = parse_amz_date(&sig.amz_date)
        .ok_or_else(|| AuthError::Incomplete(format!("X-Amz-Date `{}` is not YYYYMMDDTHHMMSSZ", sig.amz_date)))?;
    if !sig.amz_date.starts_with(&sig.scope.date) {
        return Err(AuthError::BadSignature(format!(
            "the credential scope's date {} is not the date of X-Amz-Date {}",
            sig.scope.date, sig.amz_date
        )));
    }
    if t + MAX_SKEW_SECONDS < now && sig.expires.is_none() {
        return Err(AuthError::Skewed(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            sig.amz_date,
            amz_text(now - MAX_SKEW_SECONDS),
            amz_text(now)
        )));
    }
    if t - MAX_SKEW_SECONDS > now {
        return Err(AuthError::Skewed(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            sig.amz_date,
            amz_text(now + MAX_SKEW_SECONDS),
            amz_text(now)
        )));
    }
    if let Some(expires) = sig.expires
        && t + expires < now
    {
        return Err(AuthError::Skewed("Request has expired".into()));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Lowercase hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The canonical URI: for S3 the path as sent; for every other service normalized
/// (`.` and `..` segments removed) and URI-encoded once more, as the SDKs sign it.
fn canonical_uri(service: &str, path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    if service == "s3" {
        return path.to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s if s.is_empty() && i != 0 && i != segments.len() - 1 => {}
            s => out.push(s),
        }
    }
    let mut normalized = out.join("/");
    if !normalized.starts_with('/') {
        normalized.insert(0, '/');
    }
    if path.ends_with('/') && !normalized.ends_with('/') {
        normalized.push('/');
    }
    normalized.split('/').map(url_encode).collect::<Vec<_>>().join("/")
}

fn canonical_query(req: &RequestParts<'_>, form: Form) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query_params()
        .into_iter()
        .filter(|(k, _)| !(form == Form::Query && k == "X-Amz-Signature"))
        .map(|(k, v)| (url_encode(&k), url_encode(&v)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_header_value(values: &[&str]) -> String {
    values.iter().map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join(",")
}

/// The canonical request for `sig` (exposed for tests and for error messages).
pub fn canonical_request(req: &RequestParts<'_>, sig: &Signature) -> Result<String, AuthError> {
    let mut headers = String::new();
    for name in &sig.signed_headers {
        if name.is_empty() || name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(AuthError::Incomplete(format!("SignedHeaders entry `{name}` is not a lowercase header name")));
        }
        let values: Vec<&str> = req.header_values(name).collect();
        if values.is_empty() {
            return Err(AuthError::BadSignature(format!("signed header `{name}` is not in the request")));
        }
        headers.push_str(&format!("{name}:{}\n", canonical_header_value(&values)));
    }
    let mut sorted = sig.signed_headers.clone();
    sorted.sort();
    if sorted != sig.signed_headers {
        return Err(AuthError::Incomplete("SignedHeaders are not sorted".into()));
    }
    if !sig.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::Incomplete("the host header is not signed".into()));
    }
    let computed = sha256_hex(req.body);
    let payload = match req.header("x-amz-content-sha256").map(str::trim) {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        Some(h) if h.starts_with("STREAMING-") => {
            return Err(AuthError::Incomplete("streaming (chunked) signatures are not supported by the gate".into()));
        }
        Some(h) if h != computed => {
            return Err(AuthError::BadSignature("x-amz-content-sha256 is not the SHA-256 of the body".into()));
        }
        Some(h) => h.to_string(),
        None if sig.form == Form::Query && sig.scope.service == "s3" => "UNSIGNED-PAYLOAD".to_string(),
        None => computed,
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(&sig.scope.service, req.path),
        canonical_query(req, sig.form),
        headers,
        sig.signed_headers.join(";"),
        payload
    ))
}

/// The string to sign for a canonical request.
pub fn string_to_sign(sig: &Signature, canonical: &str) -> String {
    let s = &sig.scope;
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}/{}/{}/aws4_request\n{}",
        sig.amz_date,
        s.date,
        s.region,
        s.service,
        sha256_hex(canonical.as_bytes())
    )
}

/// The signature of `string_to_sign` with `secret` for `scope`.
pub fn sign(secret: &str, scope: &Scope, string_to_sign: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Verifies `sig` on `req` with `secret` at `now` (seconds since 1970): the time first
/// (as AWS reports a stale request before a wrong signature), then the signature.
pub fn verify(req: &RequestParts<'_>, sig: &Signature, secret: &str, now: i64) -> Result<(), AuthError> {
    check_time(sig, now)?;
    let canonical = canonical_request(req, sig)?;
    let expected = sign(secret, &sig.scope, &string_to_sign(sig, &canonical));
    // Constant time: how much of the signature matched says nothing.
    let given = sig.signature.as_bytes();
    let same = given.len() == expected.len()
        && given.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same { Ok(()) } else { Err(AuthError::BadSignature("the signature does not match".into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The IAM User Guide's worked example ("Signature Version 4 test suite" `get-vanilla`):
    /// GET / on example.amazonaws.com, service `service`, region us-east-1, the
    /// documentation's example secret.
    #[test]
    fn the_aws_test_suite_vanilla_get_verifies() {
        let h = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ]);
        let req = RequestParts { method: "GET", path: "/", query: None, headers: &h, body: b"" };
        let sig = read(&req).unwrap().unwrap();
        assert_eq!(sig.scope.service, "service");
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        verify(&req, &sig, secret, now).unwrap();
        assert!(matches!(verify(&req, &sig, "wrong", now), Err(AuthError::BadSignature(_))));
        assert!(
            matches!(verify(&req, &sig, secret, now + 16 * 60), Err(AuthError::Skewed(m)) if m.starts_with("Signature expired"))
        );
        assert!(matches!(verify(&req, &sig, secret, now - 16 * 60), Err(AuthError::Skewed(_))));
    }

    #[test]
    fn a_changed_body_or_header_breaks_the_signature() {
        let now = parse_amz_date("20260101T000000Z").unwrap();
        let scope = Scope {
            access_key: "AKID".into(),
            date: "20260101".into(),
            region: "us-west-2".into(),
            service: "sts".into(),
        };
        let mut sig = Signature {
            form: Form::Header,
            scope: scope.clone(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: String::new(),
            amz_date: "20260101T000000Z".into(),
            expires: None,
            security_token: None,
        };
        let h = headers(&[("host", "127.0.0.1:1"), ("x-amz-date", "20260101T000000Z")]);
        let body = b"Action=GetCallerIdentity&Version=2011-06-15";
        let req = RequestParts { method: "POST", path: "/", query: None, headers: &h, body };
        let canonical = canonical_request(&req, &sig).unwrap();
        sig.signature = sign("s3cret", &scope, &string_to_sign(&sig, &canonical));
        verify(&req, &sig, "s3cret", now).unwrap();
        let other = RequestParts { body: b"Action=AssumeRole&Version=2011-06-15", ..req };
        assert!(verify(&other, &sig, "s3cret", now).is_err());
        let h2 = headers(&[("host", "evil:1"), ("x-amz-date", "20260101T000000Z")]);
        assert!(verify(&RequestParts { headers: &h2, ..req }, &sig, "s3cret", now).is_err());
    }

    #[test]
    fn the_query_form_is_read() {
        let q = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        let h = headers(&[("host", "sts.amazonaws.com")]);
        let req = RequestParts { method: "GET", path: "/", query: Some(q), headers: &h, body: b"" };
        let mut sig = read(&req).unwrap().unwrap();
        assert_eq!(sig.form, Form::Query);
        assert_eq!(sig.scope.access_key, "AKID");
        let canonical = canonical_request(&req, &sig).unwrap();
        assert!(!canonical.contains("X-Amz-Signature"), "{canonical}");
        sig.signature = sign("k", &sig.scope, &string_to_sign(&sig, &canonical));
        let now = parse_amz_date("20260101T000030Z").unwrap();
        verify(&req, &sig, "k", now).unwrap();
        assert!(matches!(verify(&req, &sig, "k", now + 120), Err(AuthError::Skewed(m)) if m == "Request has expired"));
    }

    #[test]
    fn malformed_signatures_are_incomplete() {
        let h = headers(&[("authorization", "AWS4-HMAC-SHA256 Credential=AKID/2026/x, Signature=1")]);
        let req = RequestParts { method: "POST", path: "/", query: None, headers: &h, body: b"" };
        assert!(matches!(read(&req), Err(AuthError::Incomplete(_))));
        let none: Vec<(String, String)> = Vec::new();
        assert_eq!(read(&RequestParts { headers: &none, ..req }), Ok(None));
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_amz_date("19700101T000001Z"), Some(1));
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00.123+01:00"), Some(0));
        assert_eq!(parse_amz_date("2026-01-01"), None);
        assert_eq!(amz_text(86_400 + 61), "19700102T000101Z");
    }
}
