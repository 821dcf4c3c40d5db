//! How the process's allocator treats freed memory. Rust's default allocator, libjpeg-turbo,
//! jpegli and libheif all allocate through glibc's malloc, which by default hands freed memory
//! back to the kernel: the top of the heap past 128 KiB, and every block it mmapped (the
//! multi-megabyte pixel and coefficient buffers of a photo). The next photo then pays again for
//! the page faults and the zeroing of the same buffers. A function processes photo after photo
//! within a fixed memory size, so keeping what was freed costs it nothing (peak RSS is what it
//! is either way) and saves that work.

/// Keeps freed memory in the process for the next photo: the heap is never trimmed and grows
/// in steps of `TOP_PAD`, and blocks up to glibc's largest mmap threshold (32 MiB) come from the
/// heap instead of their own mappings. Returns whether glibc took the settings; elsewhere (not
/// glibc) it does nothing and returns false.
pub fn keep_freed_memory() -> bool {
    imp::keep_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::os::raw::c_int;

    /// glibc refuses an mmap threshold above half its largest heap: 32 MiB on 64-bit.
    const MMAP_THRESHOLD: c_int = 32 * 1024 * 1024;
    /// Never trim: the largest value the setting takes.
    const TRIM_THRESHOLD: c_int = c_int::MAX;
    const TOP_PAD: c_int = 16 * 1024 * 1024;

    pub fn keep_freed_memory() -> bool {
        // SAFETY: mallopt changes allocator parameters only; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
                && libc::mallopt(libc::M_TOP_PAD, TOP_PAD) == 1
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn keep_freed_memory() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::keep_freed_memory());
    }
}
