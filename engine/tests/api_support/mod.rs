//! Shared by the HTTP API tests: a real HTTP/1 client (hyper-util's legacy client) with every
//! request bounded in real time, record builders, and a tiny parser of the metrics text.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use stemedb::api::{AssertionDto, EvidenceDto, VoteDto};
use stemedb::io::{OpenMode, RealVfs, Vfs, VfsFile, VfsLock};
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

/// RealVfs whose files fail `sync_data` once `failing` is set: the WAL then fails closed.
#[derive(Debug)]
pub struct FailingSync {
    pub failing: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FailingFile {
    inner: Box<dyn VfsFile>,
    failing: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Vfs for FailingSync {
    async fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        Ok(Box::new(FailingFile {
            inner: RealVfs.open(path, mode).await?,
            failing: Arc::clone(&self.failing),
        }))
    }
    async fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        RealVfs.create_dir_all(path).await
    }
    async fn sync_dir(&self, path: &Path) -> io::Result<()> {
        RealVfs.sync_dir(path).await
    }
    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealVfs.rename(from, to).await
    }
    async fn remove(&self, path: &Path) -> io::Result<()> {
        RealVfs.remove(path).await
    }
    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealVfs.list(dir).await
    }
    async fn lock(&self, path: &Path) -> io::Result<Box<dyn VfsLock>> {
        RealVfs.lock(path).await
    }
}

#[async_trait::async_trait]
impl VfsFile for FailingFile {
    async fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(offset, buf).await
    }
    async fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data).await
    }
    async fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.inner.append(data).await
    }
    async fn sync_data(&self) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.sync_data().await
    }
    async fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len).await
    }
    async fn len(&self) -> io::Result<u64> {
        self.inner.len().await
    }
    async fn evict_cache(&self) -> io::Result<()> {
        self.inner.evict_cache().await
    }
}
