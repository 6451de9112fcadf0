//! cargo-fuzz target: [`router::fuzzing::packet_parse`] (see that module).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| router::fuzzing::packet_parse(data));
