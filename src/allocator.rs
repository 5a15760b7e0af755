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
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
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
