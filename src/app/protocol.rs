//! What a connection speaks, as far as its bytes tell: the report says so
//! for each finding, because what can be read of a lost request (its line,
//! whether it was retried) depends on it.

use crate::named::named_enum;

named_enum! {
    /// The protocol a connection's payload showed.
    pub enum Protocol {
        /// HTTP/1.x in the clear (a request or status line was read).
        Http1 => "http1",
        /// TLS records (the requests inside are unreadable without keys).
        Tls => "tls",
        /// HTTP/2 in the clear, prior knowledge (h2c; gRPC without TLS):
        /// the connection preface was read.
        H2c => "h2c",
        /// Nothing readable: no payload, or none that says.
        Unknown => "unknown",
    }
}
