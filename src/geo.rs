//! `GET /api/geo`: where the visitor is, from the headers Vercel's edge adds.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::config::Config;
use crate::error::ApiError;
use crate::respond::{self, RequestMeta};

/// The path this function serves.
pub const PATH: &str = "/api/geo";
const ALLOW: &str = "GET, HEAD, OPTIONS";
/// The country when the platform sends none (as under `vercel dev`).
pub const DEFAULT_COUNTRY: &str = "US";

/// The answer. Field names follow `geolocation()` of `@vercel/functions`;
/// optional fields are left out when the platform did not send them.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Geo {
    /// ISO 3166-1 alpha-2, upper case; `US` when unknown.
    pub country: String,
    /// Milliseconds since the Unix epoch when the answer was made.
    pub timestamp: u64,
    /// The emoji flag of `country`, when the platform sent a country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The city, percent-decoded (raw when the encoding is not valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// ISO 3166-2 region code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_region: Option<String>,
    /// As sent by the platform (a decimal string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    /// As sent by the platform (a decimal string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// IANA time zone name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Two-letter continent code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continent: Option<String>,
}

/// Serves `/api/geo` (any other path: `404`).
pub async fn handle<B>(config: &Config, req: Request<B>) -> Response<Bytes>
where
    B: http_body::Body + Unpin,
{
    let meta = RequestMeta::of(req.method(), req.headers());
    let res = if req.uri().path() != PATH {
        ApiError::NotFound.into_response()
    } else {
        match *req.method() {
            Method::GET | Method::HEAD => {
                respond::json(StatusCode::OK, &locate(req.headers(), now_millis()))
            }
            Method::OPTIONS => respond::options(config, &meta, ALLOW),
            _ => ApiError::MethodNotAllowed { allow: ALLOW }.into_response(),
        }
    };
    respond::discard_body(&mut req.into_body()).await;
    respond::finish(config, &meta, res)
}

/// Reads the geolocation headers. Pure, so tests can pin the timestamp.
pub fn locate(headers: &HeaderMap, timestamp: u64) -> Geo {
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
    Geo {
        flag: country.as_deref().map(flag),
        country: country.unwrap_or_else(|| DEFAULT_COUNTRY.to_owned()),
        timestamp,
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
    }
}

/// The flag emoji: each ASCII letter maps to its regional indicator symbol.
fn flag(country: &str) -> String {
    country
        .bytes()
        .filter_map(|b| char::from_u32(0x1F1E6 + u32::from(b - b'A')))
        .collect()
}

/// What JavaScript's `Date.now()` gives.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn country_rules() {
        for (raw, want) in [
            (&b"de"[..], "DE"),
            (b" fr ", "FR"),
            (b"", "US"),
            (b"DEU", "US"),
            (b"D1", "US"),
            (b"\xc3\xa9e", "US"),
            (b"\xff\xfe", "US"),
        ] {
            let geo = locate(&headers(&[("x-vercel-ip-country", raw)]), 1);
            assert_eq!(geo.country, want, "header {raw:?}");
        }
        assert_eq!(locate(&HeaderMap::new(), 1).country, "US");
    }

    #[test]
    fn flag_is_regional_indicators() {
        assert_eq!(flag("DE"), "\u{1F1E9}\u{1F1EA}");
        assert_eq!(flag("US"), "\u{1F1FA}\u{1F1F8}");
    }

    #[test]
    fn city_is_decoded_or_kept_raw() {
        let city = |raw: &'static [u8]| locate(&headers(&[("x-vercel-ip-city", raw)]), 1).city;
        assert_eq!(city(b"S%C3%A3o%20Paulo").as_deref(), Some("São Paulo"));
        assert_eq!(city(b"Bad%FFCity").as_deref(), Some("Bad%FFCity"));
        assert_eq!(city(b"100%").as_deref(), Some("100%"));
        assert_eq!(city(b"").as_deref(), None);
    }
}
