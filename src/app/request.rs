//! A request, whatever the protocol that carried it: its verb (HTTP's
//! method today: what decides whether retrying it is safe) and its target,
//! kept in a pool while the request waits for an answer. HTTP/1 and HTTP/2
//! fill it from their own bytes (`http.rs`, `h2.rs`); the analysis, the
//! retry watcher and the report read only this.

/// HTTP methods, as far as retry safety goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }

    /// Idempotent per RFC 9110 §9.2.2: the safe methods plus PUT and DELETE.
    /// Only these may be retried after a reset without risking a double effect.
    pub fn idempotent(self) -> bool {
        matches!(
            self,
            Method::Get
                | Method::Head
                | Method::Options
                | Method::Trace
                | Method::Put
                | Method::Delete
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// In reports, a method is its name on the wire.
impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A request line: method and path (the version is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestLine {
    pub method: Method,
    pub path: Box<str>,
}

/// A request line as kept while its request waits for an answer: the
/// method, and the target's number in [`Paths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Req {
    pub method: Method,
    pub path: PathId,
}

/// A target's number in [`Paths`].
pub type PathId = std::num::NonZeroU32;

/// The targets of the requests that are still waiting for an answer, in
/// buffers that are reused once their request is answered: a request costs
/// a copy of its target, not an allocation. Owned by the analysis, which
/// releases a target when its request is answered or its connection judged.
#[derive(Debug, Default)]
pub struct Paths {
    /// Printable ASCII, and a final "…" for a cut target: UTF-8.
    bufs: Vec<Vec<u8>>,
    free: Vec<PathId>,
    /// Heap bytes of the buffers in use (capacity and allocator overhead).
    bytes: usize,
}

/// Released buffers kept for reuse; beyond, a released buffer is freed, so
/// that the pool's memory follows the requests waiting now.
const KEEP_FREE: usize = 1024;

/// Heap cost of a buffer of `capacity` bytes: its place in `bufs` and the
/// allocator's header.
fn cost(capacity: usize) -> usize {
    if capacity == 0 { 0 } else { capacity + 16 }
}

impl Paths {
    /// Keeps a target (with "…" when it was longer than kept).
    pub fn put(&mut self, kept: &[u8], longer: bool) -> PathId {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.bufs.push(Vec::new());
                PathId::new(self.bufs.len() as u32).expect("a length after a push is not zero")
            }
        };
        let buf = &mut self.bufs[id.get() as usize - 1];
        buf.clear();
        // Exactly what is kept (at most MAX_PATH and a "…"): a buffer grown
        // by doubling would hold twice that for every waiting request.
        buf.reserve_exact(kept.len() + if longer { 3 } else { 0 });
        buf.extend_from_slice(kept);
        if longer {
            buf.extend_from_slice("…".as_bytes());
        }
        // (A reused buffer's cost was taken off when it was released.)
        self.bytes += cost(buf.capacity());
        id
    }

    /// The target kept under `id`.
    pub fn get(&self, id: PathId) -> &str {
        let buf = self.bufs.get(id.get() as usize - 1);
        buf.and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }

    /// The request line as an owned value (for reports and retry watches).
    pub fn line(&self, req: Req) -> RequestLine {
        RequestLine {
            method: req.method,
            path: self.get(req.path).into(),
        }
    }

    /// Whether `req` is the same request line as `line`.
    pub fn same(&self, req: Req, line: &RequestLine) -> bool {
        let buf = self.bufs.get(req.path.get() as usize - 1);
        req.method == line.method && buf.is_some_and(|b| b[..] == *line.path.as_bytes())
    }

    /// Frees a target's buffer for reuse.
    pub fn release(&mut self, id: PathId) {
        let Some(buf) = self.bufs.get_mut(id.get() as usize - 1) else {
            return;
        };
        self.bytes = self.bytes.saturating_sub(cost(buf.capacity()));
        if self.free.len() >= KEEP_FREE {
            *buf = Vec::new();
        }
        self.free.push(id);
    }

    /// Heap bytes held for the targets of the requests waiting now (the
    /// few kept-for-reuse buffers aside), for the memory budget.
    pub fn bytes(&self) -> usize {
        self.bytes + self.bufs.capacity() * std::mem::size_of::<Vec<u8>>()
    }

    /// Targets kept now.
    pub fn live(&self) -> usize {
        self.bufs.len() - self.free.len()
    }
}
