//! Integration tests, built into one binary (ripgrep's layout).

mod util;

// The packet generator (also included by the benchmarks and examples/synth.rs).
#[path = "support/synth.rs"]
mod synth;

mod alerts;
mod architecture;
mod causes;
mod cli;
mod cli_proxylog;
mod closes;
mod corpus;
mod deploy;
mod docs;
mod fail_closed;
mod fix;
mod formats;
mod fragments;
mod h2;
mod html;
mod impact;
mod kernel_events;
mod lab;
mod lab_causes;
mod lab_closes;
mod lab_h2;
mod lab_h2_proxy_legs;
mod lab_haproxy;
mod lab_proxy_legs;
mod lab_remedies;
mod lab_tls;
mod lookalikes;
mod proptests;
mod proxylog;
mod retries;
mod small;
mod synthetic;
mod timeouts;
mod tls;
mod tunnels;

// Live capture needs the `live` feature (libpcap) and root; see tests/live.rs.
#[cfg(feature = "live")]
mod live;
// `racecap watch` needs the `ebpf` feature and root; see tests/watch.rs.
#[cfg(any(feature = "live", feature = "ebpf"))]
mod netlab;
#[cfg(feature = "ebpf")]
mod watch;
