//! One frame → `decode`, checked against the general slicers alone (the
//! fixed-offset fast paths must give the same segment). The first byte picks the link type (every one the
//! decoder knows, plus a few it does not), the second how many bytes of the
//! frame the "snaplen" cut off (0–255, so `origlen >= data.len()` as the
//! reader guarantees); the rest is the captured frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use racecap::decode::{self, linktype};
use racecap::source::Frame;

fuzz_target!(|input: &[u8]| {
    let [pick, cut, data @ ..] = input else {
        return;
    };
    let frame = Frame {
        ts_ns: 1_700_000_000_000_000_000,
        linktype: linktype::FUZZ_TABLE[*pick as usize % linktype::FUZZ_TABLE.len()],
        origlen: (data.len() + usize::from(*cut)) as u32,
        data,
    };
    let _ = linktype::name(frame.linktype);
    match decode::decode(&frame) {
        Ok(seg) => {
            // The fast paths give what the general slicers give.
            let general = decode::decode_general(&frame).expect("the general path decodes it");
            assert_eq!(format!("{seg:?}"), format!("{general:?}"));
            // The payload is borrowed from the frame, and never longer than
            // what the headers announce.
            let (lo, hi) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
            let p = seg.payload.as_ptr() as usize;
            assert!(seg.payload.is_empty() || (p >= lo && p + seg.payload.len() <= hi));
            assert!(seg.payload.len() <= data.len());
            std::hint::black_box((seg.src, seg.dst, seg.flags.fin(), seg.payload_len));
        }
        Err(skip) => {
            let _ = skip.name();
        }
    }
});
