//! The one error type of the HTTP layer, and the single place where it becomes a response.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::respond::json_error;
use crate::store::StoreError;

/// Everything a handler can answer other than success.
///
/// Each variant documents its status. 5xx causes are logged by
/// [`ApiError::into_response`] and never shown to the client.
#[derive(Debug)]
pub enum ApiError {
    /// `400`: the request is malformed; the message says which part.
    BadRequest(&'static str),
    /// `401` with `WWW-Authenticate: Bearer`: a write without a valid token.
    Unauthorized,
    /// `403`: writes are switched off (no `API_TOKEN` configured).
    WritesDisabled,
    /// `404`: no such route or no such user.
    NotFound,
    /// `405` with `Allow`: the route exists but does not serve this method.
    MethodNotAllowed {
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// `409`: the write conflicts with existing data (an email already taken).
    Conflict(&'static str),
    /// `408`: the request body did not arrive in time.
    RequestTimeout,
    /// `413`: the request body is larger than the limit.
    PayloadTooLarge,
    /// `415`: a body that is not plain `application/json`; the message says
    /// what is wrong with it.
    UnsupportedMediaType(&'static str),
    /// `422`: a field breaks a rule; `field` names it.
    Unprocessable {
        /// The JSON field at fault.
        field: std::borrow::Cow<'static, str>,
        /// What the rule is.
        message: &'static str,
    },
    /// `503` with `Retry-After`: the store did not answer in time or is down.
    Unavailable(StoreError),
    /// `500`: a bug or corrupt data; the cause goes to the log only.
    Internal(StoreError),
}

/// Seconds a client should wait before retrying after a `503`.
pub const RETRY_AFTER_SECS: u32 = 2;

impl ApiError {
    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::WritesDisabled => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Turns the error into its JSON response; 5xx causes are logged here, once.
    pub fn into_response(self) -> Response<Bytes> {
        let status = self.status();
        let mut res = match &self {
            Self::BadRequest(msg) | Self::Conflict(msg) | Self::UnsupportedMediaType(msg) => {
                json_error(status, msg)
            }
            Self::Unauthorized => json_error(status, "Missing or invalid bearer token"),
            Self::WritesDisabled => json_error(status, "Writes are disabled"),
            Self::NotFound => json_error(status, "Not found"),
            Self::MethodNotAllowed { .. } => json_error(status, "Method not allowed"),
            Self::RequestTimeout => json_error(status, "Request body timed out"),
            Self::PayloadTooLarge => json_error(status, "Request body too large"),
            Self::Unprocessable { field, message } => crate::respond::json(
                status,
                &serde_json::json!({ "error": format!("Invalid {field}: {message}"), "field": field }),
            ),
            Self::Unavailable(cause) => {
                eprintln!("{cause}");
                json_error(status, "Service temporarily unavailable")
            }
            Self::Internal(cause) => {
                eprintln!("internal error: {cause}");
                json_error(status, "Internal server error")
            }
        };
        let headers = res.headers_mut();
        match self {
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            _ => {}
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable(e),
            StoreError::EmailTaken | StoreError::SeedEmailTaken { .. } => {
                Self::Conflict("Email already taken")
            }
            StoreError::Corrupt(_) => Self::Internal(e),
        }
    }
}
