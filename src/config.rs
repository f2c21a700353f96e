//! Settings, read once from the environment when a process starts.

use std::fmt;

/// A value that must never reach a log: its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The Redis key prefix when `REDIS_KEY_PREFIX` is unset.
pub const DEFAULT_KEY_PREFIX: &str = "users";

/// The whole configuration of a function or of the dev server.
#[derive(Debug, Clone)]
pub struct Config {
    /// `REDIS_URL`, else `KV_URL` (`redis://` or `rediss://`): the production
    /// store. Unset: the embedded store with the bundled seed data. May hold
    /// a password, hence secret.
    pub redis_url: Option<Secret>,
    /// `REDIS_KEY_PREFIX`: the prefix of the store's keys in Redis (default
    /// `users`), so that several deployments or test runs can share a server.
    pub redis_key_prefix: String,
    /// `API_TOKEN`: the bearer token that writes must carry, without
    /// surrounding spaces (HTTP trims them from a header). Unset or empty:
    /// writes are switched off (`403`).
    pub api_token: Option<Secret>,
    /// `CORS_ALLOW_ORIGINS`, comma separated: origins (like
    /// `https://app.example.com`) allowed to call the API from a browser,
    /// compared without regard to case. Empty: same-origin only. `*` and
    /// `null` are ignored with a warning: a wildcard would let any site
    /// write with a token it got hold of, and `null` is the origin of
    /// sandboxed frames and local files.
    pub cors_allow_origins: Vec<String>,
}

impl Default for Config {
    /// No Redis, writes off, same-origin only.
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl Config {
    /// Reads the environment. Never fails: a bad value is reported where it is
    /// used (a malformed `REDIS_URL` answers `503` and is logged at start-up).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            redis_url: non_empty("REDIS_URL")
                .or_else(|| non_empty("KV_URL"))
                .map(|v| Secret::new(v.trim())),
            redis_key_prefix: non_empty("REDIS_KEY_PREFIX")
                .map(|p| p.trim().to_owned())
                .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned()),
            api_token: non_empty("API_TOKEN").map(|t| Secret::new(t.trim())),
            cors_allow_origins: lookup("CORS_ALLOW_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| match o.as_str() {
                    "" => false,
                    "*" | "null" => {
                        eprintln!("warning: CORS_ALLOW_ORIGINS: `{o}` is not supported and is ignored; list each origin");
                        false
                    }
                    _ => true,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Config::from_lookup(|n| match n {
            "REDIS_URL" => Some("redis://:hunter2@host:6379".into()),
            "API_TOKEN" => Some("s3cret-token".into()),
            _ => None,
        });
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn kv_url_is_the_fallback_and_values_are_trimmed() {
        let c = Config::from_lookup(|n| match n {
            "KV_URL" => Some("rediss://kv:6380".into()),
            "REDIS_URL" => Some("  ".into()),
            "CORS_ALLOW_ORIGINS" => {
                Some(" https://a.example , ,https://B.example/, *, null ".into())
            }
            "API_TOKEN" => Some(" tok ".into()),
            _ => None,
        });
        assert_eq!(c.redis_url.unwrap().expose(), "rediss://kv:6380");
        assert_eq!(
            c.cors_allow_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(c.api_token.unwrap().expose(), "tok");
    }
}
