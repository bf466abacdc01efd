#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = highlevel_webhooks::fuzzing::verify_and_parse(data);
});
