//! The AWS path's handling of AWS's own answers, replayed on 127.0.0.1: IAM propagation
//! (AssumeRole and the role's permissions failing for a while after the stack is made)
//! is waited out, and a role that never behaves is an error that says what it saw.

mod support;

use std::time::Duration;

use iam_conformance::exec::{Client, Credentials};
use iam_conformance::load::{ProfileSource, load};
use iam_conformance::run::{self, CredentialSource, Endpoints, Session};
use iam_conformance::template::render::Target;
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

fn seed() -> (iam_conformance::load::Loaded, Target) {
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
