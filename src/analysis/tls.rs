//! What TLS says about a server without keys: the names clients asked for
//! in their ClientHello (SNI: the service behind an address), the
//! protocols they offered (ALPN: whether they would speak HTTP/2 inside)
//! and the versions the server chose. Bounded per server.

use std::collections::BTreeMap;

use crate::app::tls::{self, Hello};

/// Distinct names kept per server and kind (a fleet behind one address
/// serves a few; more say nothing new).
const MAX_NAMES: usize = 8;

/// Longest name kept (DNS names are at most 253 bytes; ALPN ids are short).
const MAX_NAME_BYTES: usize = 253;

/// Printable names with counts, bounded in number and length.
#[derive(Debug, Clone, Default)]
pub struct Names(BTreeMap<String, u64>);

impl Names {
    /// Counts `name` (printable ASCII only, else ignored).
    pub fn add(&mut self, name: &[u8]) {
        if name.is_empty()
            || name.len() > MAX_NAME_BYTES
            || !name.iter().all(|b| (0x21..0x7f).contains(b))
        {
            return;
        }
        let text = std::str::from_utf8(name).expect("printable ASCII is UTF-8");
        if let Some(n) = self.0.get_mut(text) {
            *n += 1;
        } else if self.0.len() < MAX_NAMES {
            self.0.insert(text.to_string(), 1);
        }
    }

    /// The names, most frequent first (ties by name).
    pub fn ranked(&self) -> Vec<String> {
        let mut v: Vec<(&String, &u64)> = self.0.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }
}

/// One server's TLS connections, as far as their hellos were read.
#[derive(Debug, Clone, Default)]
pub struct TlsSeen {
    /// Connections judged that spoke TLS.
    pub connections: u64,
    /// Versions the server chose (from its ServerHello), with counts.
    pub versions: BTreeMap<&'static str, u64>,
    pub sni: Names,
    /// Protocols clients offered (ALPN).
    pub alpn_offered: Names,
}

impl TlsSeen {
    /// A ClientHello's names (a ServerHello's version is counted per
    /// connection, by [`connection`](Self::connection)).
    pub fn hello(&mut self, h: &Hello<'_>) {
        if let Some(sni) = h.sni {
            self.sni.add(sni);
        }
        if let Some(list) = h.alpn {
            for name in tls::alpn_names(list) {
                self.alpn_offered.add(name);
            }
        }
    }

    /// A TLS connection judged, with the version its server chose if read.
    pub fn connection(&mut self, version: Option<u16>) {
        self.connections += 1;
        if let Some(v) = version {
            *self.versions.entry(tls::version_name(v)).or_default() += 1;
        }
    }
}
