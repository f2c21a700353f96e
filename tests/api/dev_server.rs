//! The dev server beyond the API contract: the page, content types, no file
//! outside `public/`, rewrites, and a clear refusal of a busy port.

use std::process::Command;

use crate::helpers::{Spawned, TestRequest, bin_path};

#[tokio::test]
async fn serves_the_page_and_its_assets_with_their_types() {
    let dev = Spawned::dev_server(&[]).await;
    for (path, file, ctype) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/app.js", "app.js", "application/javascript; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
    ] {
        let res = dev.send(&TestRequest::get(path)).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("content-type"), Some(ctype), "{path}");
        let want = std::fs::read(format!("{}/public/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(res.body, want, "{path}");
    }
}

#[tokio::test]
async fn nothing_outside_public_is_served_whatever_the_encoding() {
    let dev = Spawned::dev_server(&[]).await;
    for path in [
        "/../Cargo.toml",
        "/..%2fCargo.toml",
        "/..%2FCargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2fCargo.toml",
        "/%252e%252e%252fCargo.toml",
        "/..%5cCargo.toml",
        "/public/../Cargo.toml",
        "/.%2e/.%2e/Cargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/vercel.json",
        "/Cargo.toml",
        "/src/lib.rs",
        "/%00",
        // As on Vercel, a file is not served under a trailing slash.
        "/index.html/",
        "/app.js/",
        "/%61pp.js/",
    ] {
        let res = dev.send(&TestRequest::get(path)).await;
        assert!(
            res.status == 404 || res.status == 400,
            "{path}: {} {:?}",
            res.status,
            String::from_utf8_lossy(&res.body)
        );
        let body = String::from_utf8_lossy(&res.body);
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{path} leaked a file"
        );
    }
}

#[tokio::test]
async fn unknown_page_is_a_plain_404_and_unknown_api_path_is_json() {
    let dev = Spawned::dev_server(&[]).await;
    let page = dev.send(&TestRequest::get("/nope.html")).await;
    assert_eq!(page.status, 404);
    assert_eq!(
        page.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(page.body, "404 Not Found\n");
    let api = dev.send(&TestRequest::get("/api")).await;
    assert_eq!(api.status, 404);
    assert_eq!(api.json(), serde_json::json!({"error": "Not found"}));
}

#[tokio::test]
async fn a_busy_port_is_one_clear_line_and_a_failure_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(bin_path("dev"))
        .env("PORT", port.to_string())
        .env_remove("REDIS_URL")
        .env_remove("KV_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "error: port {port} is already in use; choose another one, e.g. PORT={} cargo run\n",
            port + 1
        )
    );
    assert!(!stderr.contains("panicked"));
}

#[tokio::test]
async fn a_bad_port_value_is_refused_clearly() {
    let out = Command::new(bin_path("dev"))
        .env("PORT", "eighty")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: PORT must be a number from 0 to 65535, not \"eighty\"\n"
    );
}
