//! Test helpers: a small HTTP/1 client, free ports, and the real binaries
//! started on a free port and stopped on `Drop`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What a test sends.
#[derive(Debug, Clone)]
pub struct TestRequest {
    pub method: Method,
    /// Path and query, sent as written (no re-encoding).
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        let mut r = self.header("content-type", "application/json");
        r.body = Bytes::from(body.to_string());
        r
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The request as `http` types, for in-process handlers.
    pub fn to_http(&self) -> Request<Full<Bytes>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .body(Full::new(self.body.clone()))
            .unwrap();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn from_http(res: http::Response<Bytes>) -> Self {
        let (parts, body) = res.into_parts();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// Sends one request on a fresh connection.
pub async fn send(addr: SocketAddr, req: &TestRequest) -> Result<TestResponse, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut http_req = req.to_http();
    http_req.headers_mut().insert(
        http::header::HOST,
        HeaderValue::from_str(&addr.to_string()).unwrap(),
    );
    let res = sender
        .send_request(http_req)
        .await
        .map_err(|e| format!("{} {}: {e}", req.method, req.path))?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary under test: the one cargo built for this test run, or the one
/// in `$CONTRACT_BIN_DIR` (e.g. `target/release`) when that is set.
pub fn bin_path(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("CONTRACT_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    PathBuf::from(match name {
        "geo" => env!("CARGO_BIN_EXE_geo"),
        "users" => env!("CARGO_BIN_EXE_users"),
        "dev" => env!("CARGO_BIN_EXE_dev"),
        other => panic!("no binary {other}"),
    })
}

/// A running process, killed on drop.
pub struct Spawned {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    /// Starts a function binary on a free `VERCEL_DEV_PORT` and waits for
    /// `/_vercel/ping`.
    pub async fn function(name: &str, env: &[(&str, &str)]) -> Self {
        Self::start(name, "VERCEL_DEV_PORT", "/_vercel/ping", env).await
    }

    /// Starts the dev server on a free `PORT` and waits for `/api/geo`.
    pub async fn dev_server(env: &[(&str, &str)]) -> Self {
        Self::start("dev", "PORT", "/api/geo", env).await
    }

    async fn start(name: &str, port_var: &str, ready: &str, env: &[(&str, &str)]) -> Self {
        let mut last_err = String::new();
        // A free port can be taken between the probe and the bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(bin_path(name));
            cmd.env_remove("REDIS_URL")
                .env_remove("KV_URL")
                .env_remove("API_TOKEN")
                .env_remove("CORS_ALLOW_ORIGINS")
                .env(port_var, port.to_string())
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(if std::env::var_os("TEST_SHOW_SERVER_LOGS").is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                });
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin_path(name).display()));
            let mut spawned = Self {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = spawned.child.try_wait() {
                    last_err = format!("{name} exited with {status}");
                    break;
                }
                if let Ok(res) = send(spawned.addr, &TestRequest::get(ready)).await
                    && res.status == StatusCode::OK
                {
                    return spawned;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if last_err.is_empty() {
                last_err = format!("{name} not ready on port {port} within 15 s");
            }
            let _ = spawned.child.kill();
        }
        panic!("{last_err}");
    }

    /// The process id, to read its memory figures.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a request, panicking on a transport error.
    pub async fn send(&self, req: &TestRequest) -> TestResponse {
        send(self.addr, req).await.unwrap()
    }
}

/// A Redis for tests: `$REDIS_URL` when given, else a `redis-server` of our
/// own on a free port in a temporary directory (stopped on drop). `None`
/// (with a loud message) when neither is possible, unless `REQUIRE_REDIS=1`
/// (set by CI), which turns that into a failure.
pub struct TestRedis {
    pub url: String,
    own: Option<OwnRedis>,
}

struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const INSTALL_HINT: &str = "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), or set REDIS_URL";

impl TestRedis {
    /// Any Redis: the given `REDIS_URL` or our own server.
    pub async fn any() -> Option<Self> {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return Some(Self { url, own: None });
        }
        Self::own().await
    }

    /// A server of our own, which a test may stop and start.
    pub async fn own() -> Option<Self> {
        let available = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            let msg = format!("redis-server not found: Redis tests NOT RUN; {INSTALL_HINT}");
            if std::env::var("REQUIRE_REDIS").is_ok_and(|v| v == "1") {
                panic!("{msg} (REQUIRE_REDIS=1)");
            }
            eprintln!("\n!!!!! {msg} !!!!!\n");
            return None;
        }
        let mut own = OwnRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        own.start().await;
        Some(Self {
            url: format!("redis://127.0.0.1:{}", own.port),
            own: Some(own),
        })
    }

    /// Stops our own server (as a crash would).
    pub fn stop(&mut self) {
        let own = self
            .own
            .as_mut()
            .expect("only our own server can be stopped");
        if let Some(mut c) = own.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts our own server again on the same port.
    pub async fn start(&mut self) {
        self.own.as_mut().expect("own server").start().await;
    }

    /// Freezes our own server (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self, frozen: bool) {
        let own = self.own.as_ref().expect("own server");
        let pid = own.child.as_ref().expect("running").id();
        let sig = if frozen { "-STOP" } else { "-CONT" };
        assert!(
            Command::new("kill")
                .args([sig, &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
    }

    /// A connection for checking what the store wrote.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl OwnRedis {
    async fn start(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 16];
                if s.write_all(b"PING\r\n").await.is_ok()
                    && s.read(&mut buf)
                        .await
                        .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

/// A key prefix of its own for each test, so tests can share one server.
pub fn unique_prefix(test: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "test:{}:{test}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
