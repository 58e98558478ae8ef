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
            " {} race: FIN after {} idle, request {:+.1} ms after the FIN",
            r.kind,
            r.idle_before_fin_ms.map_or("?".into(), |ms| secs(ms.ms())),
            r.fin_to_request_ms.ms()
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
    } else if let Some(x) = &f.reset {
        line.push_str(&format!(" RST by {}", x.by));
    }
    if let Some(p) = &f.place {
        line.push_str(&format!(" [on {}", p.interface));
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
