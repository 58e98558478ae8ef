//! Proxy-log lines → every parser, and a whole log → reading with format
//! detection (gzip or not). The first byte picks a forced format (or none:
//! detection) and whether the lab's nginx `log_format` is given; the rest
//! is the log. Nothing may panic: a line is readable or counted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use racecap::proxylog::input::{self, Options};
use racecap::proxylog::nginx_access::{COMBINED, Template};
use racecap::proxylog::{LogFormat, haproxy_format};

const LAB: &str = r#"$msec "$request" $status "$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_response_time" $request_time $remote_port"#;

fuzz_target!(|input: &[u8]| {
    let [pick, data @ ..] = input else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    // The input's own start as a log_format: templates are user input too.
    let own: String = text.chars().take(200).collect();
    let templates = [Template::new(COMBINED), Template::new(LAB), Template::new(&own)];
    let haproxy = haproxy_format::Template::new(&own);
    for line in text.lines() {
        for f in LogFormat::ALL {
            for t in &templates {
                if let Ok(Some(e)) = f.parse(line, t, Some(&haproxy)) {
                    std::hint::black_box((e.is_error(), e.window(), e.message(), e.error_status()));
                }
            }
        }
    }
    let n = LogFormat::ALL.len() + 1;
    let opts = Options {
        format: LogFormat::ALL.get(*pick as usize % n).copied(),
        nginx_log_format: (pick & 0x80 != 0).then(|| LAB.to_string()),
        haproxy_log_format: (pick & 0x40 != 0).then(|| own.clone()),
        // A small budget too, so that the cap on kept lines is fuzzed.
        max_bytes: if pick & 0x20 != 0 { 4096 } else { 0 },
    };
    if let Ok(log) = input::read("fuzz", data, &opts) {
        assert!(log.unreadable <= log.lines);
        assert!(log.errors.len() as u64 <= log.lines);
    }
});
