//! A run of raw-IP frames → `fragment::Reassembly` (issue 23): fragments
//! in any order, overlapping, inconsistent, past 64 KiB or cut. Each frame
//! is a record: its length (u16, little-endian), a time step in seconds
//! (one byte, so that the timeout is reached), then its bytes. What is held
//! never exceeds the budget and one datagram's growth, and a reassembled
//! segment never claims more bytes than it was captured with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use racecap::decode::fragment::{self, Reassembly};
use racecap::decode::linktype;
use racecap::source::Frame;

fuzz_target!(|input: &[u8]| {
    let budget = fragment::budget(0);
    let mut r = Reassembly::new(budget);
    let (mut rest, mut ts_ns) = (input, 0i64);
    while let [lo, hi, step, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (data, next) = tail.split_at(len);
        rest = next;
        ts_ns += i64::from(*step) * 1_000_000_000;
        let frame = Frame {
            ts_ns,
            linktype: linktype::RAW,
            origlen: data.len() as u32,
            data,
        };
        if let Ok(seg) = r.decode(&frame, 0) {
            assert_eq!(seg.payload.len(), seg.captured as usize);
            assert!(seg.payload.len() <= 65535);
        }
        assert!(r.bytes() <= budget + 2 * 65536, "{} held", r.bytes());
    }
    let s = r.stats();
    std::hint::black_box((s.reassembled, s.dropped, s.overlapping));
});
