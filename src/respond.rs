//! Response building shared by every route: JSON bodies, the headers every
//! `/api/*` answer carries, `OPTIONS`, CORS and `HEAD`, and reading a request
//! body under a size limit.

use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;

use crate::config::Config;
use crate::error::ApiError;

/// The largest request body a write accepts (64 KiB); `413` beyond.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON response. Serialising the crate's own types cannot fail; if it ever
/// did, the client still gets JSON.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Bytes> {
    json_sized(status, value, 128)
}

/// [`json`] into a buffer of `capacity` bytes to start with, for bodies whose
/// size is known roughly (a page of users), so that it is not regrown.
pub fn json_sized<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    capacity: usize,
) -> Response<Bytes> {
    let mut body = Vec::with_capacity(capacity);
    if serde_json::to_writer(&mut body, value).is_err() {
        body = br#"{"error":"Internal server error"}"#.to_vec();
    }
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, JSON);
    res
}

/// The `{"error": "..."}` body that every failure uses.
pub fn json_error(status: StatusCode, message: &str) -> Response<Bytes> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
    }
    json(status, &ErrorBody { error: message })
}

/// What a route needs to know about the request to finish its response.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The request method (`HEAD` answers drop the body).
    pub method: Method,
    /// The `Origin` header, when the request is cross-origin.
    pub origin: Option<HeaderValue>,
}

impl RequestMeta {
    /// Takes what [`finish`] needs from the request head.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        Self {
            method: method.clone(),
            origin: headers.get(header::ORIGIN).cloned(),
        }
    }
}

/// The `204` answer to `OPTIONS`: `Allow`, and the CORS preflight headers
/// when the request's `Origin` is one that `CORS_ALLOW_ORIGINS` lists.
pub fn options(config: &Config, meta: &RequestMeta, allow: &'static str) -> Response<Bytes> {
    let mut res = Response::new(Bytes::new());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(allow));
    if allowed_origin(config, meta).is_some() {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(allow),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    res
}

fn allowed_origin<'a>(config: &Config, meta: &'a RequestMeta) -> Option<&'a HeaderValue> {
    let origin = meta.origin.as_ref()?;
    let origin_str = origin.to_str().ok()?;
    config
        .cors_allow_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin_str))
        .then_some(origin)
}

/// Adds the headers every `/api/*` response carries, and drops the body of a
/// `HEAD` answer while keeping its `Content-Length`.
pub fn finish(config: &Config, meta: &RequestMeta, mut res: Response<Bytes>) -> Response<Bytes> {
    let allowed = allowed_origin(config, meta).cloned();
    let h = res.headers_mut();
    // Answers are per visitor or change with writes: no shared caching.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !config.cors_allow_origins.is_empty() {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Location, Retry-After"),
        );
    }
    if meta.method == Method::HEAD {
        let len = res.body().len();
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        *res.body_mut() = Bytes::new();
    }
    res
}

/// How long a write's body may take to arrive once its head has: `408` past it.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a JSON request body: `415` unless it is one `Content-Type:
/// application/json` with no `Content-Encoding` but `identity`, `413` past
/// [`MAX_BODY_BYTES`] (checked against `Content-Length` before reading, and
/// while reading, so an oversized body is never held in memory), `408` past
/// [`BODY_TIMEOUT`]. What is left unread is for [`discard_body`].
pub async fn read_json_body<B>(headers: &HeaderMap, body: &mut B) -> Result<Bytes, ApiError>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Two Content-Types are ambiguous: refused rather than read by the first.
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let is_json = match (types.next(), types.next()) {
        (Some(v), None) => v
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json")),
        _ => false,
    };
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json",
        ));
    }
    let encoded = headers.get_all(header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str()
            .map_or(true, |v| !v.trim().eq_ignore_ascii_case("identity"))
    });
    if encoded {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Encoding is not supported",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect());
    match read.await {
        Err(_elapsed) => Err(ApiError::RequestTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge),
        Ok(Err(_)) => Err(ApiError::BadRequest("Could not read request body")),
    }
}

/// The most of an unread request body that [`discard_body`] reads and drops.
/// Vercel refuses bodies over 4.5 MB before they reach a function.
pub const DISCARD_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// The longest [`discard_body`] waits for a slow client.
pub const DISCARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads and drops what is left of a request body before the answer goes out
/// (at most [`DISCARD_MAX_BYTES`], for at most [`DISCARD_TIMEOUT`]); nothing
/// is kept, so memory stays flat.
///
/// An answer given before the body was read (`401`, `405`, `413`) would
/// otherwise close a connection that the client is still writing to: the
/// kernel then resets it, and the client, or the proxy in front of a function
/// (`vercel dev`, Vercel's own), reports a broken connection or a `500`
/// instead of the answer. Free when the body was read or is empty.
pub async fn discard_body<B>(body: &mut B)
where
    B: Body + Unpin,
{
    if body.is_end_stream() || body.size_hint().lower() > DISCARD_MAX_BYTES {
        return;
    }
    let drain = async {
        let mut seen: u64 = 0;
        while seen <= DISCARD_MAX_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        seen += data.remaining() as u64;
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, drain).await;
}
