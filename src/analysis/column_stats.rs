//! Statistics of every column of a stream of rows: one row per Monte Carlo run, one column per
//! (arm, output, saved time). Exact while the rows are few enough to keep, streaming beyond.
//!
//! A Monte Carlo run yields a row of a few hundred values (the care scenario: 714), and each
//! column needs a [`Summary`] across runs. While at most `capacity` rows have come, the values
//! are kept, column by column (a round of rows is transposed into the columns: a few stores
//! per value, where a streaming update costs dozens of instructions).
//! [`settle`](ColumnStats::settle) then computes every column's statistics from its kept values
//! — the moments by the same Welford updates in the same run order as [`StreamStats`] (so the
//! same bits), the percentiles exactly (type 7). If a row beyond the capacity comes, the kept
//! values are replayed, column by column in run order, into [`StreamStats`] (P²) and freed,
//! and every later row streams into them: bit for bit what streaming from the first row
//! gives, in memory that stays bounded whatever the number of runs.
//!
//! Why columns and not rows: settling reads each column from start to end, which the
//! hardware prefetches; rows kept as rows made settling read across pages (one 5.7 KB row per
//! value for the care scenario) and wait on memory. See docs/design/engine-performance.md.

use rayon::prelude::*;

use super::quantiles::{
    Moments, StreamStats, Summary, exact_levels_of_sorted, from_total_order_key, total_order_key,
};

/// Columns settled together: their Welford updates are independent chains that the core
/// overlaps (one column's chain, a division per value, would wait on itself).
const SETTLE_BLOCK: usize = 8;

/// Columns transposed together when rows are kept.
const KEEP_BLOCK: usize = 8;

/// Columns a task streams (P²) together: their state (about 0.8 KB each) stays in the core's
/// first-level cache while a round's rows pass through.
const STREAM_CHUNK: usize = 32;

/// Per-column statistics of a stream of equally long rows (see the [module
/// documentation](self)).
#[derive(Debug, Clone)]
pub struct ColumnStats {
    width: usize,
    /// The most rows kept for exact statistics.
    capacity: usize,
    /// Rows taken so far.
    rows: usize,
    /// While keeping: column j's values in `kept[j * capacity..][..rows]`, in arrival order.
    kept: Vec<f64>,
    state: State,
    /// Per column: empty while rows are kept, then the streaming or the exact statistics.
    columns: Vec<StreamStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Rows are kept in `kept`.
    Keeping,
    /// More than `capacity` rows came: `columns` stream (P²), `kept` is empty.
    Streaming,
    /// Final: `columns` hold the statistics, exact if the rows were kept.
    Settled,
}

impl ColumnStats {
    /// Statistics of `width` columns, exact while at most `capacity` rows have come (0: stream
    /// from the first row). The room for the kept values is taken at once, so give the number
    /// of rows expected if it is smaller than the capacity.
    pub fn new(width: usize, capacity: usize) -> Self {
        ColumnStats {
            width,
            capacity,
            rows: 0,
            kept: vec![0.0; width * capacity],
            state: if capacity == 0 {
                State::Streaming
            } else {
                State::Keeping
            },
            columns: vec![StreamStats::new(); width],
        }
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Take `rows`, in order. Streaming statistics are updated in parallel over columns (on
    /// the current rayon pool), each column in row order, so the result does not depend on
    /// the number of threads.
    ///
    /// # Panics
    ///
    /// If a row's length is not the width, or after [`settle`](Self::settle) (bugs in the
    /// caller).
    pub fn extend(&mut self, rows: &[&[f64]]) {
        assert!(self.state != State::Settled, "a row pushed after settle");
        assert!(
            rows.iter().all(|row| row.len() == self.width),
            "a row of the wrong width"
        );
        let mut rest = rows;
        if self.state == State::Keeping {
            let room = self.capacity - self.rows;
            let (kept, more) = rest.split_at(room.min(rest.len()));
            self.keep(kept);
            rest = more;
            if !rest.is_empty() {
                self.replay_kept_values();
            }
        }
        stream_rows(&mut self.columns, rest);
    }

    /// Transposes `rows` (that fit) into the kept columns, a block of [`KEEP_BLOCK`] columns
    /// at a time: each row's values for the block are read at once, and written to the
    /// block's columns (a few cache lines that the next rows continue).
    fn keep(&mut self, rows: &[&[f64]]) {
        if self.width == 0 {
            return;
        }
        let (capacity, first) = (self.capacity, self.rows);
        for (b, block) in self.kept.chunks_mut(KEEP_BLOCK * capacity).enumerate() {
            let columns = b * KEEP_BLOCK..b * KEEP_BLOCK + block.len() / capacity;
            for (r, row) in rows.iter().enumerate() {
                for (c, &x) in row[columns.clone()].iter().enumerate() {
                    block[c * capacity + first + r] = x;
                }
            }
        }
        self.rows += rows.len();
    }

    /// One row too many to keep: from now on, streaming as if from the first row.
    #[cold]
    fn replay_kept_values(&mut self) {
        let (kept, capacity, rows) = (std::mem::take(&mut self.kept), self.capacity, self.rows);
        self.columns
            .par_chunks_mut(STREAM_CHUNK)
            .zip(kept.par_chunks(STREAM_CHUNK * capacity))
            .for_each(|(stats, columns)| {
                for (stat, column) in stats.iter_mut().zip(columns.chunks_exact(capacity)) {
                    column[..rows].iter().for_each(|&x| stat.push(x));
                }
            });
        self.state = State::Streaming;
    }

    /// No more rows will come: exact statistics of the kept values are computed (in parallel
    /// over blocks of columns) and the values freed, so that their memory is not held while
    /// the statistics are reported. Streaming statistics are left as they are.
    pub fn settle(&mut self) {
        if self.state == State::Keeping && self.width > 0 {
            let (capacity, rows) = (self.capacity, self.rows);
            self.columns
                .par_chunks_mut(SETTLE_BLOCK)
                .zip(self.kept.par_chunks_mut(SETTLE_BLOCK * capacity))
                .for_each(|(stats, columns)| {
                    let columns = columns.chunks_exact_mut(capacity).map(|c| &mut c[..rows]);
                    settle_block(columns, stats);
                });
        }
        self.kept = Vec::new();
        self.state = State::Settled;
    }

    /// The statistics of column `j` so far (exact while the rows are kept).
    ///
    /// # Panics
    ///
    /// If `j` is not below the width.
    pub fn summary(&self, j: usize) -> Summary {
        assert!(j < self.width, "column {j} of {}", self.width);
        if self.state == State::Keeping {
            let mut column = self.kept[j * self.capacity..][..self.rows].to_vec();
            let mut one = [StreamStats::new()];
            settle_block(std::iter::once(&mut column[..]), &mut one);
            return one[0].summary();
        }
        self.columns[j].summary()
    }

    /// Every column's [`summary`](Self::summary), in column order.
    pub fn summaries(&self) -> Vec<Summary> {
        (0..self.width).map(|j| self.summary(j)).collect()
    }
}

/// Pushes `rows[r][j]` into `columns[j]` for every j, row after row; chunks of columns in
/// parallel.
fn stream_rows(columns: &mut [StreamStats], rows: &[&[f64]]) {
    if rows.is_empty() {
        return;
    }
    columns
        .par_chunks_mut(STREAM_CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let columns = c * STREAM_CHUNK..c * STREAM_CHUNK + chunk.len();
            for row in rows {
                for (stat, &x) in chunk.iter_mut().zip(&row[columns.clone()]) {
                    stat.push(x);
                }
            }
        });
}

/// The sort key a kept column's room holds as an f64 bit pattern.
fn key_of(held: f64) -> i64 {
    held.to_bits() as i64
}

/// The exact statistics of up to [`SETTLE_BLOCK`] kept columns (values in arrival order),
/// into `block`; the columns' room is reused for their sort keys. One pass over the values
/// computes, per column, Welford's mean and M2 of the finite values in arrival order (the
/// columns' chains interleaved, a value of each in turn) and compacts their sort keys; then
/// each column's keys are sorted, which gives the percentiles and extremes.
///
/// Sorting integer keys that order as `f64::total_cmp` is the cheapest way found to the
/// order statistics (instructions for 400 runs × 714 columns: 23.5 M selecting the order
/// statistics type 7 reads, 19.8 M sorting the keys, 47.6 M an LSD radix sort; a sort
/// comparing with `total_cmp` cost 15 % of a 1,000-run care Monte Carlo).
fn settle_block<'a>(columns: impl Iterator<Item = &'a mut [f64]>, block: &mut [StreamStats]) {
    let mut columns: Vec<&mut [f64]> = columns.collect();
    debug_assert!(columns.len() == block.len() && block.len() <= SETTLE_BLOCK);
    let rows = columns.first().map_or(0, |c| c.len());
    let mut finite = [0usize; SETTLE_BLOCK];
    let mut welford = [Moments::EMPTY; SETTLE_BLOCK];
    for r in 0..rows {
        for (j, column) in columns.iter_mut().enumerate() {
            let x = column[r];
            // The key goes over a value already read (finite[j] ≤ r), and is kept only if x
            // is finite.
            column[finite[j]] = f64::from_bits(total_order_key(x) as u64);
            if x.is_finite() {
                finite[j] += 1;
                welford[j].push_finite_mean(x);
            }
        }
    }
    for (j, (stat, column)) in block.iter_mut().zip(columns).enumerate() {
        // The keys are held as f64 bit patterns (moved, never computed with, so unchanged).
        let keys = &mut column[..finite[j]];
        keys.sort_unstable_by_key(|k| key_of(*k));
        let value = |i: usize| from_total_order_key(key_of(keys[i]));
        let n = keys.len();
        let (min, max) = if n > 0 {
            (value(0), value(n - 1))
        } else {
            (f64::NAN, f64::NAN)
        };
        let ignored = (rows - finite[j]) as u64;
        let moments = Moments::with_sorted_extremes(welford[j], min, max, ignored);
        *stat = StreamStats::exact(moments, exact_levels_of_sorted(n, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::quantiles::exact_summary;
    use crate::analysis::test_rng::Rng;

    /// `n` rows of `width` values: column j scaled by j + 1, a few non-finite values mixed in.
    fn rows(n: usize, width: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut r = Rng(seed);
        (0..n)
            .map(|i| {
                (0..width)
                    .map(|j| match (i * 7 + j * 3) % 97 {
                        5 => f64::NAN,
                        50 => f64::INFINITY,
                        _ => (j as f64 + 1.0) * (r.next_f64() - 0.3),
                    })
                    .collect()
            })
            .collect()
    }

    fn column(rows: &[Vec<f64>], j: usize) -> Vec<f64> {
        rows.iter().map(|r| r[j]).collect()
    }

    /// Each column pushed run by run into its own streaming statistics.
    fn streamed(rows: &[Vec<f64>], width: usize) -> Vec<Summary> {
        (0..width)
            .map(|j| {
                let mut s = StreamStats::new();
                rows.iter().for_each(|r| s.push(r[j]));
                s.summary()
            })
            .collect()
    }

    fn fed(rows: &[Vec<f64>], width: usize, capacity: usize, splits: &[usize]) -> ColumnStats {
        let mut stats = ColumnStats::new(width, capacity);
        let mut from = 0;
        for &to in splits.iter().chain([&rows.len()]) {
            let round: Vec<&[f64]> = rows[from..to].iter().map(Vec::as_slice).collect();
            stats.extend(&round);
            from = to;
        }
        stats
    }

    #[test]
    fn kept_rows_give_exact_percentiles_and_the_streamed_moments_bit_for_bit() {
        // Wider than a settle block and not a multiple of it.
        let width = 2 * SETTLE_BLOCK + 3;
        let capacity = 300;
        for n in [1, 2, 5, 6, 299, 300] {
            let data = rows(n, width, 3);
            let mut stats = fed(&data, width, capacity, &[n / 3, n / 2]);
            let before = stats.summaries();
            stats.settle();
            assert!(stats.kept.capacity() == 0, "{n}: the rows are freed");
            let streamed = streamed(&data, width);
            for j in 0..width {
                let (got, stream) = (stats.summary(j), streamed[j]);
                let exact = exact_summary(
                    &column(&data, j)
                        .into_iter()
                        .filter(|x| x.is_finite())
                        .collect::<Vec<_>>(),
                );
                assert_eq!(
                    [got.p5, got.p25, got.p50, got.p75, got.p95].map(f64::to_bits),
                    [exact.p5, exact.p25, exact.p50, exact.p75, exact.p95].map(f64::to_bits),
                    "{n} rows, column {j}"
                );
                assert_eq!(
                    (got.count, got.ignored, got.mean, got.sd, got.min, got.max),
                    (
                        stream.count,
                        stream.ignored,
                        stream.mean,
                        stream.sd,
                        stream.min,
                        stream.max
                    ),
                    "{n} rows, column {j}"
                );
                assert_eq!(format!("{:?}", before[j]), format!("{got:?}"), "{n} {j}");
            }
        }
    }

    #[test]
    fn past_the_capacity_every_statistic_is_the_streamed_one_bit_for_bit() {
        let width = SETTLE_BLOCK + 1;
        let capacity = 200;
        let data = rows(700, width, 5);
        for n in [201, 202, 203, 700] {
            // Rounds that cross the capacity inside a round and at a round's start.
            for splits in [&[100, 200][..], &[150, 250][..], &[][..]] {
                let splits: Vec<usize> = splits.iter().copied().filter(|&s| s < n).collect();
                let mut stats = fed(&data[..n], width, capacity, &splits);
                stats.settle();
                let streamed = streamed(&data[..n], width);
                for (j, want) in streamed.iter().enumerate() {
                    assert_eq!(
                        format!("{:?}", stats.summary(j)),
                        format!("{want:?}"),
                        "{n} rows, splits {splits:?}, column {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn exact_and_streamed_percentiles_differ_where_p2_is_an_estimate() {
        // Guards the tests above against statistics that ignored the capacity.
        let data = rows(300, 1, 9);
        let mut exact = fed(&data, 1, 300, &[]);
        let mut streaming = fed(&data, 1, 0, &[]);
        exact.settle();
        streaming.settle();
        let (a, b) = (exact.summary(0), streaming.summary(0));
        assert_ne!(
            [a.p5, a.p25, a.p50, a.p75, a.p95],
            [b.p5, b.p25, b.p50, b.p75, b.p95]
        );
    }

    #[test]
    fn the_result_does_not_depend_on_the_threads() {
        let width = 3 * STREAM_CHUNK + 5;
        let data = rows(120, width, 13);
        let on = |threads: usize, capacity: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut stats = fed(&data, width, capacity, &[1, 14, 60]);
                stats.settle();
                format!("{:?}", stats.summaries())
            })
        };
        for capacity in [0, 50, 120] {
            assert_eq!(on(1, capacity), on(2, capacity), "capacity {capacity}");
        }
    }

    #[test]
    fn no_rows_gives_nan_statistics() {
        let mut stats = ColumnStats::new(3, 10);
        stats.settle();
        let s = stats.summary(2);
        assert_eq!(s.count, 0);
        assert!(s.mean.is_nan() && s.p50.is_nan());
    }

    #[test]
    fn no_columns_take_rows() {
        for capacity in [0, 1] {
            let mut stats = ColumnStats::new(0, capacity);
            stats.extend(&[&[], &[], &[]]);
            stats.settle();
            assert!(stats.summaries().is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "after settle")]
    fn a_row_after_settling_is_a_bug() {
        let mut stats = ColumnStats::new(2, 10);
        stats.settle();
        stats.extend(&[&[1.0, 2.0]]);
    }

    #[test]
    #[should_panic(expected = "wrong width")]
    fn a_row_of_the_wrong_width_is_a_bug() {
        ColumnStats::new(2, 10).extend(&[&[1.0]]);
    }
}
