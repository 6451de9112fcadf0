//! cargo-fuzz target: [`router::fuzzing::config_loader`] (see that module).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| router::fuzzing::config_loader(data));
