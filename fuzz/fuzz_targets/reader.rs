//! Bytes → `CaptureReader` → every frame, until a clean end or an error.
//! The reader must never panic, loop forever or allocate without bound,
//! whatever the bytes (pcap, pcapng, gzip of either, or garbage).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use racecap::source::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(Cursor::new(data.to_vec())) else {
        return;
    };
    let _ = (reader.format().name(), reader.gzip());
    let mut sum = 0u64;
    loop {
        match reader.advance() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // Errors render (they end up on stderr and in warnings).
                let _ = (e.to_string(), e.is_partial());
                break;
            }
        }
        let frame = reader
            .current()
            .expect("advance returned true without a frame");
        assert!(
            frame.data.len() <= frame.origlen as usize,
            "captured {} bytes of a {}-byte frame",
            frame.data.len(),
            frame.origlen
        );
        assert_eq!(reader.current_ts(), Some(frame.ts_ns));
        // Touch every byte, so a bad slice cannot go unnoticed.
        sum = frame
            .data
            .iter()
            .fold(sum, |a, &b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        sum ^= frame.ts_ns as u64 ^ u64::from(frame.linktype);
    }
    let _ = (
        reader.linktypes().len(),
        reader.position(),
        reader.bad_interface,
    );
    std::hint::black_box(sum);
});
