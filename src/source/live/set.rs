//! Several interfaces in one capture: `-i` repeated, and patterns (`veth*`,
//! `cali*`, `lxc*`) that follow a node's pods as they come and go. The set
//! reads its members in turn, looks for new matches and vanished members
//! once a second, and numbers every interface it ever opened so that a
//! finding can name the one its connection came in on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{IDLE_SLEEP, LiveError, LiveOptions, LiveSource, LiveStats};
use crate::source::Frame;

/// How often the patterns are matched again against the interfaces.
pub const RESCAN: Duration = Duration::from_secs(1);

/// Kernel buffer for an interface a pattern brought in: a node may have a
/// hundred pod veths, each far from busy, and each buffer is kernel memory.
pub const PATTERN_BUFFER_SIZE: i32 = 4 << 20;

/// How often a matching interface that would not open is tried again (a
/// veth created down, then brought up by the container runtime).
pub const RETRY_FAILED: Duration = Duration::from_secs(2);

/// Whether an `-i` argument is a pattern rather than a name.
pub fn is_pattern(spec: &str) -> bool {
    spec.contains(['*', '?', '['])
}

/// Shell-style matching of a whole name: `*` any run, `?` one character,
/// `[abc]`, `[a-z]` and `[!abc]` one of (or none of) a set.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, n[ni]),
            Some(&c) if c == n[ni] => Some(pi + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class opening at `p[at]`; the index after the
/// class when it matches. An unclosed `[` matches itself.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while let Some(&x) = p.get(i) {
        if x == ']' && i > start {
            return (hit != negate).then_some(i + 1);
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&y| y != ']') {
            hit |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= x == c;
            i += 1;
        }
    }
    (c == '[').then_some(at + 1)
}

/// One open interface of the set.
pub struct Member {
    /// Its number for this run (see [`LiveSet::names`]).
    pub id: u32,
    pub name: String,
    /// Whether a pattern brought it in (rather than its name).
    pub by_pattern: bool,
    src: LiveSource,
}

/// What changed in the set, for the caller to say and to count.
#[derive(Debug)]
pub enum Event {
    /// An interface was opened (at the start or when it appeared).
    Opened {
        id: u32,
        name: String,
        linktype: u16,
    },
    /// An interface went away (or failed); its last counters.
    Gone {
        id: u32,
        name: String,
        stats: Option<LiveStats>,
        why: String,
    },
    /// A matching interface could not be opened (said once; it is tried
    /// again every [`RETRY_FAILED`], as a veth that appears while down
    /// opens once it is up).
    Failed { name: String, error: LiveError },
}

/// Several live captures read as one.
pub struct LiveSet {
    patterns: Vec<String>,
    template: LiveOptions,
    members: Vec<Member>,
    /// Every interface opened in this run, by id.
    names: Vec<String>,
    /// Link types, by id.
    linktypes: Vec<u16>,
    /// Matching interfaces that would not open, with their last attempt.
    failed: HashMap<String, Instant>,
    next: usize,
    last_scan: Instant,
    events: Vec<Event>,
    buf: Vec<u8>,
}

/// The interfaces of the namespace this thread is in (its sysfs), sorted.
pub fn interface_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

impl LiveSet {
    /// Opens every named interface (failing as one interface would) and
    /// every interface matching a pattern now; matches that appear later
    /// are opened by [`next_frame`](Self::next_frame).
    pub fn open(specs: &[String], template: LiveOptions) -> Result<LiveSet, LiveError> {
        let mut set = LiveSet {
            patterns: specs.iter().filter(|s| is_pattern(s)).cloned().collect(),
            template,
            members: Vec::new(),
            names: Vec::new(),
            linktypes: Vec::new(),
            failed: HashMap::new(),
            next: 0,
            last_scan: Instant::now(),
            events: Vec::new(),
            buf: Vec::new(),
        };
        for name in specs.iter().filter(|s| !is_pattern(s)) {
            if set.members.iter().any(|m| &m.name == name) {
                continue;
            }
            let src = LiveSource::open(&set.options(name, false))?;
            set.add(name.clone(), src, false);
        }
        set.scan();
        if let Some(e) = set.none_opened() {
            return Err(e);
        }
        Ok(set)
    }

    fn options(&self, name: &str, by_pattern: bool) -> LiveOptions {
        let buffer_size = if by_pattern {
            self.template.buffer_size.min(PATTERN_BUFFER_SIZE)
        } else {
            self.template.buffer_size
        };
        LiveOptions {
            interface: name.to_string(),
            buffer_size,
            ..self.template.clone()
        }
    }

    fn add(&mut self, name: String, src: LiveSource, by_pattern: bool) {
        // An interface that comes back under the same name keeps its id.
        let id = match self.names.iter().position(|n| *n == name) {
            Some(i) => i as u32,
            None => {
                self.names.push(name.clone());
                self.linktypes.push(src.linktype());
                self.names.len() as u32 - 1
            }
        };
        self.linktypes[id as usize] = src.linktype();
        self.events.push(Event::Opened {
            id,
            name: name.clone(),
            linktype: src.linktype(),
        });
        self.members.push(Member {
            id,
            name,
            by_pattern,
            src,
        });
    }

    fn drop_member(&mut self, i: usize, why: String) {
        let mut m = self.members.remove(i);
        self.events.push(Event::Gone {
            id: m.id,
            name: m.name.clone(),
            stats: m.src.stats(),
            why,
        });
    }

    /// Opens new matches of the patterns and lets go of members whose
    /// interface is gone.
    fn scan(&mut self) {
        self.last_scan = Instant::now();
        let present = interface_names();
        let mut i = 0;
        while i < self.members.len() {
            // Named members (`any` among them, which sysfs does not list)
            // go when reading them fails; pattern members when they vanish.
            let m = &self.members[i];
            if !m.by_pattern || present.contains(&m.name) {
                i += 1;
            } else {
                self.drop_member(i, "the interface is gone".into());
            }
        }
        self.failed.retain(|n, _| present.contains(n));
        if self.patterns.is_empty() {
            return;
        }
        for name in present {
            let open = self.members.iter().any(|m| m.name == name);
            let waiting = self
                .failed
                .get(&name)
                .is_some_and(|t| t.elapsed() < RETRY_FAILED);
            if open || waiting || !self.patterns.iter().any(|p| glob_match(p, &name)) {
                continue;
            }
            match LiveSource::open(&self.options(&name, true)) {
                Ok(src) => {
                    self.failed.remove(&name);
                    self.add(name, src, true);
                }
                Err(error) => {
                    // Said once per interface, tried again later.
                    if self.failed.insert(name.clone(), Instant::now()).is_none() {
                        self.events.push(Event::Failed { name, error });
                    }
                }
            }
        }
    }

    /// When every interface the patterns matched failed to open and none
    /// is open: the first failure, so that a capture that can watch nothing
    /// (no CAP_NET_RAW, say) fails instead of reporting nothing found.
    fn none_opened(&mut self) -> Option<LiveError> {
        if !self.members.is_empty() || self.failed.is_empty() {
            return None;
        }
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Failed { .. }))?;
        match self.events.remove(i) {
            Event::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The next frame from any member with the id of its interface, or
    /// `None` after a short pause when none is waiting. Members that fail
    /// are dropped (an [`Event::Gone`]), not fatal.
    pub fn next_frame(&mut self) -> Option<(u32, Frame<'_>)> {
        if self.last_scan.elapsed() >= RESCAN {
            self.scan();
        }
        let n = self.members.len();
        let mut found = None;
        let mut failed = None;
        for k in 0..n {
            let i = (self.next + k) % n;
            let m = &mut self.members[i];
            match m.src.try_frame() {
                Ok(Some(f)) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(f.data);
                    found = Some((m.id, f.ts_ns, f.linktype, f.origlen));
                    // Next time start after this one: no member starves.
                    self.next = i + 1;
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    failed = Some((i, e.to_string()));
                    break;
                }
            }
        }
        if let Some((i, why)) = failed {
            self.drop_member(i, why);
            return None;
        }
        match found {
            Some((id, ts_ns, linktype, origlen)) => Some((
                id,
                Frame {
                    ts_ns,
                    linktype,
                    origlen,
                    data: &self.buf,
                },
            )),
            None => {
                std::thread::sleep(IDLE_SLEEP);
                None
            }
        }
    }

    /// What changed since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Whether there is nothing left to read and nothing to wait for (no
    /// member, no pattern).
    pub fn is_done(&self) -> bool {
        self.members.is_empty() && self.patterns.is_empty()
    }

    /// Every interface opened in this run, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The link type of an interface, by id.
    pub fn linktype(&self, id: u32) -> u16 {
        self.linktypes[id as usize]
    }

    /// The open members.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// libpcap's counters of every open member, by id.
    pub fn stats(&mut self) -> Vec<(u32, Option<LiveStats>)> {
        self.members
            .iter_mut()
            .map(|m| (m.id, m.src.stats()))
            .collect()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_glob_match() {
        assert!(glob_match("veth*", "veth930b1c36"));
        assert!(glob_match("veth*", "veth"));
        assert!(!glob_match("veth*", "eth0"));
        assert!(glob_match("*", "lo"));
        assert!(glob_match("cali*", "cali1a2b"));
        assert!(glob_match("r14-?a", "r14-1a"));
        assert!(!glob_match("r14-?a", "r14-12a"));
        assert!(glob_match("eth[0-2]", "eth1"));
        assert!(!glob_match("eth[0-2]", "eth3"));
        assert!(glob_match("eth[!0]", "eth3"));
        assert!(!glob_match("eth[!0]", "eth0"));
        assert!(glob_match("*-peer*x", "a-peer-b-peerx"));
        assert!(glob_match("a[", "a["));
        assert!(!is_pattern("eth0"));
        assert!(is_pattern("lxc*"));
    }

    #[test]
    fn test_interface_names_has_loopback() {
        assert!(interface_names().contains(&"lo".to_string()));
    }
}
