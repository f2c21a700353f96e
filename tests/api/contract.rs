//! Runs every case of `tests/contract.json` against each target: the
//! handlers in-process, the spawned `geo` and `users` binaries, the spawned
//! dev server, and (ignored by default) any server at `$CONTRACT_BASE_URL`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use vercel_rust_api::store::{MemoryStore, User, seed_users};
use vercel_rust_api::users::encode_cursor;
use vercel_rust_api::{App, Config, geo, users};

use crate::helpers::{Spawned, TestRequest, TestResponse, send};

/// The environment every target runs with.
pub const TOKEN: &str = "contract-token";
pub const ORIGIN: &str = "https://app.example.com";
pub const ENV: &[(&str, &str)] = &[("API_TOKEN", TOKEN), ("CORS_ALLOW_ORIGINS", ORIGIN)];

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    request: CaseRequest,
    expect: Expect,
}

#[derive(Deserialize)]
struct CaseRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default, rename = "headerBytes")]
    header_bytes: BTreeMap<String, Vec<u8>>,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct Expect {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, Option<String>>,
    json: Option<Value>,
    #[serde(default, rename = "bodyEmpty")]
    body_empty: bool,
}

/// Fills `{{id:N}}` and `{{cursor:N}}` in a string.
fn fill(text: &str, seed: &[User]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed {{") + start;
        let (kind, n) = rest[start + 2..end].split_once(':').expect("{{kind:N}}");
        let user = &seed[n.parse::<usize>().unwrap()];
        match kind {
            "id" => out.push_str(&user.id),
            "cursor" => out.push_str(&encode_cursor(&user.id)),
            other => panic!("unknown template {other}"),
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Replaces `"{{user:N}}"` by seed user N.
fn expand(v: &Value, seed: &[User]) -> Value {
    match v {
        Value::String(s) if s.starts_with("{{user:") => {
            let n: usize = s[7..s.len() - 2].parse().unwrap();
            serde_json::to_value(&seed[n]).unwrap()
        }
        Value::String(s) if s == "{{int}}" => v.clone(),
        Value::String(s) => Value::String(fill(s, seed)),
        Value::Array(a) => Value::Array(a.iter().map(|x| expand(x, seed)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), expand(x, seed)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `want` equals `got`, where `"{{int}}"` matches any integer.
fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(s), Value::Number(n)) if s == "{{int}}" => n.is_u64() || n.is_i64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| matches(x, y)))
        }
        _ => want == got,
    }
}

pub fn load_cases() -> Vec<Case> {
    let text = include_str!("../contract.json");
    serde_json::from_str::<File>(text).unwrap().cases
}

impl Case {
    pub fn request(&self, seed: &[User]) -> TestRequest {
        let r = &self.request;
        let mut req = TestRequest::new(
            Method::from_bytes(r.method.as_bytes()).unwrap(),
            fill(&r.path, seed),
        );
        for (k, v) in &r.headers {
            req = req.header(k, &fill(v, seed));
        }
        for (k, v) in &r.header_bytes {
            req.headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        req.body = fill(&r.body, seed).into();
        req
    }

    /// Every difference between the answer and the contract.
    pub fn check(&self, res: &TestResponse, seed: &[User]) -> Vec<String> {
        let mut errs = Vec::new();
        let e = &self.expect;
        if res.status != StatusCode::from_u16(e.status).unwrap() {
            errs.push(format!("status {} != {}", res.status.as_u16(), e.status));
        }
        if res.status != StatusCode::NO_CONTENT
            && res.header("content-type") != Some("application/json")
        {
            errs.push(format!("content-type {:?}", res.header("content-type")));
        }
        for (name, want) in &e.headers {
            let got = res
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap_or("<bytes>"));
            if got != want.as_deref() {
                errs.push(format!("header {name}: {got:?} != {want:?}"));
            }
        }
        if e.body_empty && !res.body.is_empty() {
            errs.push(format!(
                "body not empty: {:?}",
                String::from_utf8_lossy(&res.body)
            ));
        }
        if let Some(want) = &e.json {
            let want = expand(want, seed);
            match serde_json::from_slice::<Value>(&res.body) {
                Ok(got) if matches(&want, &got) => {}
                Ok(got) => errs.push(format!("body {got} != {want}")),
                Err(_) => errs.push(format!(
                    "body not JSON: {:?}",
                    String::from_utf8_lossy(&res.body)
                )),
            }
        }
        errs
    }
}

/// Runs all cases through `send`, skipping those with a tag in `skip`, and
/// fails listing every broken case.
pub async fn run_all<F, Fut>(target: &str, skip: &[&str], mut send: F)
where
    F: FnMut(TestRequest) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let seed = seed_users();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in load_cases() {
        if case.tags.iter().any(|t| skip.contains(&t.as_str())) {
            continue;
        }
        let req = case.request(&seed);
        let res = send(req.clone()).await;
        let errs = case.check(&res, &seed);
        ran += 1;
        if !errs.is_empty() {
            failures.push(format!(
                "{} ({} {}):\n    {}",
                case.name,
                req.method,
                req.path,
                errs.join("\n    ")
            ));
        }
    }
    assert!(ran >= 40, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{target}: {} of {ran} contract cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{target}: {ran} contract cases passed");
}

/// Which function Vercel would route a path to (unknown `/api/*` paths reach
/// `geo` through the catch-all rewrite, which answers them with a `404`).
pub fn function_for(path: &str) -> &'static str {
    if path.starts_with("/api/users") {
        "users"
    } else {
        "geo"
    }
}

pub fn contract_config() -> Config {
    Config::from_lookup(|k| {
        ENV.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// Runs the contract against the handlers in-process, routed as on Vercel.
pub async fn run_in_process(target: &str, app: App) {
    run_all(target, &[], |req| {
        let app = app.clone();
        async move {
            let http_req = req.to_http();
            let res = if function_for(&req.path) == "users" {
                users::handle(&app, http_req).await
            } else {
                geo::handle(&app.config, http_req).await
            };
            TestResponse::from_http(res)
        }
    })
    .await;
}

/// Runs the contract against a spawned `geo` and `users` pair.
pub async fn run_on_functions(target: &str, geo: &Spawned, users: &Spawned) {
    run_all(target, &[], |req| {
        let addr = if function_for(&req.path) == "users" {
            users.addr
        } else {
            geo.addr
        };
        async move { send(addr, &req).await.unwrap() }
    })
    .await;
}

/// Runs the contract against a server that routes like Vercel.
pub async fn run_on_server(target: &str, addr: SocketAddr) {
    run_all(
        target,
        &[],
        |req| async move { send(addr, &req).await.unwrap() },
    )
    .await;
}

#[tokio::test]
async fn contract_holds_for_handlers_in_process() {
    let store = Arc::new(MemoryStore::with_users(seed_users()));
    run_in_process("in-process", App::new(contract_config(), store)).await;
}

#[tokio::test]
async fn contract_holds_for_the_function_binaries() {
    let geo = Spawned::function("geo", ENV).await;
    let users = Spawned::function("users", ENV).await;
    run_on_functions("function binaries", &geo, &users).await;
}

#[tokio::test]
async fn contract_holds_for_the_dev_server() {
    let dev = Spawned::dev_server(ENV).await;
    run_on_server("dev server", dev.addr).await;
}

/// `CONTRACT_BASE_URL=http://127.0.0.1:3000 cargo test --test api -- --ignored external`
/// runs the contract against any running server (say `vercel dev`);
/// `CONTRACT_SKIP_TAGS=geo-headers` skips the cases that need the platform's
/// geolocation headers.
#[tokio::test]
#[ignore = "needs CONTRACT_BASE_URL"]
async fn contract_holds_for_an_external_server() {
    let base = std::env::var("CONTRACT_BASE_URL").expect("set CONTRACT_BASE_URL");
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let addr: SocketAddr = tokio::net::lookup_host(authority)
        .await
        .unwrap()
        .next()
        .unwrap();
    let skip_env = std::env::var("CONTRACT_SKIP_TAGS").unwrap_or_default();
    let skip: Vec<&str> = skip_env.split(',').filter(|s| !s.is_empty()).collect();
    run_all(&base, &skip, |req| async move {
        send(addr, &req).await.unwrap()
    })
    .await;
}
