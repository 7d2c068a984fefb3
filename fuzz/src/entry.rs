//! The entry points the fuzz targets drive, one per reader of untrusted input.
//!
//! Shared, unchanged, by the fuzz targets (`fuzz/fuzz_targets/*.rs`, through this crate)
//! and by the core crate's regression test (`crates/core/tests/fuzz_regressions.rs`,
//! through `#[path]`), so that a saved crash input is replayed through exactly what
//! the fuzzer ran. Each function must return for any input: a panic, an abort, a hang
//! or an unbounded allocation is a finding. Errors must be located (file named, line and
//! column from 1), which the functions assert.
//!
//! Only `iamc_core` and `std` are used here.

use std::sync::{Arc, OnceLock};

use iamc_core::catalog::Catalog;
use iamc_core::gate::decide::{KnownKey, ParsedRequest, Subject, auth_denial, authenticate, decide, is_control_path};
use iamc_core::gate::record::Caller;
use iamc_core::gate::sigv4::{self, RequestParts};
use iamc_core::load::{MAX_FILE_BYTES, ProfileSource, decode_text, load};
use iamc_core::loc::Loc;
use iamc_core::policy::{Context, Policy, PolicyKind, Request, decide as evaluate, parse_policy};
use iamc_core::scenario::{Profile, parse_profile, parse_scenarios, validate_profile};
use iamc_core::template::model::extract;
use iamc_core::template::render::{RefMode, Target, render};
use iamc_core::template::{Template, json};

/// An error's location names the file the reader was given, at a line and column from 1.
fn assert_located(loc: &Loc, file: &str, what: &dyn std::fmt::Display) {
    assert_eq!(&*loc.file, file, "error not located in the file read: {what}");
    assert!(loc.line >= 1 && loc.column >= 1, "error without a line and column: {what}");
}

/// Bytes as the CLI reads a file: at most [`MAX_FILE_BYTES`], UTF-8, or refused.
fn text_of(data: &[u8]) -> Option<String> {
    decode_text(data.to_vec(), MAX_FILE_BYTES).ok()
}

/// `template`: the bytes of a template file, read as YAML and (forced by the name) as
/// JSON; a template that reads is rendered both ways and its IAM model extracted, as
/// `check` does.
pub fn template(data: &[u8]) {
    let Some(text) = text_of(data) else { return };
    let target = Target::default();
    for file in ["fuzz.yaml", "fuzz.json"] {
        let t = match Template::parse(&text, file) {
            Ok(t) => t,
            Err(e) => {
                assert_located(e.loc(), file, &e);
                continue;
            }
        };
        for mode in [RefMode::KeepResourceRefs, RefMode::ResolveAll] {
            let Ok(rendered) = render(&t, &target, mode) else { continue };
            if mode == RefMode::ResolveAll
                && let Ok(model) = extract(&rendered, &target.partition, &target.account_id, &target.stack_name)
            {
                for role in &model.roles {
                    let _ = model.policies_for_role(&role.logical_id);
                }
            }
        }
    }
}

/// Condition keys of every operator family, for evaluating fuzzed policies.
fn contexts() -> &'static [Context] {
    static CONTEXTS: OnceLock<Vec<Context>> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        vec![
            Context::new(),
            Context::new()
                .with("aws:RequestTag/Name", "x")
                .with("aws:ResourceTag/kubernetes.io/cluster/c", "owned")
                .with("aws:SourceIp", "10.1.2.3")
                .with("aws:CurrentTime", "2026-11-20T12:00:00Z")
                .with("aws:SecureTransport", "true")
                .with("aws:PrincipalArn", "arn:aws:iam::000000000000:role/fuzz")
                .with("aws:TagKeys", "Name")
                .with("ec2:Region", "us-west-2")
                .with("iam:PassedToService", "ec2.amazonaws.com")
                .with("s3:max-keys", "10"),
        ]
    })
}

/// `policy`: a JSON policy document, as IAM returns one, through the located JSON reader
/// and the policy parser (as an identity and as a trust policy); a policy that parses is
/// evaluated for a few requests.
pub fn policy(data: &[u8]) {
    let Some(text) = text_of(data) else { return };
    let file = "policy.json";
    let node = match json::parse(&text, &Arc::from(file)) {
        Ok(n) => n,
        Err(e) => {
            assert_located(e.loc(), file, &e);
            return;
        }
    };
    for kind in [PolicyKind::Identity, PolicyKind::Trust] {
        let policy: Policy = match parse_policy("fuzz", &node, kind) {
            Ok(p) => p,
            Err(e) => {
                assert_located(&e.loc, file, &e.message);
                continue;
            }
        };
        let _ = policy.has_variables();
        let policies = [policy];
        for context in contexts() {
            for (action, resource) in [
                ("ec2:DescribeVpcs", "*"),
                ("ec2:RunInstances", "arn:aws:ec2:us-west-2:000000000000:instance/i-0123456789abcdef0"),
                ("iam:PassRole", "arn:aws:iam::000000000000:role/fuzz"),
                ("sts:AssumeRole", "arn:aws:iam::000000000000:role/a/b*c?d"),
            ] {
                let _ = evaluate(&policies, &Request { action, resource, context });
            }
        }
    }
}

/// The seed profile, parsed once (its scenarios are replaced by fuzzed ones).
fn seed_profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        parse_profile(
            include_str!("../../scenarios/dkp-bootstrapper/profile.toml"),
            "scenarios/dkp-bootstrapper/profile.toml",
        )
        .expect("the seed profile parses")
    })
}

/// `scenarios`: TOML text read both as a `profile.toml` and as a scenario file (with the
/// embedded catalog); scenarios that read are checked with the cross-file rules inside
/// the seed profile.
pub fn scenarios(data: &[u8]) {
    let Some(text) = text_of(data) else { return };
    if let Err(e) = parse_profile(&text, "profile.toml") {
        assert_located(&e.loc, "profile.toml", &e.message);
    }
    match parse_scenarios(&text, "fuzz.toml", Catalog::embedded()) {
        Ok(list) => {
            let mut profile = seed_profile().clone();
            profile.scenarios = list;
            if let Err(e) = validate_profile(&profile) {
                let _ = e.to_string();
            }
        }
        Err(e) => assert_located(&e.loc, "fuzz.toml", &e.message),
    }
}

/// The gate's clock in the fuzz runs: 2026-11-20T12:00:00Z (the seeds are signed then).
pub const NOW: i64 = 1_795_176_000;
/// The role's key and secret in the seeds (`fuzz/seeds/make_gate_seeds.py`).
pub const ROLE_KEY: &str = "ASIAFUZZROLE";
pub const ROLE_SECRET: &str = "fuzz-role-secret";
pub const ROLE_TOKEN: &str = "fuzz-session-token";
/// The administrator's key and secret in the seeds.
pub const ADMIN_KEY: &str = "AKIAFUZZADMIN";
pub const ADMIN_SECRET: &str = "fuzz-admin-secret";

/// The seed role and its policies, rendered from the embedded seed profile.
fn subject() -> &'static Subject {
    static SUBJECT: OnceLock<Subject> = OnceLock::new();
    SUBJECT.get_or_init(|| {
        let no_files = |p: &std::path::Path| -> std::io::Result<String> {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, p.display().to_string()))
        };
        let loaded = load(&ProfileSource::Embedded, None, &Target::default(), &no_files).expect("the seed loads");
        Subject { role_arn: loaded.role.role.arn.clone(), policies: loaded.role.policies.clone() }
    })
}

/// A request as HTTP/1.1 writes it: `METHOD TARGET` on the first line (the target split
/// at its first `?` into path and query), then `Name: value` header lines up to an empty
/// line, then the body, raw bytes. The head is read as lossy UTF-8 (the gate's adapter
/// hands over header values as text).
pub struct SplitRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SplitRequest {
    pub fn split(data: &[u8]) -> SplitRequest {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&data[..i], data[i + 2..].to_vec()),
            None => (data, Vec::new()),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap_or((l, ""));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        SplitRequest { method: method.to_string(), path, query, headers, body }
    }

    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// `gate_request`: one request through what the gate does before it forwards: the
/// signature read and verified ([`sigv4`], [`authenticate`]), the request read
/// ([`ParsedRequest::read`]: scope, wire model, named action), its record, and the
/// decision for the seed role (without derivation, which needs the emulator).
pub fn gate_request(data: &[u8]) {
    let split = SplitRequest::split(data);
    let parts = split.parts();

    match sigv4::read(&parts) {
        Ok(Some(sig)) => {
            let _ = sigv4::check_time(&sig, NOW);
            let _ = sigv4::parse_amz_date(&sig.amz_date);
            if let Ok(canonical) = sigv4::canonical_request(&parts, &sig) {
                let _ = sigv4::string_to_sign(&sig, &canonical);
            }
            let _ = sigv4::verify(&parts, &sig, ROLE_SECRET, NOW);
        }
        Ok(None) => {}
        Err(e) => {
            let _ = e.message();
        }
    }
    for v in parts.header_values("x-amz-date") {
        let _ = sigv4::parse_amz_date(v);
        let _ = sigv4::parse_rfc3339(v);
    }
    let _ = is_control_path(parts.path);

    let parsed = ParsedRequest::read(&parts, "us-west-2", "x-iam-conformance-scenario", "fuzz-request-id");
    let _ = parsed.operation();
    let _ = parsed.changes_iam();

    let subject = subject();
    let lookup = |key: &str| match key {
        ROLE_KEY => Some(KnownKey {
            secret: ROLE_SECRET.into(),
            session_token: Some(ROLE_TOKEN.into()),
            expires: Some(NOW + 3600),
            caller: Caller::Role(subject.role_arn.clone()),
        }),
        ADMIN_KEY => {
            Some(KnownKey { secret: ADMIN_SECRET.into(), session_token: None, expires: None, caller: Caller::Admin })
        }
        _ => None,
    };
    let authenticated = authenticate(&parts, &lookup, NOW);
    if let Err(e) = &authenticated {
        let _ = auth_denial(parsed.shape, e, &parsed.request_id);
    }
    // Decide as the role whatever the signature said, so that the decision sees every
    // request the fuzzer makes, not only the few it signs right.
    let mut callers = vec![Caller::Role(subject.role_arn.clone()), Caller::Unknown("AKIAUNKNOWN".into())];
    if let Ok(c) = authenticated {
        callers.push(c);
    }
    for caller in callers {
        let mut record = parsed.record(1, caller.clone());
        let decision = decide(&parsed, &caller, Some(subject), None);
        decision.record_into(&mut record);
        let _ = decision.answer();
        let _ = decide(&parsed, &caller, None, None);
    }
}
