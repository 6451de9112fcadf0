//! cargo-fuzz target: [`router::fuzzing::rules_parser`] (see that module).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| router::fuzzing::rules_parser(data));
