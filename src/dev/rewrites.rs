//! The routing half of `vercel.json` that the dev server applies, so that
//! routes are defined in one place for Vercel and for `cargo run` alike.
//!
//! Supported: `rewrites` whose `source` is made of literal segments, `:name`
//! (one non-empty segment), and as the last segment either `:name*` (zero or
//! more non-empty segments, as Vercel compiles it: no trailing slash) or
//! `(.*)` (anything, `$1` in the destination); `destination` may use those
//! names and carry a query. Keys that change routing in ways the dev server
//! does not apply are reported at start-up.
//!
//! The catch-alls of the project's `vercel.json` send every other `/api` path
//! to the `geo` function, which answers it with the contract's `404` JSON
//! (without them Vercel answers its own text `404`).

use serde::Deserialize;

/// The parts of `vercel.json` the dev server reads.
#[derive(Debug, Deserialize)]
struct VercelJson {
    #[serde(default)]
    rewrites: Vec<RawRewrite>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawRewrite {
    source: String,
    destination: String,
}

/// Keys of `vercel.json` that route requests, other than `rewrites`.
const UNAPPLIED_ROUTING_KEYS: &[&str] = &[
    "routes",
    "redirects",
    "headers",
    "cleanUrls",
    "trailingSlash",
];

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `:name*`: zero or more non-empty segments.
    Segments(String),
    /// `(.*)`: the rest of the path, whatever it is.
    Rest,
}

/// One compiled rewrite rule.
#[derive(Debug, Clone)]
pub struct Rewrite {
    source: Vec<Segment>,
    destination: String,
}

/// The rewrite rules of a project, in order.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    rules: Vec<Rewrite>,
    /// Routing keys present in `vercel.json` that the dev server ignores.
    pub unapplied: Vec<String>,
}

impl Rewrites {
    /// Parses the text of `vercel.json`; an unsupported pattern is an error
    /// that names it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: VercelJson =
            serde_json::from_str(text).map_err(|e| format!("vercel.json is not valid: {e}"))?;
        let rules = raw
            .rewrites
            .into_iter()
            .map(|r| {
                Ok(Rewrite {
                    source: compile(&r.source)?,
                    destination: r.destination,
                })
            })
            .collect::<Result<_, String>>()?;
        let unapplied = UNAPPLIED_ROUTING_KEYS
            .iter()
            .filter(|k| raw.other.contains_key(**k))
            .map(|k| (*k).to_owned())
            .collect();
        Ok(Self { rules, unapplied })
    }

    /// The destination (path and query) of the first rule matching `path`,
    /// with its parameters filled in from the raw (still encoded) segments.
    pub fn apply(&self, path: &str) -> Option<String> {
        self.rules.iter().find_map(|r| r.apply(path))
    }
}

fn compile(source: &str) -> Result<Vec<Segment>, String> {
    let unsupported = || format!("unsupported rewrite source {source:?}");
    let body = source.strip_prefix('/').ok_or_else(unsupported)?;
    let parts: Vec<&str> = body.split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let name_ok = |n: &str| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if *part == "(.*)" && i == last {
                return Ok(Segment::Rest);
            }
            if let Some(name) = part.strip_prefix(':') {
                if let Some(rest) = name.strip_suffix('*') {
                    if i == last && name_ok(rest) {
                        return Ok(Segment::Segments(rest.to_owned()));
                    }
                } else if name_ok(name) {
                    return Ok(Segment::Param(name.to_owned()));
                }
                Err(unsupported())
            } else if part.bytes().any(|b| b"()?*+:[]{}\\".contains(&b)) {
                Err(unsupported())
            } else {
                Ok(Segment::Literal((*part).to_owned()))
            }
        })
        .collect()
}

impl Rewrite {
    fn apply(&self, path: &str) -> Option<String> {
        let given: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut params: Vec<(&str, String)> = Vec::new();
        for (i, seg) in self.source.iter().enumerate() {
            match seg {
                Segment::Literal(lit) => {
                    if given.get(i) != Some(&lit.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let v = given.get(i).filter(|v| !v.is_empty())?;
                    params.push((name, (*v).to_owned()));
                }
                Segment::Segments(name) => {
                    // `/api/:path*` matches `/api` (no segment) but, as on
                    // Vercel, no path with an empty segment (`/api/`, `/api/x/`).
                    let rest = given.get(i..).unwrap_or_default();
                    if rest.iter().any(|s| s.is_empty()) {
                        return None;
                    }
                    params.push((name, rest.join("/")));
                    return Some(self.fill(&params));
                }
                Segment::Rest => {
                    // The slash before `(.*)` is literal: `/api` is no match.
                    let rest = given.get(i..).filter(|r| !r.is_empty())?;
                    params.push(("$1", rest.join("/")));
                    return Some(self.fill(&params));
                }
            }
        }
        (given.len() == self.source.len()).then(|| self.fill(&params))
    }

    fn fill(&self, params: &[(&str, String)]) -> String {
        // Longest names first, so `:id` does not eat the start of `:idx`.
        let mut sorted: Vec<_> = params.iter().collect();
        sorted.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        let mut out = self.destination.clone();
        for (name, value) in sorted {
            let placeholder = if name.starts_with('$') {
                (*name).to_owned()
            } else {
                format!(":{name}")
            };
            out = out.replace(&placeholder, value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rewrites {
        Rewrites::parse(
            r#"{"rewrites":[
                {"source":"/api/users/:id","destination":"/api/users?id=:id"},
                {"source":"/api/:path*","destination":"/api/geo?path=:path"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn one_segment_param_fills_the_query() {
        assert_eq!(
            rules().apply("/api/users/42").as_deref(),
            Some("/api/users?id=42")
        );
        assert_eq!(
            rules().apply("/api/users/a%20b").as_deref(),
            Some("/api/users?id=a%20b")
        );
    }

    #[test]
    fn star_param_takes_non_empty_segments_like_vercel() {
        let r = rules();
        assert_eq!(
            r.apply("/api/users/1/2").as_deref(),
            Some("/api/geo?path=users/1/2")
        );
        assert_eq!(r.apply("/api/nope").as_deref(), Some("/api/geo?path=nope"));
        assert_eq!(r.apply("/api").as_deref(), Some("/api/geo?path="));
        // Vercel compiles `:path*` to a regex that no trailing slash matches.
        assert_eq!(r.apply("/api/users/"), None);
        assert_eq!(r.apply("/api/"), None);
        assert_eq!(r.apply("/other"), None);
    }

    #[test]
    fn regex_rest_takes_anything() {
        let r = Rewrites::parse(
            r#"{"rewrites":[{"source":"/api/(.*)","destination":"/api/geo?rest=$1"}]}"#,
        )
        .unwrap();
        assert_eq!(r.apply("/api/").as_deref(), Some("/api/geo?rest="));
        assert_eq!(
            r.apply("/api/users/7/").as_deref(),
            Some("/api/geo?rest=users/7/")
        );
        assert_eq!(r.apply("/api"), None);
    }

    #[test]
    fn unsupported_patterns_are_refused_by_name() {
        let err =
            Rewrites::parse(r#"{"rewrites":[{"source":"/api/:id(\\d+)","destination":"/"}]}"#)
                .unwrap_err();
        assert!(err.contains(r"/api/:id(\\d+)"), "{err}");
    }

    #[test]
    fn unapplied_routing_keys_are_reported() {
        let r = Rewrites::parse(r#"{"$schema":"x","headers":[],"functions":{}}"#).unwrap();
        assert_eq!(r.unapplied, ["headers"]);
    }

    #[test]
    fn the_projects_vercel_json_parses() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/vercel.json")).unwrap();
        let r = Rewrites::parse(&text).unwrap();
        assert!(r.unapplied.is_empty());
        assert_eq!(r.apply("/api/users/7").as_deref(), Some("/api/users?id=7"));
        for path in [
            "/api",
            "/api/",
            "/api/nope",
            "/api/users/",
            "/api/users/7/",
            "/api/geo/x",
        ] {
            assert_eq!(r.apply(path).as_deref(), Some("/api/geo"), "{path}");
        }
    }
}
