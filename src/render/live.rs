//! The one line `racecap capture` prints for a finding the moment it is
//! decided.

use racecap::report::Finding;
use racecap::units::secs;

/// One line for a finding as it happens.
pub fn line(f: &Finding) -> String {
    let at = f.at.rfc3339();
    let clock = at.split_once('T').map_or(at.as_str(), |(_, t)| t);
    let mut line = format!("{clock} {} {} → {}", f.verdict, f.client, f.server);
    if let Some(r) = &f.race {
        line.push_str(&format!(
            " {} race: {}",
            r.kind,
            match r.fin_to_request_ms {
                Some(gap) => format!(
                    "FIN after {} idle, request {:+.1} ms after the FIN",
                    r.idle_before_fin_ms.map_or("?".into(), |ms| secs(ms.ms())),
                    gap.ms()
                ),
                None => format!(
                    "RST with no FIN after {} idle",
                    r.idle_before_close_ms
                        .map_or("?".into(), |ms| secs(ms.ms()))
                ),
            }
        ));
        if let Some(q) = &r.request {
            line.push_str(&format!(
                ", lost {} {}{}",
                q.method.as_str(),
                q.path,
                if q.idempotent {
                    ""
                } else {
                    " (not idempotent)"
                }
            ));
        }
    } else if let Some(t) = &f.truncated {
        line.push_str(&format!(
            " response {} cut after {} body bytes{}",
            t.status,
            t.body_bytes_sent,
            t.expected_body_bytes
                .map_or(" (chunked)".into(), |n| format!(" of {n}"))
        ));
        if let Some(q) = &t.request {
            line.push_str(&format!(", answering {} {}", q.method.as_str(), q.path));
        }
    } else if let Some(t) = &f.timeout {
        if let Some(w) = t.waited_ms {
            line.push_str(&format!(" gave up after {}", secs(w.ms())));
        }
        if let Some(q) = &t.request {
            line.push_str(&format!(" waiting for {} {}", q.method.as_str(), q.path));
        }
    } else if let Some(x) = &f.reset {
        line.push_str(&format!(" RST by {}", x.by));
    }
    if let Some(p) = &f.place {
        let netns = p.socket_netns.as_ref().map(|n| {
            n.name
                .clone()
                .unwrap_or_else(|| format!("net:[{}]", n.inode))
        });
        match (&p.interface, &netns) {
            (i, Some(n)) if i.is_empty() => line.push_str(&format!(" [in netns {n}")),
            (i, _) => line.push_str(&format!(" [on {i}")),
        }
        if let Some(c) = &p.closed_by {
            line.push_str(&format!(", closed by {} ({})", c.command, c.pid));
        }
        if let Some(pod) = &p.pod {
            line.push_str(&format!(", pod {}/{}", pod.namespace, pod.name));
        } else if let Some(n) = &p.peer_netns {
            let name = n
                .name
                .clone()
                .unwrap_or_else(|| format!("net:[{}]", n.inode));
            line.push_str(&format!(", peer netns {name}"));
        }
        line.push(']');
    }
    line
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synth::{Flow, findings, get, ok, secs};

    const RTT: i64 = 1_000_000;

    fn flow() -> Flow {
        let ip = |s: &str| s.parse().unwrap();
        Flow::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 3000), 1, 9)
    }

    #[test]
    fn test_line_of_reset_race_and_truncated_response() {
        let mut f = flow();
        let mut p = f.handshake(0, RTT);
        p.extend(f.exchange(secs(0.01), RTT, &get("/a"), &ok(None)));
        p.push(f.data(secs(2.5), true, get("/b").as_bytes()));
        p.push(f.rst_ack(secs(2.5) + 100_000, false));
        let l = line(&findings(&p)[0]);
        assert!(l.contains("keepalive_race 10.0.0.1:40000 → 10.0.0.2:3000 reset race: RST with no FIN after 2.489 s idle, lost GET /b"), "{l}");

        let mut f = flow();
        let mut p = f.handshake(0, RTT);
        p.push(f.data(secs(0.01), true, get("/big").as_bytes()));
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        p.push(f.data(secs(0.01) + RTT, false, head.as_bytes()));
        p.push(f.fin(secs(0.2), false));
        let l = line(&findings(&p)[0]);
        assert!(l.contains("truncated_response 10.0.0.1:40000 → 10.0.0.2:3000 response 200 cut after 3 body bytes of 10, answering GET /big"), "{l}");
    }
}
