//! Settings and calls of the C allocator (glibc malloc) that keep the memory of a scenario run
//! flat in the number of runs (docs/design/engine-performance.md, "Memory"). Elsewhere (other
//! C libraries, other systems) they do nothing.
//!
//! Freed memory stays resident in malloc's heaps: a phase that allocates and frees a lot
//! (the Monte Carlo rounds, the parquet encoder) leaves the next phase on top of its high
//! water mark, and with more runs that level creeps up (fragmentation). Returning the free
//! pages at the end of each phase starts the next one from what is really in use.

/// Serve blocks of 64 KiB and more from mmap, so that they go back to the system when freed.
/// glibc's default threshold (128 KiB) rises after the first such block is freed, and then
/// later ones (the reports' run-sized columns) are served from the heap, where they stay
/// resident once freed (the peak grew by several MB at 100,000 runs); a fixed threshold keeps
/// it. 64 KiB rather than 128 KiB also takes runs.parquet's column chunks (8,192 values) out of
/// the heap, where the encoder's long-lived metadata between them fragmented it. Call it
/// before any thread starts. Measured: no change in run time (docs/design/engine-performance.md).
pub fn keep_large_blocks_out_of_the_heap() {
    LARGE_BLOCKS_OUT_OF_THE_HEAP.store(true, std::sync::atomic::Ordering::SeqCst);
    set_mmap_threshold(MMAP_THRESHOLD);
}

const MMAP_THRESHOLD: i32 = 64 * 1024;

/// Whether [`keep_large_blocks_out_of_the_heap`] was called (the binary does; a library user
/// keeps glibc's defaults, which [`SimulationPhase`] then leaves alone).
static LARGE_BLOCKS_OUT_OF_THE_HEAP: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn set_mmap_threshold(bytes: i32) {
    set(MallocSetting::MmapThreshold, bytes);
}

/// glibc's own trim threshold (128 KiB), which stays fixed once the mmap threshold is set.
const TRIM_THRESHOLD: i32 = 128 * 1024;

enum MallocSetting {
    MmapThreshold,
    TrimThreshold,
}

fn set(setting: MallocSetting, bytes: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let parameter = match setting {
            MallocSetting::MmapThreshold => libc::M_MMAP_THRESHOLD,
            MallocSetting::TrimThreshold => libc::M_TRIM_THRESHOLD,
        };
        // SAFETY: mallopt only changes an allocator setting.
        unsafe {
            libc::mallopt(parameter, bytes);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (setting, bytes);
}

/// While alive, blocks of any size up to 32 MiB come from the heap: for the Monte Carlo
/// rounds, whose workers allocate and free each run's results (about 100 KB per simulation of
/// the care model) all the time. Served by mmap, every such block cost a system call and page
/// faults to allocate and an munmap to free, and the munmaps of one worker stall the others
/// (TLB shootdowns): on `scenarios/care_investment_options.toml` (12 options), 2 threads ran
/// 1.45× faster than 1 with the 64 KiB threshold and 1.87× with this (docs/design/
/// engine-performance.md). The blocks are reused round after round, so the heap does not grow
/// with the number of runs; drop the guard, then [`return_free_memory`], when the rounds end.
///
/// The guard also keeps free memory at the top of a heap (up to 32 MiB) instead of giving it
/// back at every `free` (glibc's trim threshold, 128 KiB): a run's results freed at the top of
/// the heap went back to the system and the next run faulted the same pages in again, so with
/// one thread most of a SIR run (3,200 steps, 300 KB of rows) was spent in the kernel
/// (`careshift bench`: 54 µs per run, 49 page faults per run; docs/design/engine-performance.md).
pub struct SimulationPhase {
    active: bool,
}

/// The mmap and trim thresholds while a [`SimulationPhase`] is alive.
const PHASE_THRESHOLD: i32 = 32 * 1024 * 1024;

impl SimulationPhase {
    pub fn begin() -> SimulationPhase {
        let active = LARGE_BLOCKS_OUT_OF_THE_HEAP.load(std::sync::atomic::Ordering::SeqCst);
        if active {
            set_mmap_threshold(PHASE_THRESHOLD);
            set(MallocSetting::TrimThreshold, PHASE_THRESHOLD);
        }
        SimulationPhase { active }
    }
}

impl Drop for SimulationPhase {
    fn drop(&mut self) {
        if self.active {
            set_mmap_threshold(MMAP_THRESHOLD);
            set(MallocSetting::TrimThreshold, TRIM_THRESHOLD);
        }
    }
}

/// Give the free pages of every malloc heap back to the system (the memory stays mapped and
/// is faulted in again when used). Call it between phases, not in a loop: it walks every
/// heap's free chunks.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
