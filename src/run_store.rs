//! The per-run scalars of a Monte Carlo experiment (sampled values, metrics, test outcomes),
//! kept so that memory stays flat in the number of runs.
//!
//! Every run is one fixed-width record of f64 values. Records are appended in run order into a
//! small in-memory buffer of [`RunStore::block_runs`] runs; a full buffer is written, transposed
//! (column by column), as one block of an anonymous temporary file. Reading a column back reads
//! one contiguous slice per block, so the exact statistics (quantiles, rank correlations) need
//! one or two columns in memory at a time, never the whole table.
//!
//! The file is created in [`std::env::temp_dir`] and unlinked at once: it has no name while the
//! experiment runs and its space is freed when the store is dropped, on success, on error and
//! when the process is killed. Up to `block_runs` runs no file is created at all. Values are
//! stored as their bit patterns, so what is read back is exactly what was pushed.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs per block (and so the most records held in memory) unless told otherwise.
pub const DEFAULT_BLOCK_RUNS: usize = 1024;

/// Append-only table of `width` f64 columns, one row per run.
#[derive(Debug)]
pub struct RunStore {
    width: usize,
    block_runs: usize,
    /// Rows pushed so far.
    runs: usize,
    /// Rows not yet written to the file, row by row (at most `block_runs` of them).
    tail: Vec<f64>,
    /// Full blocks written so far.
    blocks: usize,
    file: Option<File>,
}

impl RunStore {
    /// An empty store of `width` columns, spilling every `block_runs` runs (at least 1).
    pub fn new(width: usize, block_runs: usize) -> RunStore {
        RunStore {
            width,
            block_runs: block_runs.max(1),
            runs: 0,
            tail: Vec::new(),
            blocks: 0,
            file: None,
        }
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.runs
    }

    pub fn is_empty(&self) -> bool {
        self.runs == 0
    }

    /// Append one run's record (`width` values).
    pub fn push(&mut self, record: &[f64]) -> io::Result<()> {
        debug_assert_eq!(record.len(), self.width);
        self.tail.extend_from_slice(record);
        self.runs += 1;
        if self.width > 0 && self.tail.len() == self.width * self.block_runs {
            self.spill_block()?;
        }
        Ok(())
    }

    /// Bytes of one block in the file.
    fn block_bytes(&self) -> usize {
        self.width * self.block_runs * 8
    }

    /// Write the (full) buffer as the next block, column by column, and empty it.
    fn spill_block(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(anonymous_file()?);
        }
        let mut bytes = Vec::with_capacity(self.block_bytes());
        for col in 0..self.width {
            for row in self.tail.chunks_exact(self.width) {
                bytes.extend_from_slice(&row[col].to_le_bytes());
            }
        }
        let offset = (self.blocks * self.block_bytes()) as u64;
        if let Some(file) = &self.file {
            file.write_all_at(&bytes, offset)?;
        }
        self.blocks += 1;
        self.tail.clear();
        Ok(())
    }

    /// Column `col` of the runs in `runs` (within `0..len()`), in run order.
    pub fn column(&self, col: usize, runs: Range<usize>) -> io::Result<Vec<f64>> {
        assert!(
            col < self.width && runs.end <= self.runs,
            "no such column or run"
        );
        let mut out = Vec::with_capacity(runs.len());
        let spilled = self.blocks * self.block_runs;
        let mut bytes = Vec::new();
        let mut run = runs.start;
        while run < runs.end.min(spilled) {
            let (block, within) = (run / self.block_runs, run % self.block_runs);
            let count = (self.block_runs - within).min(runs.end - run);
            let offset = block * self.block_bytes() + (col * self.block_runs + within) * 8;
            bytes.resize(count * 8, 0);
            if let Some(file) = &self.file {
                file.read_exact_at(&mut bytes, offset as u64)?;
            }
            out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
            );
            run += count;
        }
        out.extend(
            self.tail
                .chunks_exact(self.width)
                .skip(run.saturating_sub(spilled))
                .take(runs.end.saturating_sub(run))
                .map(|row| row[col]),
        );
        Ok(out)
    }
}

/// A new temporary file, already unlinked (it lives only as long as the handle).
fn anonymous_file() -> io::Result<File> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "careshift-runs-{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the temporary file `{}`: {e}", path.display()),
            )
        })?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table whose every value names its place: run r, column c -> r * 10 + c (and a NaN
    /// with a payload and infinities, which must come back bit for bit).
    fn filled(width: usize, runs: usize, block_runs: usize) -> RunStore {
        let mut store = RunStore::new(width, block_runs);
        for r in 0..runs {
            let record: Vec<f64> = (0..width)
                .map(|c| match (r + c) % 7 {
                    5 => f64::from_bits(0x7ff8_0000_0000_1234),
                    6 => f64::NEG_INFINITY,
                    _ => (r * 10 + c) as f64,
                })
                .collect();
            store.push(&record).unwrap();
        }
        store
    }

    #[test]
    fn columns_read_back_bit_for_bit_whatever_the_block_size() {
        let (width, runs) = (3, 23);
        let whole = filled(width, runs, runs + 1); // never spills
        assert!(whole.file.is_none());
        for block_runs in [1, 2, 5, 23, 64] {
            let store = filled(width, runs, block_runs);
            assert_eq!(store.len(), runs);
            assert_eq!(store.file.is_some(), block_runs <= runs);
            for col in 0..width {
                for range in [0..runs, 0..0, 3..17, 20..23, 4..5] {
                    let got = store.column(col, range.clone()).unwrap();
                    let want = whole.column(col, range.clone()).unwrap();
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "block {block_runs}, col {col}");
                    let expected: Vec<u64> = range
                        .map(|r| match (r + col) % 7 {
                            5 => 0x7ff8_0000_0000_1234,
                            6 => f64::NEG_INFINITY.to_bits(),
                            _ => ((r * 10 + col) as f64).to_bits(),
                        })
                        .collect();
                    assert_eq!(bits(&got), expected);
                }
            }
        }
    }

    #[test]
    fn a_store_without_columns_counts_runs() {
        let mut store = RunStore::new(0, 2);
        for _ in 0..5 {
            store.push(&[]).unwrap();
        }
        assert_eq!(store.len(), 5);
        assert!(store.file.is_none());
    }
}
