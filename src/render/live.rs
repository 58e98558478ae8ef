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
    } else if let Some(x) = &f.reset {
        line.push_str(&format!(" RST by {}", x.by));
    }
    line
}
