//! Uniform (0, 1) design points for Monte Carlo runs.
//!
//! A [`Sampler`] hands out run `i`'s point on demand, as a pure function of
//! `(method, seed, runs, dims, i)`: runs can be computed in any order, on any thread, by any
//! number of workers, and the results are bit-for-bit the same. Nothing is precomputed: a
//! sampler is a few words of state, whatever the number of runs.
//!
//! * **Random**: ChaCha8 keyed by the seed, one stream (nonce) per run.
//! * **Latin hypercube**: in dimension `j`, run `i` lands in stratum `π_j(i)` of `runs` equal
//!   strata, where `π_j` is a keyed pseudo-random permutation (a Feistel network with cycle
//!   walking, evaluated in O(1) time and memory), jittered uniformly within the stratum by the
//!   run's own ChaCha8 stream.
//! * **Sobol**: Owen-scrambled Sobol points from `sobol_burley`, seeded. Limited to
//!   [`SOBOL_MAX_DIMS`] dimensions and [`SOBOL_MAX_RUNS`] runs; best balanced when `runs` is a
//!   power of two.
//!
//! All three are value-stable: they use no `rand` distribution code (whose output may change
//! between versions), only ChaCha8's specified key stream and local conversions.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most dimensions (uncertain parameters) Sobol sampling supports: the number of direction
/// vectors built into `sobol_burley` (256).
pub const SOBOL_MAX_DIMS: usize = sobol_burley::NUM_DIMENSIONS as usize;
/// Most runs Sobol sampling supports: `sobol_burley`'s maximum sequence length, 2^16.
pub const SOBOL_MAX_RUNS: usize = 1 << 16;
/// Most runs Latin hypercube sampling supports (2^32; the permutation works on 32-bit indices).
pub const LHS_MAX_RUNS: u64 = 1 << 32;

const FEISTEL_ROUNDS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingMethod {
    Random,
    LatinHypercube,
    Sobol,
}

impl SamplingMethod {
    /// "random", "lhs" or "latin_hypercube" (also "latin-hypercube"), "sobol"; case-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "random" => Some(SamplingMethod::Random),
            "lhs" | "latin_hypercube" => Some(SamplingMethod::LatinHypercube),
            "sobol" => Some(SamplingMethod::Sobol),
            _ => None,
        }
    }

    /// The canonical name, accepted by [`SamplingMethod::parse`].
    pub fn name(self) -> &'static str {
        match self {
            SamplingMethod::Random => "random",
            SamplingMethod::LatinHypercube => "latin_hypercube",
            SamplingMethod::Sobol => "sobol",
        }
    }
}

/// Uniform (0,1) points for run i of N, dimension j of D. Reproducible: depends only on
/// (method, seed, N, D, i) — never on thread count or on which runs were drawn before.
#[derive(Debug, Clone)]
pub struct Sampler {
    method: SamplingMethod,
    seed: u64,
    runs: usize,
    dims: usize,
    /// ChaCha8 key, from `ChaCha8Rng::seed_from_u64(seed)`.
    key: [u8; 32],
    /// sobol_burley's seed, a 32-bit hash of `seed`.
    sobol_seed: u32,
    /// Latin hypercube: the permutations act on [0, 2^bits) ⊇ [0, runs).
    bits: u32,
}

impl Sampler {
    /// A sampler for `runs` points in `dims` dimensions.
    ///
    /// Errors: `runs == 0`; Sobol with more than [`SOBOL_MAX_DIMS`] (256) dimensions or more
    /// than [`SOBOL_MAX_RUNS`] (65 536) runs; Latin hypercube with more than 2^32 runs.
    pub fn new(
        method: SamplingMethod,
        seed: u64,
        runs: usize,
        dims: usize,
    ) -> Result<Sampler, String> {
        if runs == 0 {
            return Err("the number of Monte Carlo runs must be at least 1".to_string());
        }
        match method {
            SamplingMethod::Sobol if dims > SOBOL_MAX_DIMS => {
                return Err(format!(
                    "sobol sampling supports at most {SOBOL_MAX_DIMS} uncertain parameters (the dimensions built into sobol_burley), but {dims} are needed; use latin_hypercube or random sampling"
                ));
            }
            SamplingMethod::Sobol if runs > SOBOL_MAX_RUNS => {
                return Err(format!(
                    "sobol sampling supports at most {SOBOL_MAX_RUNS} (2^16) runs (sobol_burley's longest sequence), but {runs} were requested; use fewer runs, or latin_hypercube or random sampling"
                ));
            }
            SamplingMethod::LatinHypercube if runs as u64 > LHS_MAX_RUNS => {
                return Err(format!(
                    "latin hypercube sampling supports at most {LHS_MAX_RUNS} (2^32) runs, but {runs} were requested"
                ));
            }
            _ => {}
        }
        let key = ChaCha8Rng::seed_from_u64(seed).get_seed();
        Ok(Sampler {
            method,
            seed,
            runs,
            dims,
            key,
            sobol_seed: (mix64(seed ^ 0x5eed_50b0_1000_0000) >> 32) as u32,
            bits: usize::BITS - (runs - 1).leading_zeros(),
        })
    }

    pub fn method(&self) -> SamplingMethod {
        self.method
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn runs(&self) -> usize {
        self.runs
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Fill `out` (len = dims) with run `run`'s point; every value strictly inside (0, 1).
    ///
    /// # Panics
    /// If `run >= runs` or `out.len() != dims` (both are bugs in the caller).
    pub fn point(&self, run: usize, out: &mut [f64]) {
        assert!(
            run < self.runs,
            "run {run} out of range: the sampler was built for {} runs",
            self.runs
        );
        assert_eq!(
            out.len(),
            self.dims,
            "the output slice must have one slot per dimension"
        );
        match self.method {
            SamplingMethod::Random => {
                let mut rng = self.stream(run);
                for o in out.iter_mut() {
                    *o = open01(rng.next_u64());
                }
            }
            SamplingMethod::LatinHypercube => {
                let mut rng = self.stream(run);
                let n = self.runs as u64;
                for (j, o) in out.iter_mut().enumerate() {
                    let stratum = self.permute(run as u64, j as u64);
                    *o = in_stratum(stratum, n, open01(rng.next_u64()));
                }
            }
            SamplingMethod::Sobol => {
                for (j, o) in out.iter_mut().enumerate() {
                    let x = sobol_burley::sample(run as u32, j as u32, self.sobol_seed);
                    // x is a multiple of 2^-24 in [0, 1); move it to the middle of its cell,
                    // which keeps every dyadic stratum (up to 2^24 bins) and leaves 0 and 1 out.
                    *o = f64::from(x) + 0.5 / (1u64 << 24) as f64;
                }
            }
        }
    }

    /// The run's own ChaCha8 stream.
    fn stream(&self, run: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(run as u64);
        rng
    }

    /// π_j(i): a keyed bijection of [0, runs), by a Feistel network on [0, 2^bits) with cycle
    /// walking (re-applying the network until the value falls below `runs`; this terminates
    /// because i's cycle contains i itself, and takes under 2 applications on average).
    fn permute(&self, i: u64, dim: u64) -> u64 {
        let n = self.runs as u64;
        if n == 1 {
            return 0;
        }
        let dim_key = mix64(self.seed ^ mix64(dim.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        let mut x = i;
        loop {
            x = feistel(x, self.bits, dim_key);
            if x < n {
                return x;
            }
        }
    }
}

/// A bijection of [0, 2^bits) (bits ≤ 32): an unbalanced Feistel network whose two halves swap
/// sizes every round; after an even number of rounds the layout is back to the original.
fn feistel(x: u64, bits: u32, key: u64) -> u64 {
    let mask = |b: u32| if b == 0 { 0 } else { u64::MAX >> (64 - b) };
    let (mut hb, mut lb) = (bits - bits / 2, bits / 2);
    let (mut hi, mut lo) = (x >> lb, x & mask(lb));
    for round in 0..FEISTEL_ROUNDS {
        let f = mix64(lo ^ key.wrapping_add(round.wrapping_mul(0xd1b5_4a32_d192_ed03)));
        let new_lo = (hi ^ f) & mask(hb);
        hi = lo;
        lo = new_lo;
        (hb, lb) = (lb, hb);
    }
    (hi << lb) | lo
}

/// SplitMix64's finalizer: a bijective 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform double in (0, 1) with 53-bit resolution: k·2^-53 for the top 53 bits k of `x`,
/// with k = 0 mapped to 2^-54 (the middle of the first cell). The largest value is 1 − 2^-53.
fn open01(x: u64) -> f64 {
    let k = x >> 11;
    let scale = 1.0 / (1u64 << 53) as f64;
    if k == 0 {
        0.5 * scale
    } else {
        k as f64 * scale
    }
}

/// `(k + u)/n`, kept (by a couple of ulps) inside the stratum [k/n, (k+1)/n) as computed in
/// floating point, so `floor(x·n) == k` and `k/n ≤ x < (k+1)/n` both hold for the result.
fn in_stratum(k: u64, n: u64, u: f64) -> f64 {
    let nf = n as f64;
    let x = (k as f64 + u) / nf;
    let lo = (k as f64 / nf).next_up().next_up();
    let hi = ((k + 1) as f64 / nf).next_down().next_down();
    if lo <= hi {
        x.max(lo).min(hi)
    } else {
        (k as f64 + 0.5) / nf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SamplingMethod::*;

    const METHODS: [SamplingMethod; 3] = [Random, LatinHypercube, Sobol];

    fn points(s: &Sampler) -> Vec<Vec<f64>> {
        (0..s.runs())
            .map(|i| {
                let mut p = vec![0.0; s.dims()];
                s.point(i, &mut p);
                p
            })
            .collect()
    }

    #[test]
    fn method_names_round_trip() {
        for m in METHODS {
            assert_eq!(SamplingMethod::parse(m.name()), Some(m));
        }
        assert_eq!(SamplingMethod::parse("lhs"), Some(LatinHypercube));
        assert_eq!(
            SamplingMethod::parse("Latin-Hypercube"),
            Some(LatinHypercube)
        );
        assert_eq!(SamplingMethod::parse(" Sobol "), Some(Sobol));
        assert_eq!(SamplingMethod::parse("halton"), None);
    }

    #[test]
    fn new_rejects_what_cannot_be_sampled() {
        for m in METHODS {
            let e = Sampler::new(m, 1, 0, 3).unwrap_err();
            assert!(e.contains("at least 1"), "{e}");
        }
        let e = Sampler::new(Sobol, 1, 64, SOBOL_MAX_DIMS + 1).unwrap_err();
        assert!(e.contains("at most 256 uncertain parameters"), "{e}");
        assert!(Sampler::new(Sobol, 1, 64, SOBOL_MAX_DIMS).is_ok());
        let e = Sampler::new(Sobol, 1, SOBOL_MAX_RUNS + 1, 2).unwrap_err();
        assert!(e.contains("at most 65536 (2^16) runs"), "{e}");
        assert!(Sampler::new(Sobol, 1, SOBOL_MAX_RUNS, 2).is_ok());
        #[cfg(target_pointer_width = "64")]
        {
            let e = Sampler::new(LatinHypercube, 1, (1usize << 32) + 1, 2).unwrap_err();
            assert!(e.contains("at most 4294967296 (2^32) runs"), "{e}");
            assert!(Sampler::new(LatinHypercube, 1, 1usize << 32, 2).is_ok());
            assert!(Sampler::new(Random, 1, usize::MAX, 2).is_ok());
        }
        // Zero dimensions is allowed (nothing uncertain): every point is empty.
        Sampler::new(Sobol, 1, 4, 0).unwrap().point(3, &mut []);
    }

    #[test]
    fn every_value_is_strictly_inside_the_unit_interval() {
        for m in METHODS {
            for (runs, dims) in [(1, 3), (2, 2), (1000, 5), (1024, 7)] {
                let s = Sampler::new(m, 99, runs, dims).unwrap();
                for p in points(&s) {
                    for v in p {
                        assert!(v > 0.0 && v < 1.0, "{}: {v}", m.name());
                    }
                }
            }
        }
        // The conversions at their extremes.
        assert!(open01(0) > 0.0 && open01(u64::MAX) < 1.0);
        assert_eq!(open01(u64::MAX), 1.0 - f64::EPSILON / 2.0);
        assert_eq!(open01(1 << 11), 1.0 / (1u64 << 53) as f64);
    }

    /// Each stratum [k/N, (k+1)/N) gets exactly one run in every dimension.
    #[test]
    fn latin_hypercube_is_stratified() {
        for (runs, dims) in [
            (1000, 5),
            (1, 2),
            (2, 3),
            (3, 3),
            (7, 2),
            (1024, 2),
            (1025, 2),
        ] {
            let s = Sampler::new(LatinHypercube, 2024, runs, dims).unwrap();
            let pts = points(&s);
            for j in 0..dims {
                let mut hits = vec![0u32; runs];
                for p in &pts {
                    let k = (p[j] * runs as f64).floor() as usize;
                    assert!(k < runs);
                    assert!(k as f64 / runs as f64 <= p[j] && p[j] < (k + 1) as f64 / runs as f64);
                    hits[k] += 1;
                }
                assert!(
                    hits.iter().all(|&h| h == 1),
                    "N = {runs}, dimension {j}: strata hit {:?}",
                    hits.iter().filter(|&&h| h != 1).count()
                );
            }
        }
    }

    #[test]
    fn latin_hypercube_dimensions_are_independent_permutations() {
        let n = 1000;
        let s = Sampler::new(LatinHypercube, 5, n, 4).unwrap();
        let pts = points(&s);
        let col = |j: usize| pts.iter().map(|p| p[j]).collect::<Vec<_>>();
        for a in 0..4 {
            for b in a + 1..4 {
                let (x, y) = (col(a), col(b));
                let r = x
                    .iter()
                    .zip(&y)
                    .map(|(x, y)| (x - 0.5) * (y - 0.5))
                    .sum::<f64>()
                    / (n as f64 / 12.0);
                // Spearman-style correlation of independent permutations: sd ≈ 1/√N ≈ 0.03.
                assert!(r.abs() < 0.12, "dimensions {a} and {b}: correlation {r}");
            }
            // And not the identity: run order is not stratum order.
            let in_order = col(a).windows(2).filter(|w| w[0] < w[1]).count();
            assert!((350..650).contains(&in_order), "{in_order}");
        }
    }

    #[test]
    fn feistel_is_a_bijection() {
        for bits in 0..=12 {
            for key in [0, 1, 0xdead_beef, u64::MAX] {
                let size = 1usize << bits;
                let mut seen = vec![false; size];
                for x in 0..size as u64 {
                    let y = feistel(x, bits, key) as usize;
                    assert!(y < size && !seen[y], "bits {bits}, key {key}");
                    seen[y] = true;
                }
            }
        }
        // At the largest supported size the network still stays inside 32 bits.
        for x in [0, 1, u32::MAX as u64] {
            assert!(feistel(x, 32, 7) <= u32::MAX as u64);
        }
    }

    #[test]
    fn stratum_points_stay_in_their_stratum_at_extreme_sizes() {
        for n in [1u64, 2, 3, 10, 1_000_000_007, (1 << 32) - 1, 1 << 32] {
            for k in [0, 1, n / 2, n.saturating_sub(2), n - 1] {
                if k >= n {
                    continue;
                }
                for u in [open01(0), 0.5, open01(u64::MAX)] {
                    let v = in_stratum(k, n, u);
                    assert!(v > 0.0 && v < 1.0, "n {n} k {k} u {u}: {v}");
                    assert_eq!((v * n as f64).floor() as u64, k, "n {n} k {k} u {u}: {v}");
                }
            }
        }
    }

    /// A point depends only on (method, seed, N, D, i): not on the order points are drawn in,
    /// not on the sampler instance, not on the thread.
    #[test]
    fn points_are_reproducible_bit_for_bit() {
        for m in METHODS {
            let (runs, dims) = (300, 6);
            let s = Sampler::new(m, 12345, runs, dims).unwrap();
            let forward = points(&s);
            let mut reverse = vec![Vec::new(); runs];
            for i in (0..runs).rev() {
                let mut p = vec![0.0; dims];
                s.point(i, &mut p);
                reverse[i] = p;
            }
            let fresh: Vec<Vec<f64>> = (0..runs)
                .map(|i| {
                    let mut p = vec![0.0; dims];
                    Sampler::new(m, 12345, runs, dims).unwrap().point(i, &mut p);
                    p
                })
                .collect();
            let threaded: Vec<Vec<f64>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|t| {
                        let s = s.clone();
                        scope.spawn(move || {
                            (t..runs)
                                .step_by(4)
                                .map(|i| {
                                    let mut p = vec![0.0; dims];
                                    s.point(i, &mut p);
                                    (i, p)
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                let mut out = vec![Vec::new(); runs];
                for h in handles {
                    for (i, p) in h.join().unwrap() {
                        out[i] = p;
                    }
                }
                out
            });
            let bits = |v: &Vec<Vec<f64>>| {
                v.iter()
                    .map(|p| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&forward), bits(&reverse), "{}", m.name());
            assert_eq!(bits(&forward), bits(&fresh), "{}", m.name());
            assert_eq!(bits(&forward), bits(&threaded), "{}", m.name());

            // Different seeds give different points.
            let other = points(&Sampler::new(m, 12346, runs, dims).unwrap());
            let same = forward
                .iter()
                .flatten()
                .zip(other.iter().flatten())
                .filter(|(a, b)| a == b)
                .count();
            assert!(
                same < runs * dims / 100,
                "{}: {same} equal values",
                m.name()
            );
        }
    }

    #[test]
    fn random_streams_differ_between_runs() {
        let s = Sampler::new(Random, 3, 1000, 4).unwrap();
        let pts = points(&s);
        let mut firsts: Vec<u64> = pts.iter().map(|p| p[0].to_bits()).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 1000);
        // Within a run, the dimensions are successive draws, not copies.
        assert!(pts.iter().all(|p| p[0] != p[1]));
        // And they look uniform: mean 1/2, variance 1/12.
        let all: Vec<f64> = pts.into_iter().flatten().collect();
        let n = all.len() as f64;
        let mean = all.iter().sum::<f64>() / n;
        let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        assert!((mean - 0.5).abs() < 5.0 * (1.0 / 12.0 / n).sqrt(), "{mean}");
        assert!((var * 12.0 - 1.0).abs() < 0.05, "{var}");
        // The random stream of run i does not depend on N or D (only the first D draws are used).
        let mut a = [0.0; 2];
        let mut b = [0.0; 5];
        Sampler::new(Random, 3, 10, 2).unwrap().point(7, &mut a);
        Sampler::new(Random, 3, 5000, 5).unwrap().point(7, &mut b);
        assert_eq!(a, b[..2]);
    }

    /// The first 2^k points of every dimension put exactly one point in each of 2^k equal bins.
    #[test]
    fn sobol_prefixes_are_stratified() {
        let s = Sampler::new(Sobol, 77, 1 << 10, SOBOL_MAX_DIMS).unwrap();
        let pts = points(&s);
        for j in 0..SOBOL_MAX_DIMS {
            for k in 0..=10 {
                let n = 1usize << k;
                let mut hits = vec![0u32; n];
                for p in &pts[..n] {
                    hits[(p[j] * n as f64).floor() as usize] += 1;
                }
                assert!(hits.iter().all(|&h| h == 1), "dimension {j}, 2^{k} points");
            }
        }
        // Two-dimensional balance too: 2^10 points over a 32 × 32 grid of the first two
        // dimensions, one per cell (a (0, m, 2)-net).
        let mut cells = vec![0u32; 1024];
        for p in &pts {
            let (a, b) = ((p[0] * 32.0) as usize, (p[1] * 32.0) as usize);
            cells[a * 32 + b] += 1;
        }
        assert!(cells.iter().all(|&c| c == 1));
    }
}
