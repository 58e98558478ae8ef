//! Bytes → the HTTP/2 frame layer and HPACK, directly: the first byte picks
//! where the rest is cut into segments; each segment goes through
//! `h2::view` (what the reader thread carries) and `H2::feed` with its
//! tail, as the flow analysis feeds them; every HEADERS block the view
//! holds also goes through `hpack::pseudo`. No input may panic, and the
//! view must stay idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use racecap::flow::Seq;
use racecap::app::h2::{self, H2};
use racecap::app::hpack;
use racecap::app::framer::Bytes;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    // Whole header blocks too.
    std::hint::black_box(hpack::pseudo(rest));
    let mut h = H2::new(0, Seq(0));
    let step = usize::from(seed % 64) + 1;
    let mut at = 0usize;
    for (k, seg) in rest.chunks(step * 7).enumerate() {
        let view = h2::view(seg);
        assert_eq!(h2::view(view), view, "view is idempotent");
        let tail = &seg[seg.len().saturating_sub(7)..];
        // Every third segment cut by a snaplen: only its tail is kept.
        let head = if k % 3 == 2 { &[][..] } else { view };
        let bytes = Bytes {
            head,
            tail,
            captured: seg.len() as u32,
        };
        let s = Seq(at as u32);
        let seen = h.feed(0, s, s, s + seg.len() as u32, bytes, k as i64);
        std::hint::black_box(seen);
        at += seg.len();
    }
});
