//! A proxy's retry that met a refused connect (issue 21, a restart: nginx
//! re-sent each request a closing server lost, its new connect was refused,
//! and the client got the 502 anyway). The race and the refused connect are
//! one request: the race's request is lost, and the refused connect is no
//! second lost request. Tied by host, server and time only, since a refused
//! connect carries no request line.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Finding, Timestamp, Verdict};
use crate::flow::Endpoint;

/// How soon after a race's failure a refused connect from the same host to
/// the same server is its retry. Proxies retry at once (nginx and HAProxy
/// within a millisecond; Envoy's first backoff is 25 ms); a request the
/// pool would send anyway comes on its own schedule, and over a whole
/// second the two cannot be told apart.
const WINDOW_NS: i64 = 1_000_000_000;

/// What the tie reads of a finding.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// A refused connect (else a race not retried).
    refused: bool,
    host: IpAddr,
    server: Endpoint,
    /// A race's request; a refused connect's first SYN.
    sent: Timestamp,
    /// A race's failure.
    at: Timestamp,
}

/// Ties each race whose request was not seen again to the first refused
/// connect from its host to its server that began after its request went
/// out and within [`WINDOW_NS`] after its failure (the retry's SYN can
/// precede the RST: the FIN told the proxy first, in a crossed race): sets
/// the race's `retry_refused_at` and the connect's `race_retry`. Each
/// finding is tied at most once.
pub fn tie(findings: &mut [Finding]) {
    let items: Vec<(usize, Item)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let (refused, sent) = if f.verdict == Verdict::ConnectRefused {
                (true, f.start)
            } else {
                (
                    false,
                    f.race
                        .as_ref()
                        .filter(|r| r.retried == Some(false))?
                        .request_at,
                )
            };
            Some((
                i,
                Item {
                    refused,
                    host: f.client.ip,
                    server: f.server,
                    sent,
                    at: f.at,
                },
            ))
        })
        .collect();
    let only: Vec<Item> = items.iter().map(|(_, x)| *x).collect();
    for (race, connect) in pairs(&only) {
        let (race, connect) = (items[race].0, items[connect].0);
        let t = findings[connect].start;
        if let Some(c) = findings[connect].connect.as_mut() {
            c.race_retry = true;
        }
        if let Some(r) = findings[race].race.as_mut() {
            r.retry_refused_at = Some(t);
        }
    }
}

/// (race, refused connect) index pairs of `items`.
fn pairs(items: &[Item]) -> Vec<(usize, usize)> {
    // Refused connects by host and server, in time order.
    let mut refused: HashMap<(IpAddr, Endpoint), Vec<(Timestamp, usize)>> = HashMap::new();
    for (i, x) in items.iter().enumerate().filter(|(_, x)| x.refused) {
        refused
            .entry((x.host, x.server))
            .or_default()
            .push((x.sent, i));
    }
    for list in refused.values_mut() {
        list.sort();
    }
    // Races in time order, so that an earlier race takes the earlier retry.
    let mut races: Vec<(Timestamp, usize)> = items
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.refused)
        .map(|(i, x)| (x.sent, i))
        .collect();
    races.sort();
    let mut out = Vec::new();
    for (sent, i) in races {
        let Some(list) = refused.get_mut(&(items[i].host, items[i].server)) else {
            continue;
        };
        // Tied ones leave the list: the first left after the request.
        let k = list.partition_point(|(t, _)| t.0 < sent.0);
        if k == list.len() || list[k].0.0 - items[i].at.0 > WINDOW_NS {
            continue;
        }
        out.push((i, list.remove(k).1));
    }
    out
}

/// A refused connect that is a request of its own: not a race's retry, and
/// not a proxy's client-facing failure passed on from upstream.
pub fn alone(f: &Finding) -> bool {
    f.verdict == Verdict::ConnectRefused
        && f.cause != Some(super::Cause::Upstream)
        && !f.connect.as_ref().is_some_and(|c| c.race_retry)
}

#[cfg(test)]
mod test {
    use super::*;

    const MS: i64 = 1_000_000;

    fn item(refused: bool, server: &str, sent_ms: i64, at_ms: i64) -> Item {
        Item {
            refused,
            host: "10.0.0.1".parse().unwrap(),
            server: {
                let a: std::net::SocketAddr = server.parse().unwrap();
                Endpoint {
                    ip: a.ip(),
                    port: a.port(),
                }
            },
            sent: Timestamp(sent_ms * MS),
            at: Timestamp(at_ms * MS),
        }
    }

    /// nginx's retry: its SYN right after the FIN told it, before the RST.
    #[test]
    fn test_retry_into_refused_connect_is_tied() {
        let items = [
            item(false, "10.0.0.2:80", 0, 110),
            item(true, "10.0.0.2:80", 1, 1),
        ];
        assert_eq!(pairs(&items), vec![(0, 1)]);
    }

    /// Not the race's retry: another server, before its request, more than
    /// a second after its failure, or already another race's retry.
    #[test]
    fn test_refused_connects_that_are_no_retry() {
        let items = [
            item(false, "10.0.0.2:80", 100, 110),
            item(true, "10.0.0.3:80", 101, 101),
            item(true, "10.0.0.2:80", 99, 99),
            item(true, "10.0.0.2:80", 1200, 1200),
        ];
        assert!(pairs(&items).is_empty());
        let two = [
            item(false, "10.0.0.2:80", 100, 110),
            item(false, "10.0.0.2:80", 105, 115),
            item(true, "10.0.0.2:80", 111, 111),
        ];
        assert_eq!(pairs(&two), vec![(0, 2)]);
    }
}
