//! Cold start: spawn to the first `200`, paired A B (B A on odd rounds)
//! against the bare baseline.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::Fail;
use crate::procs::{Spec, spawn};
use crate::stats::{median, median_ratio};

/// One A-against-baseline series.
#[derive(Serialize)]
pub struct ColdPair {
    /// The server measured.
    pub name: &'static str,
    /// The baseline it is paired with.
    pub baseline: &'static str,
    /// Spawn to first 200 of A, in ms, one per round.
    pub a_ms: Vec<f64>,
    /// The same for the baseline, paired.
    pub b_ms: Vec<f64>,
    /// Median of A.
    pub a_median_ms: f64,
    /// Median of the baseline.
    pub b_median_ms: f64,
    /// Median of the per-pair ratios A / baseline.
    pub ratio: f64,
}

/// Spawn to first `200` of one fresh process, in ms; the process is then
/// stopped with SIGTERM (and must exit).
pub fn once(spec: &Spec, logs: &Path) -> Result<f64, Fail> {
    let mut server = spawn(spec, None, logs)?;
    server.until_200(&spec.path, Duration::from_secs(10))?;
    let ms = server.spawned_at.elapsed().as_secs_f64() * 1e3;
    server.stop()?;
    Ok(ms)
}

/// Runs `rounds` rounds; in each, every A and the baseline alternate.
pub fn run(
    subjects: &[Spec],
    baseline: &Spec,
    rounds: usize,
    logs: &Path,
) -> Result<Vec<ColdPair>, Fail> {
    let mut a: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); subjects.len()];
    let mut b: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); subjects.len()];
    // One discarded start of each, so that the first pair does not pay for
    // loading the binaries from disk into the page cache.
    for spec in subjects.iter().chain([baseline]) {
        once(spec, logs)?;
    }
    for round in 0..rounds {
        for (i, spec) in subjects.iter().enumerate() {
            if round.is_multiple_of(2) {
                a[i].push(once(spec, logs)?);
                b[i].push(once(baseline, logs)?);
            } else {
                b[i].push(once(baseline, logs)?);
                a[i].push(once(spec, logs)?);
            }
        }
    }
    Ok(subjects
        .iter()
        .zip(a.into_iter().zip(b))
        .map(|(spec, (a_ms, b_ms))| ColdPair {
            name: spec.name,
            baseline: baseline.name,
            a_median_ms: median(&a_ms),
            b_median_ms: median(&b_ms),
            ratio: median_ratio(&a_ms, &b_ms),
            a_ms,
            b_ms,
        })
        .collect())
}
