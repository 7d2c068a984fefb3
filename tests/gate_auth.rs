//! The standalone gate authenticates as AWS does and forwards only what it decided
//! (issue 10, "The standalone gate lets callers in…"): signatures are verified with the
//! secret the gate knows (the administrator's, or session credentials it saw AssumeRole
//! issue), a stale request or expired credentials are answered as the service answers
//! them, and real SDK clients read those answers. Emulator control paths are for the
//! administrator; a request whose routing disagrees with its decided service is refused;
//! what no statement could allow is denied even when it cannot be read; a followed
//! role's policies are read when deciding. Real HTTP on 127.0.0.1 only, against a small
//! stand-in upstream that records what reaches it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use iamc_core::gate::sigv4::{Form, Scope, Signature, canonical_request, sign, string_to_sign};
use iamc_core::policy::{PolicyKind, parse_policy};
use iamc_core::template::render::Target;
use iamc_core::template::yaml;
use iamc_live::client::{Client, Credentials};
use iamc_live::gate_server::{Gate, GateLimits, GateOptions, GateVerdict, Refusal, Subject};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/under-test";
const ROLE_KEY: &str = "AKIAROLEUNDERTEST";
const ROLE_SECRET: &str = "role-secret";

fn admin() -> Credentials {
    Credentials { access_key_id: "AKIAADMINTEST".into(), secret_access_key: "admin-secret".into(), session_token: None }
}

/// What the stand-in upstream saw and what it answers.
#[derive(Default)]
struct Upstream {
    seen: Mutex<Vec<String>>,
    /// The followed role's inline policy (`None`: the role does not exist).
    role_policy: Mutex<Option<String>>,
    /// `Expiration` of the credentials AssumeRole hands out.
    expiration: Mutex<String>,
    issued: Mutex<u32>,
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == key).then(|| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16)
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
                out.push(b[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

impl Upstream {
    fn answer(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.seen.lock().unwrap().push(format!("{method} {path} {body}"));
        let action = form_value(body, "Action").unwrap_or_default();
        let xml =
            |inner: &str| format!("<{action}Response><{action}Result>{inner}</{action}Result></{action}Response>");
        match action.as_str() {
            "AssumeRole" => {
                let mut n = self.issued.lock().unwrap();
                *n += 1;
                let creds = format!(
                    "<Credentials><AccessKeyId>ASIASESSION{n}</AccessKeyId><SecretAccessKey>session-secret-{n}</SecretAccessKey><SessionToken>token-{n}</SessionToken><Expiration>{}</Expiration></Credentials>",
                    self.expiration.lock().unwrap()
                );
                (200, xml(&creds))
            }
            "GetRole" => match &*self.role_policy.lock().unwrap() {
                None => (
                    404,
                    "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name followed cannot be found.</Message></Error></ErrorResponse>".into(),
                ),
                Some(_) => (200, xml("<Role><RoleName>followed</RoleName><Arn>arn:aws:iam::123456789012:role/followed</Arn></Role>")),
            },
            "ListAttachedRolePolicies" => (200, xml("<AttachedPolicies></AttachedPolicies>")),
            "ListRolePolicies" => (200, xml("<PolicyNames><member>inline</member></PolicyNames>")),
            "GetRolePolicy" => {
                let doc = self.role_policy.lock().unwrap().clone().unwrap_or_default();
                (200, xml(&format!("<PolicyName>inline</PolicyName><PolicyDocument>{doc}</PolicyDocument>")))
            }
            "PutRolePolicy" => {
                *self.role_policy.lock().unwrap() = form_value(body, "PolicyDocument");
                (200, xml(""))
            }
            _ => (200, xml("")),
        }
    }
}

/// Starts the stand-in upstream; it answers like moto, with `Connection: close`.
async fn upstream() -> (Arc<Upstream>, String) {
    let up = Arc::new(Upstream::default());
    *up.expiration.lock().unwrap() = "2999-01-01T00:00:00Z".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::clone(&up);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let up = Arc::clone(&served);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let up = Arc::clone(&up);
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let (status, text) =
                            up.answer(parts.method.as_str(), parts.uri.path(), &String::from_utf8_lossy(&body));
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "text/xml")
                                .header("connection", "close")
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (up, url)
}

fn policy(text: &str) -> iamc_core::policy::Policy {
    let node = yaml::parse(text, &Arc::from("policy.yaml")).unwrap();
    parse_policy("test-policy", &node, PolicyKind::Identity).unwrap()
}

/// A role that may describe VPCs, create CAPA's secrets, and assume roles; nothing else.
const POLICY: &str = "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [ec2:DescribeVpcs, sts:AssumeRole]\n  Resource: '*'\n- Effect: Allow\n  Action: [secretsmanager:CreateSecret, secretsmanager:TagResource]\n  Resource: 'arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*'\n";

async fn gate_with(upstream: &str, limits: GateLimits) -> Gate {
    let options = GateOptions {
        upstream: upstream.to_string(),
        target: Target { account_id: "123456789012".into(), ..Target::default() },
        admin: admin(),
        subject: Some(Subject { role_arn: ROLE_ARN.into(), policies: vec![policy(POLICY)] }),
    };
    let gate = Gate::start_with("127.0.0.1:0".parse().unwrap(), options, limits).await.unwrap();
    gate.add_role_credentials(ROLE_KEY, ROLE_SECRET, None, ROLE_ARN);
    gate
}

async fn gate(upstream: &str) -> Gate {
    gate_with(upstream, GateLimits::default()).await
}

macro_rules! client {
    ($krate:ident, $url:expr, $key:expr, $secret:expr) => {
        client!($krate, $url, $key, $secret, None)
    };
    ($krate:ident, $url:expr, $key:expr, $secret:expr, $token:expr) => {{
        let conf = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-west-2"))
            .endpoint_url($url)
            .credentials_provider($krate::config::Credentials::new($key, $secret, $token, None, "test"))
            .retry_config($krate::config::retry::RetryConfig::disabled())
            .build();
        $krate::Client::from_conf(conf)
    }};
}

fn code<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> Option<String> {
    e.code().map(str::to_string)
}

fn message<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> String {
    e.message().unwrap_or_default().to_string()
}

/// Signs a raw request at `amz_date` (the SDKs always sign "now").
#[expect(clippy::too_many_arguments, reason = "one test helper, each argument a part of the request")]
fn raw_signed(
    method: &str,
    path: &str,
    service: &str,
    body: &str,
    (key, secret): (&str, &str),
    amz_date: &str,
    host: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.into()), ("x-amz-date".into(), amz_date.into())];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    names.sort();
    let mut sig = Signature {
        form: Form::Header,
        scope: Scope {
            access_key: key.into(),
            date: amz_date[..8].into(),
            region: "us-west-2".into(),
            service: service.into(),
        },
        signed_headers: names.clone(),
        signature: String::new(),
        amz_date: amz_date.into(),
        expires: None,
        security_token: None,
    };
    let parts =
        iamc_core::gate::sigv4::RequestParts { method, path, query: None, headers: &headers, body: body.as_bytes() };
    sig.signature = sign(secret, &sig.scope, &string_to_sign(&sig, &canonical_request(&parts, &sig).unwrap()));
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!(
        "authorization: AWS4-HMAC-SHA256 Credential={key}/{}/us-west-2/{service}/aws4_request, SignedHeaders={}, Signature={}\r\n",
        &amz_date[..8],
        names.join(";"),
        sig.signature
    ));
    text.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
    text
}

/// Sends raw bytes, returns (status, whole answer).
fn send_raw(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

fn amz_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (y, m, d) = iamc_core::calendar::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_answered_as_each_service_answers_it() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let sts = client!(aws_sdk_sts, &gate.url, ROLE_KEY, "wrong-secret");
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("SignatureDoesNotMatch"), "{err:?}");
    let iam = client!(aws_sdk_iam, &gate.url, ROLE_KEY, "wrong-secret");
    let err = iam.list_roles().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("SignatureDoesNotMatch"), "{err:?}");
    let ec2 = client!(aws_sdk_ec2, &gate.url, ROLE_KEY, "wrong-secret");
    let err = ec2.describe_vpcs().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AuthFailure"), "{err:?}");
    let sm = client!(aws_sdk_secretsmanager, &gate.url, ROLE_KEY, "wrong-secret");
    let err = sm.list_secrets().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("InvalidSignatureException"), "{err:?}");
    // With the right secret the same call is decided (and forwarded).
    let ec2 = client!(aws_sdk_ec2, &gate.url, ROLE_KEY, ROLE_SECRET);
    ec2.describe_vpcs().send().await.ok();
    let records = gate.records();
    assert_eq!(records.iter().filter(|r| r.refusal == Some(Refusal::Unauthenticated)).count(), 4, "{records:?}");
    assert!(records.iter().any(|r| r.operation == "DescribeVpcs" && r.verdict == GateVerdict::Forwarded));
    assert_eq!(up.seen.lock().unwrap().len(), 1, "only the verified call reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_key_is_no_bearer_token() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let sts = client!(aws_sdk_sts, &gate.url, "AKIAADMINTEST", "any");
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("SignatureDoesNotMatch"), "{err:?}");
    let iam = client!(aws_sdk_iam, &gate.url, "AKIAADMINTEST", "any");
    assert!(iam.delete_role().role_name("under-test").send().await.is_err());
    assert!(up.seen.lock().unwrap().is_empty(), "nothing signed with a wrong secret reached the upstream");
    let sts = client!(aws_sdk_sts, &gate.url, "AKIAADMINTEST", "admin-secret");
    sts.get_caller_identity().send().await.ok();
    assert!(gate.records().iter().any(|r| r.verdict == GateVerdict::PassedThrough));
    assert_eq!(up.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_an_invalid_client_token() {
    let (_up, url) = upstream().await;
    let gate = gate(&url).await;
    let sts = client!(aws_sdk_sts, &gate.url, "AKIASOMEONEELSE", "secret");
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("InvalidClientTokenId"), "{err:?}");
    let sm = client!(aws_sdk_secretsmanager, &gate.url, "AKIASOMEONEELSE", "secret");
    let err = sm.list_secrets().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("UnrecognizedClientException"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_from_2001_has_expired() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let host = gate.addr.to_string();
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let ct = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let old = raw_signed("POST", "/", "sts", body, (ROLE_KEY, ROLE_SECRET), "20010101T000000Z", &host, &ct);
    let (status, answer) = send_raw(gate.addr, &old);
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("<Code>SignatureDoesNotMatch</Code>") && answer.contains("Signature expired: 20010101T000000Z"),
        "{answer}"
    );
    let ec2_body = "Action=DescribeVpcs&Version=2016-11-15";
    let old = raw_signed("POST", "/", "ec2", ec2_body, (ROLE_KEY, ROLE_SECRET), "20010101T000000Z", &host, &ct);
    let (status, answer) = send_raw(gate.addr, &old);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestExpired</Code>"), "{answer}");
    // Signed now with the right secret, the same request is decided.
    let now = raw_signed("POST", "/", "sts", body, (ROLE_KEY, ROLE_SECRET), &amz_now(), &host, &ct);
    let (status, answer) = send_raw(gate.addr, &now);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(up.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_credentials_work_with_their_secret_and_token_until_they_expire() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let client = Client::default();
    let assume = |session: &'static str| {
        let (client, url) = (client.clone(), gate.url.clone());
        async move {
            let a = client
                .call(
                    &url,
                    "us-west-2",
                    &admin(),
                    "sts",
                    "AssumeRole",
                    &serde_json::json!({"RoleArn": ROLE_ARN, "RoleSessionName": session}),
                    &[],
                )
                .await
                .unwrap();
            let get = |n: &str| iamc_core::xml::first(&a.body, n).unwrap();
            (get("AccessKeyId"), get("SecretAccessKey"), get("SessionToken"))
        }
    };
    let (key, secret, token) = assume("a").await;
    let ec2 = client!(aws_sdk_ec2, &gate.url, key.clone(), secret.clone(), Some(token.clone()));
    ec2.describe_vpcs().send().await.ok();
    assert!(gate.records().iter().any(|r| r.operation == "DescribeVpcs" && r.verdict == GateVerdict::Forwarded));
    // The key with another secret, or without its token, is not the role.
    let err = client!(aws_sdk_sts, &gate.url, key.clone(), "guess", Some(token.clone()))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("SignatureDoesNotMatch"), "{err:?}");
    let err =
        client!(aws_sdk_sts, &gate.url, key.clone(), secret.clone()).get_caller_identity().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("InvalidClientTokenId"), "{err:?}");
    // Credentials past their expiration.
    *up.expiration.lock().unwrap() = "2001-01-01T00:00:00Z".into();
    let (key, secret, token) = assume("b").await;
    let err = client!(aws_sdk_sts, &gate.url, key.clone(), secret.clone(), Some(token.clone()))
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ExpiredToken"), "{err:?}");
    let err =
        client!(aws_sdk_secretsmanager, &gate.url, key, secret, Some(token)).list_secrets().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("ExpiredTokenException"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_control_paths_are_the_administrators() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let host = gate.addr.to_string();
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    for (method, path) in [("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"), ("GET", "/_localstack/health")]
    {
        let req = raw_signed(method, path, "ec2", body, (ROLE_KEY, ROLE_SECRET), &amz_now(), &host, &[]);
        let (status, answer) = send_raw(gate.addr, &req);
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    assert!(up.seen.lock().unwrap().is_empty(), "{:?}", up.seen.lock().unwrap());
    let refused = gate.records().into_iter().filter(|r| r.refusal == Some(Refusal::ControlPath)).count();
    assert_eq!(refused, 3);
    let req =
        raw_signed("POST", "/moto-api/reset", "ec2", "", ("AKIAADMINTEST", "admin-secret"), &amz_now(), &host, &[]);
    let (status, _) = send_raw(gate.addr, &req);
    assert_eq!(status, 200);
    assert_eq!(up.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_that_disagrees_with_the_routing_is_refused() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let host = gate.addr.to_string();
    // Signed as ec2 with an allowed body, sent where S3 would take it.
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    let req = raw_signed("PUT", "/bucket", "ec2", body, (ROLE_KEY, ROLE_SECRET), &amz_now(), &host, &[]);
    let (status, answer) = send_raw(gate.addr, &req);
    assert_eq!(status, 403, "{answer}");
    // An allowed query body with a JSON service's target header.
    let req = raw_signed(
        "POST",
        "/",
        "ec2",
        body,
        (ROLE_KEY, ROLE_SECRET),
        &amz_now(),
        &host,
        &[("x-amz-target", "secretsmanager.DeleteSecret")],
    );
    let (status, _) = send_raw(gate.addr, &req);
    assert_eq!(status, 403);
    assert!(up.seen.lock().unwrap().is_empty());
    assert_eq!(gate.records().iter().filter(|r| r.refusal == Some(Refusal::Mismatch)).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_no_statement_could_allow_is_denied_even_unread() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    // Outside the wire model: denied in EC2's shape, not refused as unreadable.
    let ec2 = client!(aws_sdk_ec2, &gate.url, ROLE_KEY, ROLE_SECRET);
    let profile = aws_sdk_ec2::types::IamInstanceProfileSpecification::builder().name("p").build();
    let err =
        ec2.associate_iam_instance_profile().instance_id("i-1").iam_instance_profile(profile).send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("UnauthorizedOperation"), "{err:?}");
    assert!(message(&err).contains("ec2:AssociateIamInstanceProfile"), "{}", message(&err));
    // A service without a model (S3), by its method and path.
    let host = gate.addr.to_string();
    let req = raw_signed(
        "PUT",
        "/my-bucket",
        "s3",
        "",
        (ROLE_KEY, ROLE_SECRET),
        &amz_now(),
        &host,
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
    );
    let (status, answer) = send_raw(gate.addr, &req);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>") && answer.contains("s3:CreateBucket"), "{answer}");
    let denied = gate.records().into_iter().filter(|r| r.verdict == GateVerdict::Denied).count();
    assert_eq!(denied, 2);
    assert!(up.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_secret_binary_is_read_and_decided() {
    let (up, url) = upstream().await;
    let gate = gate(&url).await;
    let sm = client!(aws_sdk_secretsmanager, &gate.url, ROLE_KEY, ROLE_SECRET);
    // gzip of "hello": not UTF-8, as CAPA's SecretBinary.
    let gz: Vec<u8> = vec![
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 4, 0, 0, 0xff, 0xff, 0x86, 0xa6,
        0x10, 0x36, 5, 0, 0, 0,
    ];
    let tag = aws_sdk_secretsmanager::types::Tag::builder()
        .key("sigs.k8s.io/cluster-api-provider-aws/cluster/c")
        .value("owned")
        .build();
    sm.create_secret()
        .name("aws.cluster.x-k8s.io/0a1b-0")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(gz))
        .tags(tag)
        .send()
        .await
        .ok();
    let record = gate.records().into_iter().find(|r| r.operation == "CreateSecret").expect("read as CreateSecret");
    assert_eq!(record.verdict, GateVerdict::Forwarded, "{record:?}");
    assert_eq!(up.seen.lock().unwrap().len(), 1);
    // Outside the allowed names: denied by the derived check, not refused.
    let err = sm
        .create_secret()
        .name("other/secret")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![0xff, 0xfe]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("AccessDeniedException"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_role_is_refused_until_it_exists_and_its_policy_changes_are_enforced() {
    let (up, url) = upstream().await;
    let limits = GateLimits { policy_max_age: std::time::Duration::from_millis(300), ..GateLimits::default() };
    let gate = gate_with(&url, limits).await;
    gate.follow_role("followed");
    let followed = "arn:aws:iam::123456789012:role/followed";
    gate.add_role_credentials("AKIAFOLLOWED", "followed-secret", None, followed);
    let ec2 = client!(aws_sdk_ec2, &gate.url, "AKIAFOLLOWED", "followed-secret");
    let last = |gate: &Gate| {
        gate.records().into_iter().filter(|r| r.operation == "DescribeVpcs").max_by_key(|r| r.seq).unwrap()
    };
    // Started before the role exists: its calls are refused, the gate stays up.
    ec2.describe_vpcs().send().await.ok();
    assert_eq!(last(&gate).refusal, Some(Refusal::NotSubject), "{:?}", last(&gate));
    // The administrator creates it through the gate: enforced at once.
    let client = Client::default();
    let put = |doc: &'static str| {
        let (client, url) = (client.clone(), gate.url.clone());
        async move {
            let input = serde_json::json!({"RoleName": "followed", "PolicyName": "inline", "PolicyDocument": doc});
            client.call(&url, "us-west-2", &admin(), "iam", "PutRolePolicy", &input, &[]).await.unwrap();
        }
    };
    put(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}]}"#)
        .await;
    ec2.describe_vpcs().send().await.ok();
    assert_eq!(last(&gate).verdict, GateVerdict::Forwarded, "{:?}", last(&gate));
    put(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeSubnets","Resource":"*"}]}"#)
        .await;
    let err = ec2.describe_vpcs().send().await.unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("UnauthorizedOperation"), "{err:?}");
    // A change the gate did not see (another path to IAM) is enforced within the age limit.
    *up.role_policy.lock().unwrap() =
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#.into());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    ec2.describe_vpcs().send().await.ok();
    assert_eq!(last(&gate).verdict, GateVerdict::Forwarded, "{:?}", last(&gate));
}
