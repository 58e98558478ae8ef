//! Bytes → the whole pipeline (reader, merge, decode, flows, verdicts,
//! timeouts, report) → JSON. Only the report model is rendered: the tables
//! belong to the binary.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use racecap::analyzer::Config;
use racecap::pipeline;
use racecap::source::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = CaptureReader::new(Cursor::new(data.to_vec())) else {
        return;
    };
    // Odd lengths also run with a tiny table and memory budget, so that
    // eviction (by count and by bytes) is fuzzed too.
    let tiny = data.len() % 2 == 1;
    let cfg = Config {
        // One row per connection too: more of the report to build.
        keep_connections: true,
        max_connections: if tiny { 3 } else { 0 },
        max_memory: if tiny { 2_048 } else { 0 },
        ..Config::default()
    };
    let Ok((report, _stats)) = pipeline::run(vec![("fuzz.pcap".to_string(), reader)], cfg) else {
        return;
    };
    let json = serde_json::to_string(&report).expect("the report serialises");
    std::hint::black_box(json);
});
