//! `/api/users`: a page of users, one user, and (with a token) writes.
//!
//! Routes, as the function sees them on Vercel (a rewrite keeps the original
//! path and adds `?id=`): `/api/users` is the collection; `/api/users/ID`,
//! `/api/users?id=ID` and `/api/users/ID?id=ID` are one user. Any other path
//! that reaches this function is a `404`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::App;
use crate::error::ApiError;
use crate::respond::{self, RequestMeta};
use crate::store::{User, UserPatch};

/// The collection's path.
pub const PATH: &str = "/api/users";
const ALLOW_COLLECTION: &str = "GET, HEAD, POST, OPTIONS";
const ALLOW_ITEM: &str = "GET, HEAD, PATCH, DELETE, OPTIONS";
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;
const NAME_MAX_CHARS: usize = 100;
const EMAIL_MAX_CHARS: usize = 254;

/// The body of `GET /api/users`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageBody {
    /// The users of this page, in a stable order.
    pub users: Vec<std::sync::Arc<User>>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Serves every request that reaches the users function.
pub async fn handle<B>(app: &App, req: Request<B>) -> Response<Bytes>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let meta = RequestMeta::of(req.method(), req.headers());
    let (parts, mut body) = req.into_parts();
    let res = route(app, &meta, &parts, &mut body)
        .await
        .unwrap_or_else(ApiError::into_response);
    // A body that timed out is not waited for a second time.
    if res.status() != StatusCode::REQUEST_TIMEOUT {
        respond::discard_body(&mut body).await;
    }
    respond::finish(&app.config, &meta, res)
}

enum Target {
    Collection,
    /// One user: the id as given, or why it cannot be one (answered after
    /// the token is checked, so that an anonymous write learns nothing).
    Item(Result<String, ApiError>),
}

async fn route<B>(
    app: &App,
    meta: &RequestMeta,
    parts: &Parts,
    body: &mut B,
) -> Result<Response<Bytes>, ApiError>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let query = Query::parse(parts.uri.query());
    let target = target(parts.uri.path(), &query)?;
    let method = &parts.method;
    match target {
        Target::Collection => match *method {
            Method::GET | Method::HEAD => list(app, &query).await,
            Method::POST => {
                authorize(app, parts)?;
                create(app, parts, body).await
            }
            Method::OPTIONS => Ok(respond::options(&app.config, meta, ALLOW_COLLECTION)),
            _ => Err(ApiError::MethodNotAllowed {
                allow: ALLOW_COLLECTION,
            }),
        },
        Target::Item(raw_id) => {
            let allowed = matches!(
                *method,
                Method::GET | Method::HEAD | Method::PATCH | Method::DELETE | Method::OPTIONS
            );
            if !allowed {
                return Err(ApiError::MethodNotAllowed { allow: ALLOW_ITEM });
            }
            if *method == Method::OPTIONS {
                return Ok(respond::options(&app.config, meta, ALLOW_ITEM));
            }
            // Auth comes first, so that an anonymous client learns nothing
            // about ids or bodies.
            if matches!(*method, Method::PATCH | Method::DELETE) {
                authorize(app, parts)?;
            }
            let id = valid_id(raw_id?)?;
            match *method {
                Method::PATCH => update(app, parts, body, &id).await,
                Method::DELETE => delete(app, &id).await,
                _ => get(app, &id).await,
            }
        }
    }
}

/// Query parameters this route reads, every occurrence kept so that
/// conflicting repeats can be refused.
#[derive(Default)]
struct Query {
    ids: Vec<String>,
    limits: Vec<String>,
    cursors: Vec<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let mut q = Self::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "id" => q.ids.push(v.into_owned()),
                "limit" => q.limits.push(v.into_owned()),
                "cursor" => q.cursors.push(v.into_owned()),
                _ => {}
            }
        }
        q
    }
}

/// The single value of a repeated parameter; `Err` when the repeats differ.
fn single(values: &[String]) -> Result<Option<&str>, ()> {
    match values {
        [] => Ok(None),
        [first, rest @ ..] if rest.iter().all(|v| v == first) => Ok(Some(first)),
        _ => Err(()),
    }
}

fn target(path: &str, query: &Query) -> Result<Target, ApiError> {
    let rest = path.strip_prefix(PATH).ok_or(ApiError::NotFound)?;
    let path_id = match rest {
        // `/api/users/` is not the collection: on Vercel no route takes it to
        // this function (the catch-all answers it with a 404).
        "" => None,
        _ => {
            let seg = rest.strip_prefix('/').ok_or(ApiError::NotFound)?;
            if seg.is_empty() || seg.contains('/') {
                return Err(ApiError::NotFound);
            }
            match percent_decode_str(seg).decode_utf8() {
                Ok(s) => Some(s.into_owned()),
                // Not UTF-8 once decoded: certainly not a valid id.
                Err(_) => return Ok(Target::Item(Err(ApiError::BadRequest("Invalid id")))),
            }
        }
    };
    let mut ids: Vec<String> = query.ids.clone();
    ids.extend(path_id);
    Ok(match single(&ids) {
        Ok(None) => Target::Collection,
        Ok(Some(id)) => Target::Item(Ok(id.to_owned())),
        Err(()) => Target::Item(Err(ApiError::BadRequest("Invalid id"))),
    })
}

fn valid_id(id: String) -> Result<String, ApiError> {
    if id.is_empty() {
        return Err(ApiError::BadRequest("Missing id"));
    }
    if is_valid_id(&id) {
        Ok(id)
    } else {
        Err(ApiError::BadRequest("Invalid id"))
    }
}

/// `^[A-Za-z0-9_-]{1,64}$`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn parse_limit(query: &Query) -> Result<usize, ApiError> {
    const INVALID: ApiError = ApiError::BadRequest("Invalid limit");
    match single(&query.limits).map_err(|()| INVALID)? {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => {
            // Digits only: `+5`, ` 5` and `5.0` are refused like `abc`.
            if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
                return Err(INVALID);
            }
            match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(INVALID),
            }
        }
    }
}

/// A cursor is the last id of the previous page, base64url-encoded so that
/// clients treat it as opaque. It stays valid when that user is deleted.
pub fn encode_cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

fn decode_cursor(query: &Query) -> Result<Option<String>, ApiError> {
    const INVALID: ApiError = ApiError::BadRequest("Invalid cursor");
    let Some(raw) = single(&query.cursors).map_err(|()| INVALID)? else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| INVALID)?;
    let id = String::from_utf8(bytes).map_err(|_| INVALID)?;
    if is_valid_id(&id) {
        Ok(Some(id))
    } else {
        Err(INVALID)
    }
}

async fn list(app: &App, query: &Query) -> Result<Response<Bytes>, ApiError> {
    let limit = parse_limit(query)?;
    let after = decode_cursor(query)?;
    let page = app.store.page(after.as_deref(), limit).await?;
    let next_cursor = match page.users.last() {
        Some(last) if page.has_more => Some(encode_cursor(&last.id)),
        _ => None,
    };
    // A seed user is about 130 bytes of JSON.
    let capacity = 64 + 192 * page.users.len();
    Ok(respond::json_sized(
        StatusCode::OK,
        &PageBody {
            users: page.users,
            next_cursor,
        },
        capacity,
    ))
}

async fn get(app: &App, id: &str) -> Result<Response<Bytes>, ApiError> {
    match app.store.get(id).await? {
        Some(user) => Ok(respond::json(StatusCode::OK, &user)),
        None => Err(ApiError::NotFound),
    }
}

/// `403` when writes are off, `401` unless the bearer token matches
/// (compared in constant time).
fn authorize(app: &App, parts: &Parts) -> Result<(), ApiError> {
    let Some(expected) = &app.config.api_token else {
        return Err(ApiError::WritesDisabled);
    };
    // Two Authorization headers are ambiguous: refused, whatever their order.
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let given = values
        .next()
        .filter(|_| values.next().is_none())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Reads and parses a write's body (the caller has checked the token).
async fn json_object<B>(parts: &Parts, body: &mut B) -> Result<Map<String, Value>, ApiError>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = respond::read_json_body(&parts.headers, body).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => match repeated_key(&bytes) {
            None => Ok(map),
            Some(key) => Err(ApiError::Unprocessable {
                field: shown_field(key),
                message: "given more than once",
            }),
        },
        Ok(_) => Err(ApiError::Unprocessable {
            field: "body".into(),
            message: "must be a JSON object",
        }),
        Err(_) => Err(ApiError::BadRequest("Invalid JSON")),
    }
}

/// The first key that a JSON object gives twice: `serde_json` would keep
/// the last one silently, so `{"name":"a","name":"b"}` is refused instead.
fn repeated_key(object: &[u8]) -> Option<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct FirstRepeat(Option<String>);
    impl<'de> serde::Deserialize<'de> for FirstRepeat {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Keys;
            impl<'de> Visitor<'de> for Keys {
                type Value = FirstRepeat;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstRepeat, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    let mut repeat = None;
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        if repeat.is_none() && seen.contains(&key) {
                            repeat = Some(key);
                        } else {
                            seen.insert(key);
                        }
                    }
                    Ok(FirstRepeat(repeat))
                }
            }
            d.deserialize_map(Keys)
        }
    }
    serde_json::from_slice::<FirstRepeat>(object)
        .ok()
        .and_then(|r| r.0)
}

/// A client's field name as echoed in a `422`: at most 64 characters, the
/// 64th being `…` when it was cut.
fn shown_field(key: String) -> std::borrow::Cow<'static, str> {
    const MAX: usize = 64;
    if key.chars().count() <= MAX {
        return key.into();
    }
    let cut = key
        .char_indices()
        .nth(MAX - 1)
        .map_or(key.len(), |(i, _)| i);
    format!("{}…", &key[..cut]).into()
}

/// Checks the fields of a write; `require_all` for `POST`. Unknown fields
/// (including `id` and `createdAt`, which the server owns) are refused, so
/// that a typo is not silently ignored.
fn validate(mut map: Map<String, Value>, require_all: bool) -> Result<UserPatch, ApiError> {
    let mut patch = UserPatch::default();
    if let Some(v) = map.remove("name") {
        patch.name = Some(valid_name(&v)?);
    } else if require_all {
        return Err(ApiError::Unprocessable {
            field: "name".into(),
            message: "is required",
        });
    }
    if let Some(v) = map.remove("email") {
        patch.email = Some(valid_email(&v)?);
    } else if require_all {
        return Err(ApiError::Unprocessable {
            field: "email".into(),
            message: "is required",
        });
    }
    if let Some(unknown) = map.keys().next() {
        return Err(ApiError::Unprocessable {
            field: shown_field(unknown.clone()),
            message: "unknown or read-only field",
        });
    }
    Ok(patch)
}

fn valid_name(v: &Value) -> Result<String, ApiError> {
    let bad = || ApiError::Unprocessable {
        field: "name".into(),
        message: "must be a string of 1 to 100 characters",
    };
    let name = v.as_str().ok_or_else(bad)?.trim();
    if is_acceptable_name(name) {
        Ok(name.to_owned())
    } else {
        Err(bad())
    }
}

/// 1 to 100 characters (already trimmed), at least one of them visible; no
/// control characters, no line or paragraph separators, and no
/// bidirectional overrides or isolates, which would reorder the text shown
/// after the name. Joiners stay allowed: emoji
/// sequences and several scripts need them.
pub fn is_acceptable_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=NAME_MAX_CHARS).contains(&n)
        && name.chars().any(|c| !is_invisible(c) && !c.is_whitespace())
        && !name.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
}

/// Unicode's default-ignorable code points (`DerivedCoreProperties.txt`):
/// characters shown as nothing, like zero-width spaces and joiners, the BOM,
/// bidirectional marks, variation selectors and tags; and U+2800, the blank
/// Braille pattern, which shows as a space without being one.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{2800}' | '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

fn valid_email(v: &Value) -> Result<String, ApiError> {
    let bad = || ApiError::Unprocessable {
        field: "email".into(),
        message: "must be an email address of at most 254 characters",
    };
    let email = v.as_str().ok_or_else(bad)?.trim();
    if is_plausible_email(email) {
        Ok(email.to_owned())
    } else {
        Err(bad())
    }
}

/// A plausibility check, not RFC 5322: `local@domain.tld`, no spaces,
/// control or invisible characters (an address with a zero-width space looks
/// like another one), at most 254 characters, local part at most 64 bytes.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    email.chars().count() <= EMAIL_MAX_CHARS
        && (1..=64).contains(&local.len())
        && !domain.contains('@')
        && labels_ok
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !email.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || is_invisible(c)
                || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
}

async fn create<B>(app: &App, parts: &Parts, body: &mut B) -> Result<Response<Bytes>, ApiError>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let map = json_object(parts, body).await?;
    let patch = validate(map, true)?;
    let (Some(name), Some(email)) = (patch.name, patch.email) else {
        unreachable!("validate(.., true) requires both fields")
    };
    let user = User {
        id: ulid::Ulid::new().to_string(),
        name,
        email,
        created_at: now_rfc3339(),
    };
    let user = app.store.create(user).await?;
    let mut res = respond::json(StatusCode::CREATED, &user);
    let location = format!("{PATH}/{}", user.id);
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn update<B>(
    app: &App,
    parts: &Parts,
    body: &mut B,
    id: &str,
) -> Result<Response<Bytes>, ApiError>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let map = json_object(parts, body).await?;
    let patch = validate(map, false)?;
    match app.store.update(id, patch).await? {
        Some(user) => Ok(respond::json(StatusCode::OK, &user)),
        None => Err(ApiError::NotFound),
    }
}

async fn delete(app: &App, id: &str) -> Result<Response<Bytes>, ApiError> {
    if app.store.delete(id).await? {
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        Ok(res)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Now, as RFC 3339 UTC to the second (`2026-01-31T12:00:00Z`).
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    // Formatting a UTC time in years 0-9999 as RFC 3339 cannot fail.
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("abc_DEF-123"));
        assert!(is_valid_id(&"a".repeat(64)));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
        assert!(!is_valid_id(".."));
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "ü@exämple.de"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a@@b.co",
            "a b@c.co",
            "a@b..co",
            "a@.b.co",
            ".a@b.co",
            "a..b@c.co",
            "a@-b.co",
            "<a@b.co>",
            "a\u{200B}@b.co",
            "a@b.co\u{FEFF}",
            "a@b\u{00AD}c.co",
            "a\u{2800}@b.co",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
        assert_eq!(long.len(), 255);
        assert!(!is_plausible_email(&long));
        assert!(is_plausible_email(&long[1..]));
    }

    #[test]
    fn names() {
        for ok in [
            "Ada",
            "محمد",
            "👩\u{200D}💻 Ada",
            "نامه\u{200C}ای",
            &"x".repeat(100),
        ] {
            assert!(is_acceptable_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            "\u{200B}",
            "\u{FEFF}\u{200D}",
            "Ada\u{202E}txt",
            "\u{2067}Ada",
            "A\nB",
            "A\u{0085}",
            "A\u{2028}B",
            "\u{2800}\u{2800}",
            &"x".repeat(101),
        ] {
            assert!(!is_acceptable_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn cursor_round_trips() {
        let q = Query {
            cursors: vec![encode_cursor("01ABC")],
            ..Query::default()
        };
        assert_eq!(decode_cursor(&q).ok().flatten().as_deref(), Some("01ABC"));
    }

    #[test]
    fn timestamps_are_rfc3339_utc_seconds() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z'));
    }
}
