//! The local dev server behind `cargo run`: the page in `public/`, and
//! `/api/*` routed in-process to the same handlers the functions use, after
//! the `rewrites` of `vercel.json`, the way Vercel routes:
//!
//! 1. a function path (`/api/geo`, `/api/users`) or a file of `public/`;
//! 2. else the first matching rewrite; the destination is looked up as in 1,
//!    and a function gets the original path with the rewritten query merged
//!    in front of the original one (`/api/users/42` → `/api/users/42?id=42`);
//! 3. else `404`: JSON under `/api/`, text elsewhere.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::{App, catch_panics, geo, users};

pub mod rewrites;

pub use rewrites::Rewrites;

/// The response body of the dev server: API bytes or a streamed file.
pub type DevBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Where the dev server finds `public/` and `vercel.json`: the directory of
/// `Cargo.toml` (cargo sets `CARGO_MANIFEST_DIR` for `cargo run`), else the
/// current directory.
pub fn project_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The dev server's router; cheap to clone.
#[derive(Clone)]
pub struct DevServer {
    app: App,
    rewrites: Arc<Rewrites>,
    public_dir: Arc<PathBuf>,
    public: ServeDir,
}

enum Function {
    Geo,
    Users,
}

fn function_at(path: &str) -> Option<Function> {
    match path {
        geo::PATH => Some(Function::Geo),
        users::PATH => Some(Function::Users),
        _ => None,
    }
}

impl DevServer {
    /// A router over `root/public` and `root/vercel.json`.
    pub fn new(app: App, root: &Path) -> Result<Self, String> {
        let vercel_json = root.join("vercel.json");
        let text = std::fs::read_to_string(&vercel_json)
            .map_err(|e| format!("cannot read {}: {e}", vercel_json.display()))?;
        let rewrites = Rewrites::parse(&text)?;
        for key in &rewrites.unapplied {
            eprintln!("warning: vercel.json `{key}` is not applied by the dev server");
        }
        let public_dir = root.join("public");
        Ok(Self {
            app,
            rewrites: Arc::new(rewrites),
            public: ServeDir::new(&public_dir).append_index_html_on_directories(true),
            public_dir: Arc::new(public_dir),
        })
    }

    /// Answers one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<DevBody>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path().to_owned();
        if let Some(f) = function_at(&path) {
            return self.call(f, req).await;
        }
        // Static files answer GET and HEAD; other methods go on to the rewrites.
        let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
        let req = if is_read {
            let (req, res) = self.serve_file(req).await;
            if res.status() != StatusCode::NOT_FOUND {
                return res;
            }
            req
        } else {
            req
        };
        let Some(dest) = self.rewrites.apply(&path) else {
            return not_found(&path);
        };
        let (dest_path, dest_query) = dest.split_once('?').unwrap_or((&dest, ""));
        if let Some(f) = function_at(dest_path) {
            // Vercel keeps the original path and merges the queries.
            let query = match (dest_query, req.uri().query()) {
                ("", None) => String::new(),
                ("", Some(q)) => format!("?{q}"),
                (d, None) => format!("?{d}"),
                (d, Some(q)) => format!("?{d}&{q}"),
            };
            let (mut parts, body) = req.into_parts();
            parts.uri = match format!("{path}{query}").parse::<Uri>() {
                Ok(uri) => uri,
                Err(_) => return boxed(ApiError::BadRequest("Invalid URL").into_response()),
            };
            return self.call(f, Request::from_parts(parts, body)).await;
        }
        if !is_read {
            return not_found(&path);
        }
        let (mut parts, body) = req.into_parts();
        match dest.parse::<Uri>() {
            Ok(uri) => parts.uri = uri,
            Err(_) => return not_found(&path),
        }
        let (_, res) = self.serve_file(Request::from_parts(parts, body)).await;
        if res.status() == StatusCode::NOT_FOUND {
            return not_found(&path);
        }
        res
    }

    async fn call<B>(&self, f: Function, req: Request<B>) -> Response<DevBody>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let app = self.app.clone();
        let res = match f {
            Function::Geo => catch_panics(async move { geo::handle(&app.config, req).await }).await,
            Function::Users => catch_panics(async move { users::handle(&app, req).await }).await,
        };
        boxed(res)
    }

    /// Serves a file of `public/` as Vercel does; hands the request back for
    /// the next step.
    async fn serve_file<B>(&self, req: Request<B>) -> (Request<B>, Response<DevBody>) {
        let (parts, body) = req.into_parts();
        let res = if self.is_file_with_trailing_slash(parts.uri.path()) {
            not_found(parts.uri.path())
        } else {
            let probe = Request::from_parts(parts.clone(), ());
            let mut res = match self.public.clone().oneshot(probe).await {
                Ok(res) => res.map(|b| b.map_err(std::io::Error::other).boxed_unsync()),
                Err(never) => match never {},
            };
            with_charset(res.headers_mut());
            res
        };
        (Request::from_parts(parts, body), res)
    }

    /// `/index.html/`: `ServeDir` serves the file, Vercel answers `404`.
    fn is_file_with_trailing_slash(&self, path: &str) -> bool {
        let Some(trimmed) = path.strip_suffix('/').filter(|p| !p.is_empty()) else {
            return false;
        };
        let Ok(decoded) = percent_encoding::percent_decode_str(trimmed).decode_utf8() else {
            return false;
        };
        // Only asks whether a file is there: ServeDir still does the serving
        // (and refuses paths outside public/), and either way it is a 404.
        self.public_dir
            .join(decoded.trim_start_matches('/'))
            .is_file()
    }
}

/// The content types Vercel gives static text files: `; charset=utf-8`, and
/// `application/javascript` for `.js` (`ServeDir` says `text/javascript`).
fn with_charset(headers: &mut http::HeaderMap) {
    let Some(ctype) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let vercel = match ctype {
        "text/javascript" | "application/javascript" => "application/javascript; charset=utf-8",
        "text/html" => "text/html; charset=utf-8",
        "text/css" => "text/css; charset=utf-8",
        "text/plain" => "text/plain; charset=utf-8",
        _ => return,
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(vercel));
}

fn boxed(res: Response<Bytes>) -> Response<DevBody> {
    res.map(|b| {
        http_body_util::Full::new(b)
            .map_err(|never| match never {})
            .boxed_unsync()
    })
}

fn not_found(path: &str) -> Response<DevBody> {
    if path == "/api" || path.starts_with("/api/") {
        return boxed(ApiError::NotFound.into_response());
    }
    let mut res = Response::new(Bytes::from_static(b"404 Not Found\n"));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    boxed(res)
}

/// How long the dev server waits for a request head.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds `addr` and serves until Ctrl-C or SIGTERM. A port already in use is
/// an error whose message names the port and how to pick another.
pub async fn serve(server: DevServer, addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {} is already in use; choose another one, e.g. PORT={} cargo run",
                addr.port(),
                addr.port().wrapping_add(1).max(1024)
            )
        } else {
            format!("cannot listen on {addr}: {e}")
        }
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let writes = if server.app.config.api_token.is_some() {
        "on"
    } else {
        "off, set API_TOKEN to allow them"
    };
    println!(
        "Dev server ready on http://{local} (store: {}; writes: {writes})",
        server.app.store.kind()
    );
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => { eprintln!("accept failed: {e}"); continue; }
            },
            () = &mut shutdown => return Ok(()),
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let server = server.clone();
                async move {
                    let started = Instant::now();
                    let line = format!("{} {}", req.method(), req.uri());
                    let res = server.handle(req).await;
                    println!("{line} {} {:.1?}", res.status().as_u16(), started.elapsed());
                    Ok::<_, Infallible>(res)
                }
            });
            // A client that never finishes its request head is let go.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
