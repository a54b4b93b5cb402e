//! Any text as an ISO-8601 duration: parsed or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = weir_core::parse_duration(text);
});
