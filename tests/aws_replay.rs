//! The AWS path's handling of AWS's own answers, replayed on 127.0.0.1: IAM propagation
//! (AssumeRole and the role's permissions failing for a while after the stack is made)
//! is waited out, and a role that never behaves is an error that says what it saw.

mod support;

use std::time::Duration;

use iamc_core::load::ProfileSource;
use iamc_core::template::render::Target;
use iamc_live::client::{Client, Credentials};
use iamc_live::files::load;
use iamc_live::run::{self, CredentialSource, Endpoints, Session};
use support::replay::{Canned, Replay};

const ASSUMED: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLEKEY000000001</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey><SessionToken>role-token</SessionToken><Expiration>2026-11-28T23:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA:iam-conformance</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/dkp-bootstrapper-role/iam-conformance</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";

/// The query-protocol denial STS answers while a new role's trust has not propagated.
fn sts_denied() -> Canned {
    Canned::xml(
        403,
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/admin is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/dkp-bootstrapper-role</Message></Error><RequestId>r</RequestId></ErrorResponse>",
    )
}

/// EC2's denial (its own XML shape: `Response/Errors/Error`).
fn ec2_denied() -> Canned {
    Canned::xml(
        403,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>",
    )
}

fn session(url: &str) -> Session {
    Session {
        client: Client::default(),
        endpoints: Endpoints::One(url.to_string()),
        region: "us-west-2".into(),
        admin: Credentials {
            access_key_id: "AKIAREPLAYADMIN00001".into(),
            secret_access_key: "s".into(),
            session_token: None,
        },
    }
}

fn seed() -> (iamc_core::load::Loaded, Target) {
    let target = Target { account_id: "123456789012".into(), ..Target::default() };
    (load(&ProfileSource::Embedded, None, &target).expect("the seed loads"), target)
}

#[test]
fn propagation_is_waited_out() {
    let (loaded, target) = seed();
    let (allow, deny) = run::probes(&loaded.profile).expect("the seed has probes");
    assert_ne!(allow.operation, deny.operation, "the script below tells the probes apart by operation");
    let replay = Replay::start(vec![
        // Trust not yet propagated twice, then the role is assumed...
        ("AssumeRole", vec![sts_denied(), sts_denied(), Canned::xml(200, ASSUMED)]),
        // ...and its policy not yet effective once: the allowed probe is denied, then answers.
        (allow.operation.as_str(), vec![ec2_denied(), Canned::xml(200, "<R xmlns=\"x\"></R>")]),
        (deny.operation.as_str(), vec![ec2_denied()]),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let creds = rt
        .block_on(run::become_role(
            &session(&replay.url),
            None,
            &CredentialSource::AssumeRole("arn:aws:iam::123456789012:role/dkp-bootstrapper-role".into()),
            (allow, deny),
            &target,
            Duration::from_secs(60),
        ))
        .expect("the role behaves once propagated");
    assert_eq!(creds.access_key_id, "ASIAROLEKEY000000001");
    let received = replay.received();
    let assume_calls = received.iter().filter(|r| r.action == "AssumeRole").count();
    assert_eq!(assume_calls, 4, "two refused, one whose probe was denied, one that behaved: {received:?}");
    // The probes are made with the role's keys, never the administrator's.
    for r in received.iter().filter(|r| r.action != "AssumeRole") {
        assert_eq!(r.access_key, "ASIAROLEKEY000000001", "{r:?}");
    }
}

#[test]
fn a_role_that_never_behaves_is_an_error_naming_what_it_saw() {
    let (loaded, target) = seed();
    let (allow, deny) = run::probes(&loaded.profile).unwrap();
    // The policy never takes effect: the allowed probe stays denied.
    let replay = Replay::start(vec![
        ("AssumeRole", vec![Canned::xml(200, ASSUMED)]),
        (allow.operation.as_str(), vec![ec2_denied()]),
        (deny.operation.as_str(), vec![ec2_denied()]),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(run::become_role(
            &session(&replay.url),
            None,
            &CredentialSource::AssumeRole("arn:aws:iam::123456789012:role/dkp-bootstrapper-role".into()),
            (allow, deny),
            &target,
            Duration::from_secs(2),
        ))
        .expect_err("a role whose allowed probe stays denied never behaves");
    let text = err.to_string();
    assert!(text.contains("did not behave within 2 s"), "{text}");
    assert!(text.contains(&format!("probe `{}` denied: true", allow.id)), "{text}");
}

/// The STS answer carrying a decoded message (the JSON XML-escaped, as STS sends it).
fn decoded(json: &str) -> Canned {
    let escaped = json.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    Canned::xml(
        200,
        &format!(
            "<DecodeAuthorizationMessageResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><DecodeAuthorizationMessageResult><DecodedMessage>{escaped}</DecodedMessage></DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DecodeAuthorizationMessageResponse>"
        ),
    )
}

fn denied_result(id: &str, message: &str) -> run::LiveResult {
    run::LiveResult {
        id: id.into(),
        observed: run::Observed::Denied,
        skip: None,
        decided_by: run::DecidedBy::Aws,
        backend: Some(iamc_core::report::BackendAnswer {
            status: 403,
            code: Some("UnauthorizedOperation".into()),
            message: Some(message.into()),
        }),
        note: None,
        gate: None,
    }
}

#[test]
fn encoded_ec2_denials_are_decoded_into_the_note() {
    let replay = Replay::start(vec![(
        "DecodeAuthorizationMessage",
        vec![
            decoded(
                r#"{"allowed":false,"explicitDeny":false,"matchedStatements":{"items":[]},"failures":{"items":[]},"context":{"principal":{"id":"AROA:x","arn":"arn:aws:sts::123456789012:assumed-role/dkp-bootstrapper-role/x"},"action":"ec2:CreateVolume","resource":"arn:aws:ec2:us-west-2:123456789012:volume/*","conditions":{"items":[{"key":"ec2:VolumeSize","values":{"items":[{"value":"8"}]}}]}}}"#,
            ),
            Canned::xml(
                403,
                "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform: sts:DecodeAuthorizationMessage</Message></Error></ErrorResponse>",
            ),
        ],
    )]);
    let mut results = vec![
        denied_result(
            "a",
            "You are not authorized to perform this operation. Encoded authorization failure message: QUJD",
        ),
        // A denial without an encoded message is left alone (and costs no call).
        denied_result("b", "You are not authorized to perform this operation."),
        denied_result(
            "c",
            "You are not authorized to perform this operation. Encoded authorization failure message: REVG",
        ),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(iamc_live::oracle::decode_denials(&session(&replay.url), &mut results));
    let a = results[0].note.clone().unwrap_or_default();
    assert!(a.starts_with("AWS decoded: ec2:CreateVolume on arn:aws:ec2:us-west-2:123456789012:volume/*"), "{a}");
    assert!(a.contains("implicit deny") && a.contains("ec2:VolumeSize=8"), "{a}");
    assert_eq!(results[1].note, None);
    let c = results[2].note.clone().unwrap_or_default();
    assert!(c.contains("could not be decoded") && c.contains("AccessDenied"), "{c}");
    let received = replay.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(received[0].body.contains("EncodedMessage=QUJD"), "{:?}", received[0]);
    // Decoding is the administrator's call, not the role's.
    assert!(received.iter().all(|r| r.access_key == "AKIAREPLAYADMIN00001"));
}

/// A SimulatePrincipalPolicy answer deciding every check the same way.
fn simulated(decision: &str) -> Canned {
    Canned::xml(
        200,
        &format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>ec2:Any</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member></EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
        ),
    )
}

#[test]
fn the_simulator_oracle_reports_each_disagreement() {
    let (loaded, target) = seed();
    let proof = loaded.prove(&target);
    let model_denied = proof.scenarios.iter().flat_map(|s| &s.checks).filter(|c| !c.outcome.is_allowed()).count();
    assert!(model_denied > 0);
    // A simulator that allows everything disagrees with the model on exactly its denied checks.
    let replay = Replay::start(vec![("SimulatePrincipalPolicy", vec![simulated("allowed")])]);
    let allow_id = proof.scenarios.iter().find(|s| s.checks.iter().all(|c| c.outcome.is_allowed())).unwrap().id.clone();
    // Live, AWS denied an allowed scenario: simulator and model agree, live is the odd one out.
    let live = vec![denied_result(&allow_id, "denied")];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let findings = rt.block_on(iamc_live::oracle::simulate(
        &session(&replay.url),
        iamc_live::run::RetryPolicy::default(),
        "arn:aws:iam::123456789012:role/dkp-bootstrapper-role",
        &proof.scenarios,
        &live,
    ));
    let per_check = findings.iter().filter(|f| f.action.is_some()).count();
    assert_eq!(per_check, model_denied, "{findings:#?}");
    assert!(findings.iter().all(|f| f.kind.as_str() == "oracle_disagreement"));
    let live_finding: Vec<_> =
        findings.iter().filter(|f| f.action.is_none() && f.scenario.as_deref() == Some(allow_id.as_str())).collect();
    assert_eq!(live_finding.len(), 1, "{findings:#?}");
    let checks = proof.scenarios.iter().map(|s| s.checks.len()).sum::<usize>();
    assert_eq!(replay.received().len(), checks, "one simulation per declared check");

    // An administrator who may not simulate: one note, no disagreement.
    let replay = Replay::start(vec![(
        "SimulatePrincipalPolicy",
        vec![Canned::xml(
            403,
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform: iam:SimulatePrincipalPolicy</Message></Error></ErrorResponse>",
        )],
    )]);
    let findings = rt.block_on(iamc_live::oracle::simulate(
        &session(&replay.url),
        iamc_live::run::RetryPolicy::default(),
        "arn:aws:iam::123456789012:role/dkp-bootstrapper-role",
        &proof.scenarios,
        &[],
    ));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].message.contains("not consulted") && findings[0].message.contains("AccessDenied"));
    assert_eq!(replay.received().len(), 1);
}

#[test]
fn a_denial_by_an_scp_is_not_taken_for_the_policys() {
    let (loaded, target) = seed();
    let proof = loaded.prove(&target);
    let one = &proof.scenarios[..1];
    let replay = Replay::start(vec![(
        "SimulatePrincipalPolicy",
        vec![Canned::xml(
            200,
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><EvalActionName>ec2:Any</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>explicitDeny</EvalDecision><MatchedStatements/><MissingContextValues/><OrganizationsDecisionDetail><AllowedByOrganizations>false</AllowedByOrganizations></OrganizationsDecisionDetail></member></EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>",
        )],
    )]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let findings = rt.block_on(iamc_live::oracle::simulate(
        &session(&replay.url),
        iamc_live::run::RetryPolicy::default(),
        "arn:aws:iam::123456789012:role/dkp-bootstrapper-role",
        one,
        &[],
    ));
    let scp: Vec<_> = findings.iter().filter(|f| f.message.contains("Organizations SCP")).collect();
    assert_eq!(scp.len(), one[0].checks.len(), "{findings:#?}");
    assert!(scp.iter().all(|f| f.severity == iamc_core::analysis::Severity::Undecided));
}
