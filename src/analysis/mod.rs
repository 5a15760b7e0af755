//! Statistics for analysing runs: pure functions and small structs, no I/O.
//!
//! - [`quantiles`]: summaries of many runs' values — streaming (bounded memory, P²
//!   percentiles), and exact for per-run scalars.
//! - [`column_stats`]: the summaries of every column of a stream of rows (a run's series
//!   values): the rows kept and summarised exactly while few, streamed beyond.
//! - [`metrics`]: scalar metrics of one run's time series — values at a time, window sums,
//!   integrals, discounting, NPV, ROI and break-even.
//! - [`assumptions`]: whether a tested assumption holds across runs — Wilson intervals,
//!   calibrated verdicts, and the uncertain parameters that drive the outcome.
//! - [`sensitivity`]: tornado ranking, Morris μ*/σ and Sobol first/total-order estimators with
//!   bootstrap intervals, from outputs at designed points.
//!
//! This module depends on nothing else in the crate.

pub mod assumptions;
pub mod column_stats;
pub mod metrics;
pub mod quantiles;
pub mod sensitivity;

/// Deterministic test data shared by this module's unit tests.
#[cfg(test)]
pub(crate) mod test_rng {
    /// SplitMix64: a tiny deterministic generator for test data.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next_f64(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }
}
