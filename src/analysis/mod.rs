//! Statistics for analysing runs: pure functions and small structs, no I/O.
//!
//! - [`quantiles`]: summaries of many runs' values — streaming (flat memory, P² quantiles) for
//!   time series, exact for per-run scalars.
//! - [`metrics`]: scalar metrics of one run's time series — values at a time, window sums,
//!   integrals, discounting, NPV, ROI and break-even.
//! - [`assumptions`]: whether a tested assumption holds across runs — Wilson intervals,
//!   calibrated verdicts, and the uncertain parameters that drive the outcome.
//! - [`sensitivity`]: tornado ranking, Morris μ*/σ and Sobol first/total-order estimators with
//!   bootstrap intervals, from outputs at designed points.
//!
//! This module depends on nothing else in the crate.

pub mod assumptions;
pub mod metrics;
pub mod quantiles;
pub mod sensitivity;
