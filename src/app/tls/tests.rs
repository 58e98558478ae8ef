//! Tests of the TLS record layer.

use super::*;

fn record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A ClientHello naming `sni` and offering h2 and http/1.1.
pub fn client_hello_record(sni: &str) -> Vec<u8> {
    client_hello_offering(sni, b"\x02h2\x08http/1.1")
}

/// A ClientHello naming `sni` and offering the ALPN list `alpn`.
fn client_hello_offering(sni: &str, alpn: &[u8]) -> Vec<u8> {
    let mut ext = Vec::new();
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sn);
    ext.extend_from_slice(&16u16.to_be_bytes());
    ext.extend_from_slice(&((alpn.len() + 2) as u16).to_be_bytes());
    ext.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
    ext.extend_from_slice(alpn);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    record(HANDSHAKE, &hs)
}

fn bytes(p: &[u8]) -> Bytes<'_> {
    Bytes {
        head: view(p),
        tail: &p[p.len().saturating_sub(7)..],
        captured: p.len() as u32,
    }
}

#[test]
fn test_client_hello_names() {
    let r = client_hello_record("api.example");
    let mut t = Tls::new();
    let s = t.feed(0, Seq(0), Seq(0), Seq(r.len() as u32), bytes(&r), 0);
    assert!(!s.app && !s.alert);
    let h = s.hello.unwrap();
    assert_eq!(h.sni, Some(&b"api.example"[..]));
    let names: Vec<_> = alpn_names(h.alpn.unwrap()).collect();
    assert_eq!(names, [&b"h2"[..], b"http/1.1"]);
}

#[test]
fn test_records_across_segments_and_cut() {
    let mut t = Tls::new();
    // A 3000-byte record whose header and first bytes are in one
    // segment; the next segment is cut by the snaplen (only the
    // sequence numbers say where it ends), and the next header
    // straddles the segment after it.
    let mut s1 = vec![APPLICATION_DATA, 3, 3, 0x0b, 0xb8];
    s1.extend_from_slice(&[0; 995]);
    let seen = t.feed(1, Seq(0), Seq(0), Seq(1000), bytes(&s1), 0);
    assert!(seen.app && seen.app_bytes == 1000);
    // Segment 2: bytes 1000..3007, only its tail captured, ending in
    // 2 bytes of the next header.
    let cut = Bytes {
        head: &[],
        tail: &[0, 0, 0, 0, 0, ALERT, 3],
        captured: 2007,
    };
    let seen = t.feed(1, Seq(1000), Seq(1000), Seq(3007), cut, 1);
    assert!(seen.app && !seen.alert);
    let s3 = [3, 0, 26];
    let s3 = Bytes {
        head: &[],
        tail: &s3,
        captured: 3,
    };
    let seen = t.feed(1, Seq(3007), Seq(3007), Seq(3010), s3, 2);
    assert!(seen.alert && !seen.app, "{seen:?}");
    assert!(t.last_alert(1));
}

#[test]
fn test_short_record_is_an_alert_and_lost_sync_is_data() {
    let mut t = Tls::new();
    let a = record(APPLICATION_DATA, &[9; 19]);
    let s = t.feed(0, Seq(0), Seq(0), Seq(24), bytes(&a), 0);
    assert!(s.alert && !s.app);
    // A hole over the next header: lost, so data, until a segment
    // begins with a header again.
    let s = t.feed(0, Seq(100), Seq(100), Seq(200), bytes(&[1; 100]), 1);
    assert!(s.app);
    let r = record(APPLICATION_DATA, &[5; 40]);
    let s = t.feed(0, Seq(300), Seq(300), Seq(345), bytes(&r), 2);
    assert!(s.app && s.app_bytes == 45);
}

#[test]
fn test_headers_are_checked() {
    assert!(header(&[23, 3, 3, 0, 24]).is_some());
    assert!(header(&[24, 3, 3, 0, 24]).is_none());
    assert!(header(&[23, 3, 3, 0x48, 1]).is_none());
    assert!(header(b"GET / HTTP/1.1").is_none());
    assert!(view(b"HTTP/1.1 200 OK").is_empty());
}

/// A TLS 1.3 server's hello (supported_versions 1.3).
fn server_hello_13() -> Vec<u8> {
    let ext = [0, 43, 0, 2, 3, 4];
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![2];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    record(HANDSHAKE, &hs)
}

/// Issue 21: over h2 in TLS 1.3 (the client offered only `h2`), records
/// of a control frame's plaintext length are no application data: the
/// preface with SETTINGS as the client's first record, a SETTINGS ACK, a
/// GOAWAY, and a WINDOW_UPDATE pair after the peer's data; the same pair's
/// length with no data to acknowledge is a request's HEADERS. Offered
/// beside http/1.1, every record stays data.
#[test]
fn test_h2_control_records_by_length() {
    for (alpn, h2) in [(&b"\x02h2"[..], true), (b"\x02h2\x08http/1.1", false)] {
        let mut t = Tls::new();
        let mut at = [0u32; 2];
        let mut send = |t: &mut Tls, i: usize, r: Vec<u8>| {
            let from = Seq(at[i]);
            at[i] += r.len() as u32;
            t.feed(i, from, from, Seq(at[i]), bytes(&r), 0).app
        };
        send(&mut t, 0, client_hello_offering("api", alpn));
        send(&mut t, 1, server_hello_13());
        // The client's Finished (32 bytes of verify data): its handshake ends.
        assert!(!send(&mut t, 0, record(APPLICATION_DATA, &[1; 53])));
        let app = |n: usize| record(APPLICATION_DATA, &vec![2; n + 17]);
        assert_eq!(send(&mut t, 0, app(24 + 9 + 18)), !h2, "preface");
        assert_eq!(send(&mut t, 0, app(9)), !h2, "SETTINGS ACK");
        assert!(send(&mut t, 0, app(28)), "a request");
        assert!(send(&mut t, 1, app(63)), "its response");
        assert_eq!(send(&mut t, 0, app(26)), !h2, "WINDOW_UPDATEs");
        assert!(send(&mut t, 0, app(26)), "a request of the pair's length");
        assert_eq!(send(&mut t, 1, app(17)), !h2, "GOAWAY");
    }
}
