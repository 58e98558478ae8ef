//! The request line of an HTTP/2 request from its HEADERS frame, as far as
//! HPACK (RFC 7541) allows without the connection's dynamic table: a lost
//! request is worth naming (is it safe to retry? which endpoint?), but the
//! dynamic table would mean decoding every header block of every
//! connection, in order, with nothing missing from the capture. Without
//! it, `:method` and `:path` decode when the block says them with the
//! static table (`:method: GET` is one byte, 0x82) or as literals (plain or
//! Huffman-coded), which is how a connection's first requests say them and
//! how many encoders always say `:path`. A field given by a dynamic-table
//! index is unknown, and the report says so.

mod codes;

use super::http::Method;

/// Longest `:path` kept (the same bound as an HTTP/1 target's).
pub const MAX_PATH: usize = 200;

/// What a header block's first bytes said of the request.
#[derive(Debug, Clone, Copy)]
pub struct Pseudo {
    pub method: Option<Method>,
    /// `:path`'s first [`MAX_PATH`] bytes, when it was read (printable ASCII).
    path: [u8; MAX_PATH],
    path_len: u8,
    /// The path was read, and was longer than kept.
    pub path_longer: bool,
    has_path: bool,
}

impl Default for Pseudo {
    fn default() -> Pseudo {
        Pseudo {
            method: None,
            path: [0; MAX_PATH],
            path_len: 0,
            path_longer: false,
            has_path: false,
        }
    }
}

impl Pseudo {
    /// `:path` as kept, when it was read.
    pub fn path(&self) -> Option<&[u8]> {
        self.has_path
            .then(|| &self.path[..usize::from(self.path_len)])
    }

    fn set_path(&mut self, p: &[u8], longer: bool) {
        let n = p.len().min(MAX_PATH);
        self.path[..n].copy_from_slice(&p[..n]);
        self.path_len = n as u8;
        self.path_longer = longer || p.len() > MAX_PATH;
        self.has_path = true;
    }
}

/// Static-table indices (RFC 7541 Appendix A) of the two fields wanted:
/// 2 `:method: GET`, 3 `:method: POST`, 4 `:path: /`, 5 `:path: /index.html`.
/// Every other index up to 61 names another field; above 61 is the
/// dynamic table.
const METHOD_GET: u64 = 2;
const METHOD_POST: u64 = 3;
const PATH_ROOT: u64 = 4;
const PATH_INDEX: u64 = 5;

/// Longest Huffman-coded or literal string read (a path beyond is cut;
/// its first bytes are all the report keeps).
const MAX_STRING: usize = 1024;

/// Header fields read at most: pseudo-header fields come first (RFC 9113
/// §8.3), so a request's are among the first few.
const MAX_FIELDS: u32 = 16;

/// Reads `:method` and `:path` from the start of a header block.
pub fn pseudo(block: &[u8]) -> Pseudo {
    let mut out = Pseudo::default();
    let mut r = Reader { b: block, at: 0 };
    for _ in 0..MAX_FIELDS {
        if out.method.is_some() && out.has_path {
            break;
        }
        let Some(&first) = r.b.get(r.at) else {
            break;
        };
        if first & 0x80 != 0 {
            // Indexed field.
            let Some(i) = r.int(7) else { break };
            match i {
                METHOD_GET => out.method = Some(Method::Get),
                METHOD_POST => out.method = Some(Method::Post),
                PATH_ROOT => out.set_path(b"/", false),
                PATH_INDEX => out.set_path(b"/index.html", false),
                // Another static field, or one only the dynamic table
                // names (unknown: it may be the method or the path).
                _ => {}
            }
            continue;
        }
        if first & 0xe0 == 0x20 {
            // Dynamic table size update.
            if r.int(5).is_none() {
                break;
            }
            continue;
        }
        // A literal: with incremental indexing (01), without (0000), or
        // never indexed (0001). Its name is an index or a literal.
        let prefix = if first & 0x40 != 0 { 6 } else { 4 };
        let Some(name_index) = r.int(prefix) else {
            break;
        };
        let mut buf = [0u8; MAX_STRING];
        let field = match name_index {
            0 => {
                let Some((name, _)) = r.string(&mut buf) else {
                    break;
                };
                match name {
                    b":method" => Field::Method,
                    b":path" => Field::Path,
                    n if n.first() != Some(&b':') => break,
                    _ => Field::Other,
                }
            }
            METHOD_GET | METHOD_POST => Field::Method,
            PATH_ROOT | PATH_INDEX => Field::Path,
            // Another static name, or a dynamic-table one (unknown: it
            // may be `:path`, and then the path stays unknown).
            _ => Field::Other,
        };
        let Some((value, longer)) = r.string(&mut buf) else {
            break;
        };
        match field {
            Field::Method => out.method = method(value),
            Field::Path if value.iter().all(|b| (0x21..0x7f).contains(b)) && !value.is_empty() => {
                out.set_path(value, longer)
            }
            _ => {}
        }
    }
    out
}

enum Field {
    Method,
    Path,
    Other,
}

fn method(v: &[u8]) -> Option<Method> {
    Some(match v {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"CONNECT" => Method::Connect,
        b"OPTIONS" => Method::Options,
        b"TRACE" => Method::Trace,
        b"PATCH" => Method::Patch,
        _ => return None,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// An integer with an `n`-bit prefix (RFC 7541 §5.1); none when cut or
    /// beyond 2^32 (no index or length of a real block is).
    fn int(&mut self, n: u32) -> Option<u64> {
        let mask = (1u64 << n) - 1;
        let mut v = u64::from(*self.b.get(self.at)?) & mask;
        self.at += 1;
        if v < mask {
            return Some(v);
        }
        let mut shift = 0;
        loop {
            let b = *self.b.get(self.at)?;
            self.at += 1;
            v += u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return (v <= u64::from(u32::MAX)).then_some(v);
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
    }

    /// A string literal (§5.2), decoded into `buf`: its bytes (at most
    /// `buf`'s length) and whether it was longer. None when its bytes are
    /// not all in the block, or its Huffman code is invalid.
    fn string<'b>(&mut self, buf: &'b mut [u8; MAX_STRING]) -> Option<(&'b [u8], bool)> {
        let huffman = *self.b.get(self.at)? & 0x80 != 0;
        let n = usize::try_from(self.int(7)?).ok()?;
        let raw = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        if huffman {
            let (len, longer) = huffman_decode(raw, buf)?;
            Some((&buf[..len], longer))
        } else {
            let k = raw.len().min(MAX_STRING);
            buf[..k].copy_from_slice(&raw[..k]);
            Some((&buf[..k], raw.len() > MAX_STRING))
        }
    }
}

/// Longest code of the Huffman table, in bits.
const MAX_BITS: usize = 30;

/// The canonical form of [`codes::CODES`]: per length, the first code and
/// where its symbols start in [`Canonical::symbols`] (sorted by length,
/// then code).
struct Canonical {
    first: [u32; MAX_BITS + 1],
    count: [u16; MAX_BITS + 1],
    offset: [u16; MAX_BITS + 1],
    symbols: [u16; 257],
}

const fn canonical() -> Canonical {
    let mut c = Canonical {
        first: [0; MAX_BITS + 1],
        count: [0; MAX_BITS + 1],
        offset: [0; MAX_BITS + 1],
        symbols: [0; 257],
    };
    let mut s = 0;
    while s < 257 {
        c.count[codes::CODES[s].1 as usize] += 1;
        s += 1;
    }
    let mut len = 1;
    let mut at = 0u16;
    while len <= MAX_BITS {
        c.offset[len] = at;
        // Symbols of this length, by code (the code is canonical: they
        // are consecutive, the first is the smallest).
        let mut first = u32::MAX;
        let mut s = 0;
        while s < 257 {
            if codes::CODES[s].1 as usize == len {
                let code = codes::CODES[s].0;
                if code < first {
                    first = code;
                }
            }
            s += 1;
        }
        c.first[len] = first;
        let mut k = 0u32;
        while k < c.count[len] as u32 {
            let mut s = 0;
            while s < 257 {
                if codes::CODES[s].1 as usize == len && codes::CODES[s].0 == first + k {
                    c.symbols[(at + k as u16) as usize] = s as u16;
                }
                s += 1;
            }
            k += 1;
        }
        at += c.count[len];
        len += 1;
    }
    c
}

static CANONICAL: Canonical = canonical();

/// EOS, which must not appear in a string (RFC 7541 §5.2).
const EOS: u16 = 256;

/// Decodes a Huffman-coded string into `out`: how many bytes it wrote and
/// whether the string was longer. None for an invalid code: EOS, padding
/// longer than 7 bits or not all ones, or a code no symbol has.
pub fn huffman_decode(raw: &[u8], out: &mut [u8]) -> Option<(usize, bool)> {
    let c = &CANONICAL;
    let (mut code, mut len, mut n, mut longer) = (0u32, 0usize, 0usize, false);
    for &byte in raw {
        for bit in (0..8).rev() {
            code = code << 1 | u32::from(byte >> bit & 1);
            len += 1;
            if len > MAX_BITS {
                return None;
            }
            let count = u32::from(c.count[len]);
            if count > 0 && code >= c.first[len] && code - c.first[len] < count {
                let sym = c.symbols[usize::from(c.offset[len]) + (code - c.first[len]) as usize];
                if sym == EOS {
                    return None;
                }
                match out.get_mut(n) {
                    Some(slot) => {
                        *slot = sym as u8;
                        n += 1;
                    }
                    None => longer = true,
                }
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: the most significant bits of EOS (all ones), under a byte.
    (len < 8 && code == (1 << len) - 1).then_some((n, longer))
}

#[cfg(test)]
mod test {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Encodes with the table directly (the decoder's inverse).
    fn encode(s: &[u8]) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u64, 0u32, Vec::new());
        for &b in s {
            let (code, len) = codes::CODES[usize::from(b)];
            acc = acc << len | u64::from(code);
            bits += u32::from(len);
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(((acc << (8 - bits)) as u8) | ((1u8 << (8 - bits)) - 1));
        }
        out
    }

    #[test]
    fn test_rfc7541_c4_examples() {
        // RFC 7541 C.4.1: "www.example.com".
        let mut out = [0u8; 64];
        let (n, longer) = huffman_decode(&hex("f1e3c2e5f23a6ba0ab90f4ff"), &mut out).unwrap();
        assert_eq!((&out[..n], longer), (&b"www.example.com"[..], false));
        // C.4.2: "no-cache".
        let (n, _) = huffman_decode(&hex("a8eb10649cbf"), &mut out).unwrap();
        assert_eq!(&out[..n], b"no-cache");
    }

    #[test]
    fn test_every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = [0u8; 256];
        let (n, longer) = huffman_decode(&encode(&all), &mut out).unwrap();
        assert_eq!((&out[..n], longer), (&all[..], false));
        // Cut output: the rest is counted as longer, not written.
        let mut small = [0u8; 4];
        assert_eq!(
            huffman_decode(&encode(b"/abcdef"), &mut small),
            Some((4, true))
        );
    }

    #[test]
    fn test_invalid_padding_is_refused() {
        let mut out = [0u8; 8];
        // 'a' is 00011 (5 bits): padding of zeros is not EOS's prefix.
        assert!(huffman_decode(&[0b0001_1000], &mut out).is_none());
        // A whole byte of padding is too long.
        assert!(huffman_decode(&[0b0001_1111, 0xff], &mut out).is_none());
        // EOS itself (30 ones) is an error.
        assert!(huffman_decode(&[0xff, 0xff, 0xff, 0xff], &mut out).is_none());
    }

    /// Header blocks as python-hpack encodes a connection's first request,
    /// a gRPC call, and a later request that the dynamic table names.
    #[test]
    fn test_blocks_from_an_encoder() {
        let p = pseudo(&hex(
            "8286448e6075998ee160c92d28ff0d240d0b41898c64ea5aa4b8f01e07",
        ));
        assert_eq!(p.method, Some(Method::Get));
        assert_eq!(p.path(), Some(&b"/api/v1/items?id=42"[..]));
        let p = pseudo(&hex("838644956272d141fc1eca245f15852a4b631b87eb1968a0ffbf"));
        assert_eq!(p.method, Some(Method::Post));
        assert_eq!(p.path(), Some(&b"/helloworld.Greeter/SayHello"[..]));
        // :path by a dynamic index (0xc0 = 64): unknown.
        let p = pseudo(&hex("8286c0bf"));
        assert_eq!(p.method, Some(Method::Get));
        assert_eq!(p.path(), None);
    }

    #[test]
    fn test_literal_forms_and_cut_blocks() {
        // Literal without indexing, name index 4 (:path), plain value.
        let mut b = vec![0x83, 0x04, 5];
        b.extend_from_slice(b"/rpc1");
        let p = pseudo(&b);
        assert_eq!(
            (p.method, p.path()),
            (Some(Method::Post), Some(&b"/rpc1"[..]))
        );
        // Never indexed, literal name ":method", value "PUT".
        let mut b = vec![0x10, 7];
        b.extend_from_slice(b":method");
        b.push(3);
        b.extend_from_slice(b"PUT");
        assert_eq!(pseudo(&b).method, Some(Method::Put));
        // A block cut in the middle of the path's string: unknown path.
        let p = pseudo(&[0x82, 0x04, 10, b'/', b'a']);
        assert_eq!((p.method, p.path()), (Some(Method::Get), None));
        // Garbage never panics and says nothing.
        for b in [
            &[0xff; 12][..],
            &[0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x3f],
        ] {
            let p = pseudo(b);
            assert!(p.path().is_none());
        }
    }

    proptest::proptest! {
        /// Any string round-trips through the Huffman code, and any block
        /// decodes without a panic.
        #[test]
        fn test_huffman_round_trip_and_any_block(
            text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            block in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let mut out = [0u8; 300];
            let (n, longer) = huffman_decode(&encode(&text), &mut out).unwrap();
            proptest::prop_assert_eq!((&out[..n], longer), (&text[..], false));
            let p = pseudo(&block);
            if let Some(path) = p.path() {
                proptest::prop_assert!(path.len() <= MAX_PATH);
            }
        }
    }
}
