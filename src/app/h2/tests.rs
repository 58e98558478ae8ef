//! Tests of the HTTP/2 frame layer.

use super::*;

pub fn frame(ty: u8, flags: u8, stream: u32, body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[ty, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn bytes(p: &[u8]) -> Bytes<'_> {
    Bytes {
        head: view(p),
        tail: &p[p.len().saturating_sub(7)..],
        captured: p.len() as u32,
    }
}

fn feed<'a>(h: &mut H2, i: usize, at: u32, p: &'a [u8]) -> Seen<'a> {
    let end = Seq(at) + p.len() as u32;
    h.feed(i, Seq(at), Seq(at), end, bytes(p), 0)
}

#[test]
fn test_control_frames_are_no_activity() {
    let mut h = H2::new(0, Seq(0));
    let mut p = PREFACE.to_vec();
    p.extend(frame(SETTINGS, 0, 0, &[0; 12]));
    p.extend(frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
    let s = feed(&mut h, 0, 0, &p);
    assert!(!s.activity && s.opened.is_none());
    let srv = [frame(SETTINGS, 0, 0, &[]), frame(SETTINGS, 1, 0, &[])].concat();
    assert!(!feed(&mut h, 1, 1000, &srv).activity);
    let ping = frame(PING, 0, 0, &[1; 8]);
    assert!(!feed(&mut h, 0, p.len() as u32, &ping).activity);
}

#[test]
fn test_streams_and_goaway() {
    let mut h = H2::new(0, Seq(0));
    let pre = PREFACE.to_vec();
    feed(&mut h, 0, 0, &pre);
    // HEADERS (GET /, static) + END_STREAM on stream 1.
    let req = frame(HEADERS, 0x5, 1, &[0x82, 0x86, 0x84]);
    let s = feed(&mut h, 0, 24, &req);
    let o = s.opened.unwrap();
    assert_eq!(o.stream, 1);
    assert_eq!(o.pseudo().method, Some(crate::app::http::Method::Get));
    assert_eq!(o.pseudo().path(), Some(&b"/"[..]));
    // The response: HEADERS, DATA(END_STREAM) in one segment.
    let resp = [frame(HEADERS, 4, 1, &[0x88]), frame(DATA, 1, 1, b"ok")].concat();
    assert!(feed(&mut h, 1, 0, &resp).activity);
    assert_eq!(h.answered(), 1);
    let goaway = frame(GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]);
    let s = feed(&mut h, 1, resp.len() as u32, &goaway);
    assert!(s.goaway && !s.activity);
    assert_eq!(h.goaway(1).unwrap().last_stream_id, Some(1));
    assert_eq!(h.goaway(1).unwrap().error, Some(0));
}

#[test]
fn test_headers_split_over_segments() {
    let mut h = H2::new(0, Seq(0));
    // A DATA frame of 3000 bytes, its header in one segment, its body
    // over two more (the last cut by the snaplen), then a HEADERS
    // frame whose header straddles the segments.
    let mut s1 = frame(DATA, 0, 1, &[]);
    s1[0..3].copy_from_slice(&3000u32.to_be_bytes()[1..]);
    s1.extend_from_slice(&[0; 991]);
    assert!(feed(&mut h, 1, 0, &s1).activity);
    // Bytes 1000..3013: the body's rest and the next header's first
    // 4 bytes (a GOAWAY of 8), only the tail captured.
    let g = frame(GOAWAY, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0]);
    let tail = [&[0, 0, 0][..], &g[..4]].concat();
    let cut = Bytes {
        head: &[],
        tail: &tail,
        captured: 2013,
    };
    let s = h.feed(1, Seq(1000), Seq(1000), Seq(3013), cut, 0);
    assert!(s.activity && !s.goaway);
    // The header's other 5 bytes and 2 of its body: a short segment,
    // all in the tail.
    let rest = Bytes {
        head: &[],
        tail: &g[4..11],
        captured: 7,
    };
    let s = h.feed(1, Seq(3013), Seq(3013), Seq(3020), rest, 0);
    assert!(s.goaway && !s.activity, "{s:?}");
    // The GOAWAY's ids were not in a view: unknown.
    assert_eq!(h.goaway(1).unwrap().last_stream_id, None);
}

#[test]
fn test_view_keeps_every_header_and_is_idempotent() {
    let p = [
        frame(HEADERS, 4, 1, &[0x88; 20]),
        frame(DATA, 0, 1, &[7; 300]),
        frame(HEADERS, 5, 1, &[0x40; 10]),
    ]
    .concat();
    let v = view(&p);
    assert_eq!(v.len(), p.len());
    // Past the sniff bytes: cut there.
    let big = [frame(DATA, 0, 1, &[7; 2000]), frame(DATA, 1, 1, &[])].concat();
    assert_eq!(view(&big).len(), 9);
    let long = [frame(DATA, 0, 1, &[7; 1010]), frame(DATA, 1, 1, &[])].concat();
    assert_eq!(view(&long).len(), 9);
    // A HEADERS block that runs past them: kept up to there.
    let block = [
        frame(DATA, 0, 1, &[7; 1000]),
        frame(HEADERS, 4, 3, &[0x82; 300]),
    ]
    .concat();
    assert_eq!(view(&block).len(), crate::decode::SNIFF_BYTES);
    for q in [&p[..], &big, &long, &block, &p[..40], &p[..33]] {
        assert_eq!(view(view(q)), view(q));
    }
    assert!(view(b"HTTP/1.1 200 OK\r\n").is_empty());
    assert!(view(&[0x17, 3, 3, 0, 20]).is_empty());
}

#[test]
fn test_lost_sync_is_activity_until_a_header() {
    let mut h = H2::new(0, Seq(0));
    feed(&mut h, 0, 0, PREFACE);
    // A hole over the next header.
    assert!(feed(&mut h, 0, 100, &[1; 50]).activity);
    let w = frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]);
    assert!(!feed(&mut h, 0, 200, &w).activity);
}

proptest::proptest! {
    /// Any bytes, cut anywhere, some segments snapped to their tail:
    /// the view stays idempotent and the frame layer never panics.
    #[test]
    fn test_any_bytes_never_panic(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700),
        step in 1usize..200,
    ) {
        let mut h = H2::new(0, Seq(0));
        let mut at = 0u32;
        for (k, seg) in data.chunks(step).enumerate() {
            let v = view(seg);
            proptest::prop_assert_eq!(view(v), v);
            let b = Bytes {
                head: if k % 3 == 2 { &[] } else { v },
                tail: &seg[seg.len().saturating_sub(7)..],
                captured: seg.len() as u32,
            };
            let end = Seq(at) + seg.len() as u32;
            h.feed(0, Seq(at), Seq(at), end, b, 0);
            at += seg.len() as u32;
        }
    }
}
