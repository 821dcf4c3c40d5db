//! Replays the fuzz corpus (`fuzz/corpus/<target>/*`) through each fuzz target's check, the same
//! code libFuzzer runs, so that every input the fuzzers found interesting (crashers included,
//! once fixed) keeps passing. Needs no cloud and no libFuzzer. Each input must finish within a
//! generous bound (a hang is a finding) and make no single allocation over the fuzzing limit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use imgpipe_fuzz::{Check, MAX_ALLOCATION_BYTES, TARGETS};

/// Far above what any input needs (milliseconds in the `local` profile), so that only a hang
/// or a runaway loop trips it, never a slow machine.
const PER_INPUT: Duration = Duration::from_secs(20);

thread_local! {
    /// The largest single allocation requested on this thread so far.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting the largest request per thread: the replay's counterpart of
/// libFuzzer's `-malloc_limit_mb`.
struct Tracking;

fn note(size: usize) {
    // `try_with`: allocations during thread teardown have no slot left, and need none.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to `System`; noting the size allocates nothing.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs one input on its own thread; `Err` says what went wrong.
fn replay(check: Check, data: Vec<u8>) -> Result<(), String> {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        check(&data);
        // Reached only if the check did not panic.
        let _ = done.send(LARGEST.with(Cell::get));
    });
    match finished.recv_timeout(PER_INPUT) {
        Ok(largest) if largest > MAX_ALLOCATION_BYTES => Err(format!(
            "allocated {largest} bytes at once, over {MAX_ALLOCATION_BYTES}"
        )),
        Ok(_) => Ok(()),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still running after {PER_INPUT:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("panicked (see above)".to_owned()),
    }
}

#[test]
fn every_corpus_input_passes_its_fuzz_check() {
    let mut failures = Vec::new();
    for (target, check) in TARGETS {
        let dir = corpus_dir(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut inputs: Vec<PathBuf> = entries
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        inputs.sort();
        assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
        for input in inputs {
            let data = std::fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            if let Err(problem) = replay(check, data) {
                failures.push(format!("{target}: {}: {problem}", input.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fuzz corpus findings:\n{}",
        failures.join("\n")
    );
}
