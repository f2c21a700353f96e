//! The benchmark of the project's functions, and the baselines it compares
//! them with.
//!
//! This library holds only what the two Rust baselines share: the geo answer
//! of `api/geo.rs` (the same JSON, the same header rules, the same response
//! headers), written directly over `http` types with nothing around it. The
//! baselines are `baseline-hyper` (bare hyper 1 + tokio) and
//! `baseline-vercel` (the smallest `vercel_runtime` function); the runner is
//! the `bench` binary. `baseline-node.mjs` is the same logic on Node's `http`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use serde::Serialize;

/// The path the geo function serves.
pub const GEO_PATH: &str = "/api/geo";

/// The geo answer, field for field as the project's `geo::Geo`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Geo {
    country: String,
    timestamp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    flag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latitude: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    longitude: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continent: Option<String>,
}

/// Answers one request as `api/geo.rs` does for `GET /api/geo` (any other
/// path or method: an empty `404`): `country` from `x-vercel-ip-country`,
/// trimmed and upper-cased when it is two ASCII letters, else `US`; the
/// epoch milliseconds; the optional fields when the platform sent them.
pub fn answer(method: &Method, path: &str, headers: &HeaderMap) -> Response<Bytes> {
    if path != GEO_PATH || (method != Method::GET && method != Method::HEAD) {
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NOT_FOUND;
        return res;
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let country = text("x-vercel-ip-country")
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|c| c.to_ascii_uppercase());
    let geo = Geo {
        flag: country.as_deref().map(|c| {
            c.bytes()
                .filter_map(|b| char::from_u32(0x1F1E6 + u32::from(b - b'A')))
                .collect()
        }),
        country: country.unwrap_or_else(|| "US".to_owned()),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        city: text("x-vercel-ip-city").map(|raw| {
            percent_decode_str(&raw)
                .decode_utf8()
                .map(|c| c.into_owned())
                .unwrap_or(raw)
        }),
        country_region: text("x-vercel-ip-country-region"),
        latitude: text("x-vercel-ip-latitude"),
        longitude: text("x-vercel-ip-longitude"),
        postal_code: text("x-vercel-ip-postal-code"),
        timezone: text("x-vercel-ip-timezone"),
        continent: text("x-vercel-ip-continent"),
    };
    let body = serde_json::to_vec(&geo).unwrap_or_default();
    let mut res = Response::new(if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    });
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(res: &Response<Bytes>) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        v["timestamp"] = 0.into();
        v
    }

    #[test]
    fn same_json_and_headers_as_the_project() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("x-vercel-ip-country", " de "),
            ("x-vercel-ip-city", "M%C3%BCnchen"),
            ("x-vercel-ip-timezone", "Europe/Berlin"),
        ] {
            headers.insert(k, HeaderValue::from_static(v));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for h in [HeaderMap::new(), headers] {
            let ours = answer(&Method::GET, GEO_PATH, &h);
            let mut req = http::Request::get(GEO_PATH)
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap();
            *req.headers_mut() = h.clone();
            let config = vercel_rust_api::Config::default();
            let theirs = rt.block_on(vercel_rust_api::geo::handle(&config, req));
            assert_eq!(ours.status(), theirs.status());
            assert_eq!(json(&ours), json(&theirs));
            for name in ["content-type", "cache-control", "x-content-type-options"] {
                assert_eq!(
                    ours.headers().get(name),
                    theirs.headers().get(name),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn other_paths_are_404() {
        let res = answer(&Method::GET, "/api/other", &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
