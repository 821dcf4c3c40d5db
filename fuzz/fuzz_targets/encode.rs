#![no_main]
// The check lives in the library so that the corpus replay test runs the same code.
libfuzzer_sys::fuzz_target!(|data: &[u8]| imgpipe_fuzz::encode::encode(data));
