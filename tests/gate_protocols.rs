//! The gate's denials, read by real AWS SDK clients: each protocol's denial must parse
//! into the code AWS uses (EC2 `UnauthorizedOperation`, query services `AccessDenied`,
//! JSON services `AccessDeniedException`), and the gate must understand the requests the
//! SDKs write. Nothing is forwarded for a denied call, so the upstream is a closed port.

use std::sync::Arc;

use iamc_core::policy::{PolicyKind, parse_policy};
use iamc_core::template::render::Target;
use iamc_core::template::yaml;
use iamc_live::gate_server::{Caller, Gate, GateOptions, GateVerdict, Refusal, Subject};
use iamc_live::run::admin_credentials;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/under-test";
const ROLE_KEY: &str = "AKIAROLEUNDERTEST";

/// A gate whose role may only describe EC2 VPCs and is explicitly denied EC2 volumes.
async fn gate() -> Gate {
    let policy = yaml::parse(
        "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:DescribeVpcs\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:DeleteVolume\n  Resource: '*'\n",
        &Arc::from("policy.yaml"),
    )
    .unwrap();
    let policy = parse_policy("test-policy", &policy, PolicyKind::Identity).unwrap();
    // Port 9 (discard) is closed here: a forwarded request shows as a 502.
    let options = GateOptions {
        upstream: "http://127.0.0.1:9".into(),
        target: Target { account_id: "123456789012".into(), ..Target::default() },
        admin: admin_credentials(),
        subject: Some(Subject { role_arn: ROLE_ARN.into(), policies: vec![policy] }),
    };
    let gate = Gate::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap();
    gate.add_role_credentials(ROLE_KEY, "secret", None, ROLE_ARN);
    gate
}

macro_rules! client {
    ($krate:ident, $url:expr, $key:expr) => {{
        let conf = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-west-2"))
            .endpoint_url($url)
            .credentials_provider($krate::config::Credentials::new($key, "secret", None, None, "test"))
            .retry_config($krate::config::retry::RetryConfig::disabled())
            .build();
        $krate::Client::from_conf(conf)
    }};
}

fn code<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> Option<String> {
    e.code().map(str::to_string)
}

#[tokio::test]
async fn ec2_denials_are_unauthorized_operation() {
    let gate = gate().await;
    let ec2 = client!(aws_sdk_ec2, &gate.url, ROLE_KEY);
    let err = ec2.create_volume().availability_zone("us-west-2a").size(8).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("UnauthorizedOperation"), "{err:?}");
    let err = ec2.delete_volume().volume_id("vol-1").send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("UnauthorizedOperation"));
    let message = aws_sdk_ec2::error::ProvideErrorMetadata::message(&err).unwrap_or_default().to_string();
    assert!(message.contains("explicit deny"), "{message}");
    let records = gate.records();
    let volume = records.iter().find(|r| r.operation == "CreateVolume").expect("the gate read the SDK's CreateVolume");
    assert_eq!(volume.verdict, GateVerdict::Denied);
    assert!(
        volume.checks.iter().any(|c| c.check.action == "ec2:CreateVolume" && c.check.resource.ends_with(":volume/*")),
        "{volume:?}"
    );
}

#[tokio::test]
async fn an_allowed_call_is_forwarded() {
    let gate = gate().await;
    let ec2 = client!(aws_sdk_ec2, &gate.url, ROLE_KEY);
    // The upstream is closed, so the forwarded call fails with the gate's 502.
    let err = ec2.describe_vpcs().send().await.unwrap_err();
    assert_ne!(code(&err).as_deref(), Some("UnauthorizedOperation"));
    let record = gate.records().into_iter().find(|r| r.operation == "DescribeVpcs").unwrap();
    assert_eq!(record.verdict, GateVerdict::Forwarded);
    assert_eq!(record.status, Some(502));
}

#[tokio::test]
async fn query_services_deny_with_access_denied() {
    let gate = gate().await;
    let asg = client!(aws_sdk_autoscaling, &gate.url, ROLE_KEY);
    let err = asg
        .create_launch_configuration()
        .launch_configuration_name("lc")
        .image_id("ami-1")
        .instance_type("t3.micro")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDenied"), "{err:?}");

    let elb = client!(aws_sdk_elasticloadbalancing, &gate.url, ROLE_KEY);
    let listener = aws_sdk_elasticloadbalancing::types::Listener::builder()
        .protocol("TCP")
        .load_balancer_port(443)
        .instance_port(443)
        .build()
        .unwrap();
    let err =
        elb.create_load_balancer_listeners().load_balancer_name("lb").listeners(listener).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDenied"), "{err:?}");

    let iam = client!(aws_sdk_iam, &gate.url, ROLE_KEY);
    let err = iam.create_role().role_name("r").assume_role_policy_document("{}").send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDenied"), "{err:?}");

    let sts = client!(aws_sdk_sts, &gate.url, ROLE_KEY);
    let err = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/other")
        .role_session_name("s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDenied"), "{err:?}");
    let record = gate.records().into_iter().find(|r| r.operation == "AssumeRole").unwrap();
    assert!(
        record
            .checks
            .iter()
            .any(|c| c.check.action == "sts:AssumeRole" && c.check.resource == "arn:aws:iam::123456789012:role/other"),
        "{record:?}"
    );
}

#[tokio::test]
async fn json_services_deny_with_access_denied_exception() {
    let gate = gate().await;
    let sm = client!(aws_sdk_secretsmanager, &gate.url, ROLE_KEY);
    let err = sm.get_secret_value().secret_id("aws.cluster.x-k8s.io/a").send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDeniedException"), "{err:?}");
    let tagging = client!(aws_sdk_resourcegroupstagging, &gate.url, ROLE_KEY);
    let err = tagging.get_resources().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDeniedException"), "{err:?}");
}

#[tokio::test]
async fn unknown_callers_are_refused_in_the_protocol_shape() {
    let gate = gate().await;
    let ec2 = client!(aws_sdk_ec2, &gate.url, "AKIASOMEONEELSE");
    let err = ec2.describe_vpcs().send().await.unwrap_err();
    // EC2 answers a key it does not know with AuthFailure (see gate::decide::auth_denial).
    assert_eq!(code(&err).as_deref(), Some("AuthFailure"), "{err:?}");
    let record = gate.records().into_iter().next().unwrap();
    assert_eq!(record.verdict, GateVerdict::Rejected);
    assert_eq!(record.refusal, Some(Refusal::Unauthenticated));
    assert_eq!(record.caller, Caller::Unknown("AKIASOMEONEELSE".into()));
}

#[tokio::test]
async fn get_caller_identity_needs_no_permission() {
    // The role's policies do not name sts:GetCallerIdentity; AWS answers it anyway (STS
    // API Reference), so the gate forwards it unevaluated (to the closed upstream: 502).
    let gate = gate().await;
    let sts = client!(aws_sdk_sts, &gate.url, ROLE_KEY);
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_ne!(aws_sdk_sts::error::ProvideErrorMetadata::code(&err), Some("AccessDenied"), "{err:?}");
    let record = gate.records().into_iter().find(|r| r.operation == "GetCallerIdentity").unwrap();
    assert_eq!(record.verdict, GateVerdict::Forwarded);
    assert!(record.checks.is_empty(), "{record:?}");
    assert_eq!(record.status, Some(502));
}
