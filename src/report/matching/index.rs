//! The connections a proxy-log line could be about, indexed once by the
//! proxy's local end, by upstream and request, and by time (issue 23: a
//! candidate list per line grew as lines × connections, 1.6 GiB for 20 k
//! unanswered SYNs against 20 k `connect() failed` lines). A line looks up
//! a handful of sorted lists and reads what fits its window by binary
//! search: O(log n) per line, O(connections) memory, and the same answer
//! as filtering every connection (`test_index_agrees_with_the_scan`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Conn, MatchKind};
use crate::analysis::verdict::Verdict;
use crate::flow::Endpoint;
use crate::proxylog::{Anchor, Entry};

/// Which failing connections a list holds: every one of an upstream (or of
/// all upstreams, `None`), those without a request, those with one request
/// (method, target), or those whose target the report cut, by what is left.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    All(Option<Endpoint>),
    NoRequest(Option<Endpoint>),
    Path(Option<Endpoint>, String, String),
    Prefix(Option<Endpoint>, String, String),
}

/// Connections in the order of one moment, with what a window asks of
/// them answered by runs: a range is of one verdict (one server) when the
/// run holding its last element starts at or before its first.
#[derive(Debug, Default)]
struct Timeline {
    /// Connection indices, by (moment, index).
    order: Vec<u32>,
    moment: Vec<i64>,
    verdict_run: Vec<u32>,
    server_run: Vec<u32>,
}

impl Timeline {
    fn new(mut members: Vec<u32>, conns: &[Conn], anchor: Anchor) -> Timeline {
        members.sort_by_key(|&i| (conns[i as usize].moment(anchor), i));
        let mut t = Timeline::default();
        for (k, &i) in members.iter().enumerate() {
            let c = &conns[i as usize];
            let prev = k.checked_sub(1).map(|p| &conns[members[p] as usize]);
            let run = |same: bool, runs: &Vec<u32>| if same { runs[k - 1] } else { k as u32 };
            let v = run(prev.is_some_and(|p| p.verdict == c.verdict), &t.verdict_run);
            let s = run(prev.is_some_and(|p| p.server == c.server), &t.server_run);
            t.order.push(i);
            t.moment.push(c.moment(anchor));
            t.verdict_run.push(v);
            t.server_run.push(s);
        }
        t
    }

    /// The positions whose moment lies in `lo..=hi`.
    fn range(&self, lo: i64, hi: i64) -> (usize, usize) {
        let s = self.moment.partition_point(|&m| m < lo);
        let e = self.moment.partition_point(|&m| m <= hi);
        (s, e.max(s))
    }

    /// The connections of `s..e` nearest `target`: the first of the run
    /// of equal moments just below it and the first at or above it.
    fn nearest(&self, (s, e): (usize, usize), target: i64) -> impl Iterator<Item = (i64, u32)> {
        let above = s + self.moment[s..e].partition_point(|&m| m < target);
        let below = (above > s).then(|| {
            let m = self.moment[above - 1];
            s + self.moment[s..above].partition_point(|&x| x < m)
        });
        [below, (above < e).then_some(above)]
            .into_iter()
            .flatten()
            .map(move |p| ((self.moment[p] - target).abs(), self.order[p]))
    }
}

/// One list, by each moment a line may name.
#[derive(Debug)]
pub(super) struct Lists {
    request: Timeline,
    failure: Timeline,
}

impl Lists {
    fn by(&self, anchor: Anchor) -> &Timeline {
        match anchor {
            Anchor::Request => &self.request,
            Anchor::Failure => &self.failure,
        }
    }
}

/// What fits a line's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fits {
    /// Nothing.
    None,
    /// One connection.
    One(usize),
    /// Several, all failing with `verdict` (on `server` when they share
    /// it): `near` is the one nearest the line's own guess.
    Same {
        verdict: Verdict,
        server: Option<Endpoint>,
        near: usize,
    },
    /// Several that fail differently, or are not all failures.
    Ambiguous,
}

impl Fits {
    /// What a list of fitting connections (by ascending index) says: the
    /// rule the index answers without building the list.
    pub(super) fn of(fits: &[usize], conns: &[Conn], anchor: Anchor, target: i64) -> Fits {
        match fits {
            [] => Fits::None,
            [i] => Fits::One(*i),
            [i0, rest @ ..]
                if conns[*i0].verdict.is_failure()
                    && rest.iter().all(|i| conns[*i].verdict == conns[*i0].verdict) =>
            {
                let near = fits
                    .iter()
                    .copied()
                    .min_by_key(|&i| (conns[i].moment(anchor) - target).abs())
                    .unwrap_or(*i0);
                let same_server = rest.iter().all(|i| conns[*i].server == conns[*i0].server);
                Fits::Same {
                    verdict: conns[*i0].verdict,
                    server: same_server.then_some(conns[*i0].server),
                    near,
                }
            }
            _ => Fits::Ambiguous,
        }
    }
}

/// The candidates of one line, time aside.
pub(super) enum Candidates<'a> {
    /// By the proxy's local end (an exact 4-tuple): few, listed.
    Exact(Vec<usize>),
    /// By upstream and request, in disjoint sorted lists: those that
    /// carried no request (or, for a line without one, all), and those
    /// that carried the line's.
    Timed {
        without: Option<&'a Lists>,
        with: Vec<&'a Lists>,
    },
}

/// Every connection, indexed for the lines.
#[derive(Debug)]
pub(super) struct Index {
    by_local: BTreeMap<Endpoint, Vec<usize>>,
    lists: BTreeMap<Key, Lists>,
    /// Lengths of the cut targets' prefixes there are.
    prefix_lens: BTreeSet<usize>,
}

impl Index {
    pub(super) fn new(conns: &[Conn]) -> Index {
        let mut by_local: BTreeMap<Endpoint, Vec<usize>> = BTreeMap::new();
        let mut members: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
        let mut prefix_lens = BTreeSet::new();
        for (i, c) in conns.iter().enumerate() {
            by_local.entry(c.client).or_default().push(i);
            // Only failing connections: a line without a 4-tuple says
            // nothing a healthy connection could confirm.
            if c.finding.is_none() || !c.verdict.is_failure() {
                continue;
            }
            for up in [Some(c.server), None] {
                members.entry(Key::All(up)).or_default().push(i as u32);
                let key = match &c.request {
                    None => Key::NoRequest(up),
                    Some(r) => match r.path.strip_suffix('…') {
                        Some(p) => {
                            prefix_lens.insert(p.len());
                            Key::Prefix(up, r.method.as_str().into(), p.into())
                        }
                        None => Key::Path(up, r.method.as_str().into(), r.path.clone()),
                    },
                };
                members.entry(key).or_default().push(i as u32);
            }
        }
        let lists = members
            .into_iter()
            .map(|(k, v)| {
                let lists = Lists {
                    request: Timeline::new(v.clone(), conns, Anchor::Request),
                    failure: Timeline::new(v, conns, Anchor::Failure),
                };
                (k, lists)
            })
            .collect();
        Index {
            by_local,
            lists,
            prefix_lens,
        }
    }

    /// The connections a line could be about, time aside.
    pub(super) fn candidates(&self, e: &Entry, conns: &[Conn]) -> (Candidates<'_>, MatchKind) {
        if let Some(local) = e.upstream_local {
            let v = self.by_local.get(&local).map_or(Vec::new(), |v| {
                v.iter()
                    .copied()
                    .filter(|&i| e.upstream.is_none_or(|u| u == conns[i].server))
                    .collect()
            });
            return (Candidates::Exact(v), MatchKind::Exact);
        }
        let none = Candidates::Timed {
            without: None,
            with: Vec::new(),
        };
        if e.no_backend || (e.upstream.is_none() && e.request.is_none()) {
            return (none, MatchKind::RequestTime);
        }
        let up = e.upstream;
        let Some(r) = &e.request else {
            let all = self.lists.get(&Key::All(up));
            return (
                Candidates::Timed {
                    without: all,
                    with: Vec::new(),
                },
                MatchKind::RequestTime,
            );
        };
        // A refused or timed-out connect never carried its request: time
        // decides; the others carry this one (or the start the report kept
        // of a cut target).
        let with = std::iter::once(Key::Path(up, r.method.clone(), r.path.clone()))
            .chain(
                self.prefix_lens
                    .iter()
                    .filter_map(|&n| r.path.get(..n))
                    .map(|p| Key::Prefix(up, r.method.clone(), p.into())),
            )
            .filter_map(|k| self.lists.get(&k))
            .collect();
        let without = self.lists.get(&Key::NoRequest(up));
        (Candidates::Timed { without, with }, MatchKind::RequestTime)
    }

    /// The one connection a line fits without looking at the time, if any:
    /// these lines measure the clock offset.
    pub(super) fn unique(cands: &Candidates<'_>) -> Option<usize> {
        match cands {
            Candidates::Exact(v) => (v.len() == 1).then(|| v[0]),
            // Those that carried the line's request (a line without one
            // has none of these).
            Candidates::Timed { with, .. } => match with.as_slice() {
                [one] if one.request.order.len() == 1 => Some(one.request.order[0] as usize),
                _ => None,
            },
        }
    }

    /// What fits `lo..=hi` at the line's anchor; `target` is the line's
    /// own guess of the moment.
    pub(super) fn fits(
        cands: &Candidates<'_>,
        conns: &[Conn],
        anchor: Anchor,
        (lo, hi): (i64, i64),
        target: i64,
    ) -> Fits {
        let lists = match cands {
            Candidates::Exact(v) => {
                let alive: Vec<usize> = v
                    .iter()
                    .copied()
                    .filter(|&i| conns[i].start <= hi && conns[i].end >= lo)
                    .collect();
                let fits: Vec<usize> = if alive.len() > 1 {
                    alive
                        .into_iter()
                        .filter(|&i| (lo..=hi).contains(&conns[i].moment(anchor)))
                        .collect()
                } else {
                    alive
                };
                return Fits::of(&fits, conns, anchor, target);
            }
            Candidates::Timed { without, with } => without.iter().chain(with),
        };
        let ranges: Vec<(&Timeline, (usize, usize))> = lists
            .map(|l| l.by(anchor))
            .map(|t| (t, t.range(lo, hi)))
            .filter(|(_, (s, e))| e > s)
            .collect();
        let count: usize = ranges.iter().map(|(_, (s, e))| e - s).sum();
        if count <= 1 {
            return ranges
                .first()
                .map_or(Fits::None, |(t, (s, _))| Fits::One(t.order[*s] as usize));
        }
        // All failing (the lists hold only failures): one verdict in every
        // range and the same across them, or ambiguous.
        let first = |t: &Timeline, s: usize| &conns[t.order[s] as usize];
        let (t0, (s0, _)) = ranges[0];
        let uniform = |runs: fn(&Timeline) -> &Vec<u32>, same: &dyn Fn(&Conn) -> bool| {
            ranges
                .iter()
                .all(|(t, (s, e))| runs(t)[e - 1] as usize <= *s && same(first(t, *s)))
        };
        let verdict = first(t0, s0).verdict;
        if !uniform(|t| &t.verdict_run, &|c| c.verdict == verdict) {
            return Fits::Ambiguous;
        }
        let server = first(t0, s0).server;
        let same_server = uniform(|t| &t.server_run, &|c| c.server == server);
        let near = ranges
            .iter()
            .flat_map(|(t, r)| t.nearest(*r, target))
            .min()
            .map_or(t0.order[s0] as usize, |(_, i)| i as usize);
        Fits::Same {
            verdict,
            server: same_server.then_some(server),
            near,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::app::http::Method;
    use crate::proxylog::LogTime;
    use crate::proxylog::LoggedRequest;
    use crate::report::Request;

    /// The rule the index answers, as the scan over every connection that
    /// it replaced wrote it: the logged request is the one the capture saw
    /// (a target the report cut ends in `…`).
    fn same_request(logged: &LoggedRequest, seen: &Request) -> bool {
        logged.method == seen.method.as_str()
            && (logged.path == seen.path
                || seen
                    .path
                    .strip_suffix('…')
                    .is_some_and(|p| logged.path.starts_with(p)))
    }

    fn scan(e: &Entry, conns: &[Conn]) -> (Vec<usize>, MatchKind) {
        if let Some(local) = e.upstream_local {
            let v = (0..conns.len())
                .filter(|&i| {
                    conns[i].client == local && e.upstream.is_none_or(|u| u == conns[i].server)
                })
                .collect();
            return (v, MatchKind::Exact);
        }
        if e.no_backend || (e.upstream.is_none() && e.request.is_none()) {
            return (Vec::new(), MatchKind::RequestTime);
        }
        let v = (0..conns.len())
            .filter(|&i| {
                let c = &conns[i];
                c.finding.is_some()
                    && c.verdict.is_failure()
                    && e.upstream.is_none_or(|u| u == c.server)
                    && match (&e.request, &c.request) {
                        (Some(l), Some(s)) => same_request(l, s),
                        _ => true,
                    }
            })
            .collect();
        (v, MatchKind::RequestTime)
    }

    fn scan_unique(e: &Entry, cands: &[usize], kind: MatchKind, conns: &[Conn]) -> Option<usize> {
        let sure: Vec<usize> = match kind {
            MatchKind::Exact => cands.to_vec(),
            _ => cands
                .iter()
                .copied()
                .filter(|&i| e.request.is_some() && conns[i].request.is_some())
                .collect(),
        };
        (sure.len() == 1).then(|| sure[0])
    }

    fn ep(n: u64) -> Endpoint {
        Endpoint {
            ip: std::net::IpAddr::from([10, 0, 0, (n % 3) as u8]),
            port: 80 + (n % 2) as u16,
        }
    }

    /// Random connections and lines (few upstreams, requests, verdicts and
    /// moments, so that windows hold several): the index and the scan give
    /// the same candidates, unique lines and fits.
    #[test]
    fn test_index_agrees_with_the_scan() {
        let mut rng = crate::synth::Rng(23);
        let mut pick = |n: u64| rng.next_u64() % n;
        let verdicts = [
            Verdict::KeepaliveRace,
            Verdict::ConnectRefused,
            Verdict::ServerReset,
            Verdict::ClosedByServer,
        ];
        let long = format!("/{}", "p".repeat(30));
        let paths = ["/a", "/b", long.as_str()];
        let conns: Vec<Conn> = (0..300)
            .map(|i| {
                let at = (pick(40) as i64) * 100;
                let request = (pick(3) > 0).then(|| {
                    let p = paths[pick(3) as usize];
                    Request {
                        method: if pick(4) == 0 {
                            Method::Post
                        } else {
                            Method::Get
                        },
                        path: if pick(3) == 0 {
                            format!("{}…", &p[..2.min(p.len())])
                        } else {
                            p.into()
                        },
                        idempotent: true,
                    }
                });
                Conn {
                    client: ep(pick(5) + 10),
                    server: ep(pick(4)),
                    // Mostly one verdict, so that windows agree often.
                    verdict: verdicts[pick(16).saturating_sub(12) as usize],
                    start: at - 1000,
                    end: at + 50,
                    at,
                    request_at: (pick(2) == 0).then_some(at - (pick(3) as i64) * 100),
                    request,
                    finding: (pick(5) > 0).then_some(i),
                }
            })
            .collect();
        let index = Index::new(&conns);
        let mut seen = [0u32; 5];
        for _ in 0..3000 {
            let request = (pick(3) > 0).then(|| LoggedRequest {
                method: if pick(4) == 0 { "POST" } else { "GET" }.into(),
                path: format!(
                    "{}{}",
                    paths[pick(3) as usize],
                    if pick(4) == 0 { "x" } else { "" }
                ),
            });
            let e = Entry {
                time: LogTime {
                    ns: (pick(40) as i64) * 100,
                    precision_ns: 100,
                    zone_s: None,
                },
                anchor: if pick(2) == 0 {
                    Anchor::Request
                } else {
                    Anchor::Failure
                },
                shift_ns: 0,
                lead_ns: (pick(3) as i64) * 100,
                span_ns: (pick(3) as i64) * 100,
                status: Some(502),
                request,
                upstream: (pick(4) > 0).then(|| ep(pick(4))),
                upstream_local: (pick(4) == 0).then(|| ep(pick(5) + 10)),
                flags: None,
                details: None,
                termination: None,
                attempts: Vec::new(),
                error_log: true,
                no_backend: pick(20) == 0,
            };
            let (want, kind) = scan(&e, &conns);
            let (got, got_kind) = index.candidates(&e, &conns);
            assert_eq!(kind, got_kind);
            assert_eq!(
                Index::unique(&got),
                scan_unique(&e, &want, kind, &conns),
                "{e:?}"
            );
            let (lo, hi, guess) = e.window();
            let slack = (pick(3) as i64) * 100;
            let (lo, hi) = (lo - slack, hi + slack);
            let fits: Vec<usize> = match kind {
                MatchKind::Exact => {
                    let alive: Vec<usize> = want
                        .iter()
                        .copied()
                        .filter(|&i| conns[i].start <= hi && conns[i].end >= lo)
                        .collect();
                    if alive.len() > 1 {
                        alive
                            .into_iter()
                            .filter(|&i| (lo..=hi).contains(&conns[i].moment(e.anchor)))
                            .collect()
                    } else {
                        alive
                    }
                }
                _ => want
                    .iter()
                    .copied()
                    .filter(|&i| (lo..=hi).contains(&conns[i].moment(e.anchor)))
                    .collect(),
            };
            let f = Index::fits(&got, &conns, e.anchor, (lo, hi), guess);
            assert_eq!(f, Fits::of(&fits, &conns, e.anchor, guess), "{e:?}");
            seen[match f {
                Fits::None => 0,
                Fits::One(_) => 1,
                Fits::Same { server: None, .. } => 2,
                Fits::Same { .. } => 3,
                Fits::Ambiguous => 4,
            }] += 1;
        }
        // Every outcome was exercised.
        assert!(seen.iter().all(|&n| n > 10), "{seen:?}");
    }
}
