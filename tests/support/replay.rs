//! A replay server for tests: answers AWS-style calls on 127.0.0.1 with canned
//! responses, in order per action, and records every request it receives (action and
//! access key), so a test can prove what was called — and that nothing was.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    pub fn xml(status: u16, body: &str) -> Canned {
        Canned { status, content_type: "text/xml", body: body.to_string() }
    }
    pub fn json(status: u16, body: &str) -> Canned {
        Canned { status, content_type: "application/x-amz-json-1.1", body: body.to_string() }
    }
}

/// What the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// `Action=` of a query/ec2 body, or the operation of an `X-Amz-Target` header.
    pub action: String,
    pub access_key: String,
    pub body: String,
}

pub struct Replay {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Replay {
    /// Serves `script`: per action, the answers in order (the last repeats). An action
    /// without a script gets a 400 `NotScripted` error, so a stray call is visible.
    pub fn start(script: Vec<(&str, Vec<Canned>)>) -> Replay {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let script: Arc<Mutex<HashMap<String, Vec<Canned>>>> =
            Arc::new(Mutex::new(script.into_iter().map(|(a, c)| (a.to_string(), c)).collect()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&received);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (script, rec) = (Arc::clone(&script), Arc::clone(&rec));
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (script, rec) = (Arc::clone(&script), Arc::clone(&rec));
                        async move {
                            let target = req
                                .headers()
                                .get("x-amz-target")
                                .and_then(|v| v.to_str().ok())
                                .map(|t| t.rsplit('.').next().unwrap_or(t).to_string());
                            let access_key = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|a| a.split("Credential=").nth(1))
                                .and_then(|c| c.split('/').next())
                                .unwrap_or_default()
                                .to_string();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let body = String::from_utf8_lossy(&body).into_owned();
                            let action = target.unwrap_or_else(|| {
                                body.split('&')
                                    .find_map(|kv| kv.strip_prefix("Action="))
                                    .unwrap_or_default()
                                    .to_string()
                            });
                            rec.lock().unwrap().push(Received { action: action.clone(), access_key, body });
                            let canned = {
                                let mut s = script.lock().unwrap();
                                match s.get_mut(&action) {
                                    Some(list) if list.len() > 1 => Some(list.remove(0)),
                                    Some(list) => list.first().cloned(),
                                    None => None,
                                }
                            };
                            let canned = canned.unwrap_or_else(|| {
                                Canned::xml(
                                    400,
                                    &format!(
                                        "<ErrorResponse><Error><Code>NotScripted</Code><Message>{action}</Message></Error></ErrorResponse>"
                                    ),
                                )
                            });
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(canned.status)
                                    .header("content-type", canned.content_type)
                                    .body(Full::new(Bytes::from(canned.body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Replay { url, received, _runtime: runtime }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn actions(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.action).collect()
    }
}

/// GetCallerIdentity's answer for an account.
pub fn caller(account: &str) -> Canned {
    Canned::xml(
        200,
        &format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/admin</Arn><UserId>AIDAEXAMPLE</UserId><Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        ),
    )
}
