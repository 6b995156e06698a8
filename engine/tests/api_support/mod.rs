//! Shared by the HTTP API tests: a real HTTP/1 client (hyper-util's legacy client) with every
//! request bounded in real time, record builders, and a tiny parser of the metrics text.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use stemedb::api::{AssertionDto, EvidenceDto, VoteDto};
use stemedb::model::{Assertion, Evidence, Vote};

/// Bound on one request, and on any other wait of these tests (real time).
pub const WAIT_BOUND: Duration = Duration::from_secs(30);

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error answer: {}", self.text()))
            .to_owned()
    }
}

#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    pub addr: SocketAddr,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
        }
    }

    /// One request; `None` when the connection failed (the server is down).
    #[expect(
        clippy::disallowed_methods,
        reason = "a real server over loopback, bounded in real time"
    )]
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Option<Answer> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.ok()?.to_bytes();
            Some(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(WAIT_BOUND, exchange)
            .await
            .expect("request bound ran out")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        self.try_send(method, path, content_type, body)
            .await
            .expect("connection failed")
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, Vec::new()).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            serde_json::to_vec(body).expect("json"),
        )
        .await
    }
}

pub fn assertion_json(a: &Assertion) -> Value {
    serde_json::to_value(AssertionDto::from(a)).expect("json")
}

pub fn vote_json(v: &Vote) -> Value {
    serde_json::to_value(VoteDto::from(v)).expect("json")
}

pub fn evidence_json(e: &Evidence) -> Value {
    serde_json::to_value(EvidenceDto::from(e)).expect("json")
}

/// Samples of a metrics text: `name{labels}` -> value, labels as written (sorted by the
/// encoder's field order). Comments and `# EOF` are skipped.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// `stemedb_http_requests_total{route,status}` from parsed metrics (0 when absent).
pub fn http_count(metrics: &BTreeMap<String, f64>, route: &str, status: u16) -> u64 {
    let key = format!("stemedb_http_requests_total{{route=\"{route}\",status=\"{status}\"}}");
    metrics.get(&key).copied().unwrap_or(0.0) as u64
}
