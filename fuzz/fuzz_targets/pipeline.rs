//! cargo-fuzz target: [`router::fuzzing::pipeline`] (see that module).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| router::fuzzing::pipeline(data));
