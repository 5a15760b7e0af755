//! Monte Carlo sampling core: uncertain-parameter [`Distribution`]s, sampled by inverse CDF
//! (`quantile`) from design points produced by a [`Sampler`] (random, Latin hypercube or
//! Sobol).
//!
//! A run's parameter values are `dist_j.quantile(u_j)` where `u` is the run's point:
//!
//! ```
//! use careshift::montecarlo::{Distribution, Sampler, SamplingMethod};
//!
//! let params = [
//!     Distribution::Triangular { low: 0.1, mode: 0.2, high: 0.4 },
//!     Distribution::Normal { mean: 10.0, sd: 2.0, low: Some(0.0), high: None },
//! ];
//! for d in &params {
//!     d.validate().unwrap();
//! }
//! let sampler = Sampler::new(SamplingMethod::LatinHypercube, 42, 100, params.len()).unwrap();
//! let mut u = vec![0.0; params.len()];
//! sampler.point(7, &mut u); // any run, in any order, on any thread
//! let values: Vec<f64> = params.iter().zip(&u).map(|(d, &u)| d.quantile(u)).collect();
//! assert!(values[1] >= 0.0);
//! ```

pub mod distributions;
pub mod sampling;

pub use distributions::Distribution;
pub use sampling::{Sampler, SamplingMethod};
