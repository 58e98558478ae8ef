//! Tests of [`Conn`]: its size, and the lifecycle and facts it derives from
//! real segments fed through [`Conn::process`].

use super::*;

// =========== Tests for the size of a connection ===========

/// The flow table's default cap (`DEFAULT_MAX_CONNECTIONS`) and the
/// promise of at most 256 bytes per open connection (with the table's
/// index, about 10) rest on this. The out-of-line part comes on top
/// for connections that sent a FIN or RST, and is counted by the cap's
/// documentation.
#[test]
fn test_conn_size_is_bounded() {
    let (hot, cold) = (
        std::mem::size_of::<Option<Conn>>(),
        std::mem::size_of::<Cold>(),
    );
    assert!(hot <= 232, "{hot}");
    assert!(cold <= 160, "{cold}");
}
