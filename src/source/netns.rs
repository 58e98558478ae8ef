//! Entering another network namespace for a capture: a pod's, so that
//! `racecap capture --netns <pid of the app> -i lo` sees the sidecar → app
//! hop that runs on the pod's own loopback (what ksniff does by running
//! tcpdump in the pod).
//!
//! Only the thread that captures enters the namespace (`setns(2)` with
//! `CLONE_NEWNET` changes the calling thread alone), so output files, the
//! metrics listener and everything else stay where racecap was started. The
//! thread also gets a mount namespace of its own with a fresh sysfs, as
//! `ip netns exec` does, because `/sys/class/net` shows the interfaces of
//! the namespace sysfs was mounted in, not of the thread reading it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where `ip netns add NAME` puts its namespaces.
const NAMED_DIRS: [&str; 2] = ["/var/run/netns", "/run/netns"];

/// A network namespace, held open by a file descriptor.
#[derive(Debug)]
pub struct Netns {
    file: File,
    /// What the user named it (`r14-lo`, `/proc/42/ns/net`, `42`).
    pub spec: String,
    /// The file opened for it.
    pub path: PathBuf,
}

/// Why a namespace could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Nothing at the path the argument names.
    #[error("--netns {spec}: no such network namespace ({})", path.display())]
    NotFound { spec: String, path: PathBuf },
    /// The file exists but is no network namespace.
    #[error("--netns {spec}: {} is not a network namespace", path.display())]
    NotANamespace { spec: String, path: PathBuf },
    /// Opening or entering it needs privileges.
    #[error(
        "--netns {spec}: not permitted: entering a network namespace needs root or CAP_SYS_ADMIN"
    )]
    NotPermitted { spec: String },
    /// Anything else the kernel said.
    #[error("--netns {spec}: {what}: {source}")]
    Other {
        spec: String,
        what: &'static str,
        source: io::Error,
    },
}

/// The file a `--netns` argument names: a PID (its `/proc/PID/ns/net`), a
/// path (anything with a `/`), or the name `ip netns add` gave it.
pub fn path_of(spec: &str) -> PathBuf {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return PathBuf::from(format!("/proc/{spec}/ns/net"));
    }
    if spec.contains('/') {
        return PathBuf::from(spec);
    }
    NAMED_DIRS
        .iter()
        .map(|d| Path::new(d).join(spec))
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new(NAMED_DIRS[0]).join(spec))
}

impl Netns {
    /// Opens the namespace a `--netns` argument names.
    pub fn open(spec: &str) -> Result<Netns, NetnsError> {
        let path = path_of(spec);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NetnsError::NotFound {
                spec: spec.to_string(),
                path: path.clone(),
            },
            io::ErrorKind::PermissionDenied => NetnsError::NotPermitted {
                spec: spec.to_string(),
            },
            _ => NetnsError::Other {
                spec: spec.to_string(),
                what: "opening it",
                source: e,
            },
        })?;
        Ok(Netns {
            file,
            spec: spec.to_string(),
            path,
        })
    }

    /// Moves the calling thread into the namespace, with a mount namespace
    /// of its own whose `/sys` is that namespace's sysfs. Call it on a
    /// thread made for the purpose: there is no way back.
    pub fn enter_this_thread(&self) -> Result<(), NetnsError> {
        let spec = || self.spec.clone();
        let err = |what: &'static str, e: Errno| match e {
            Errno::EPERM => NetnsError::NotPermitted { spec: spec() },
            Errno::EINVAL if what == "setns" => NetnsError::NotANamespace {
                spec: spec(),
                path: self.path.clone(),
            },
            _ => NetnsError::Other {
                spec: spec(),
                what,
                source: io::Error::from(e),
            },
        };
        setns(&self.file, CloneFlags::CLONE_NEWNET).map_err(|e| err("setns", e))?;
        // CLONE_NEWNS implies CLONE_FS: this thread stops sharing its root
        // and working directory with the others, which is what makes the
        // remount below private to it.
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| err("unshare", e))?;
        // Keep the remount from propagating back to the shared mounts.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(|e| err("making mounts private", e))?;
        umount2("/sys", MntFlags::MNT_DETACH).map_err(|e| err("unmounting /sys", e))?;
        mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| err("mounting sysfs", e))?;
        Ok(())
    }
}

/// Runs `f` on a new thread, inside `netns` when one is given; the caller's
/// thread stays where it is.
pub fn run_in<T, F>(netns: Option<Netns>, name: &str, f: F) -> Result<T, NetnsError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || -> Result<T, NetnsError> {
            if let Some(ns) = &netns {
                ns.enter_this_thread()?;
            }
            Ok(f())
        })
        .map_err(|e| NetnsError::Other {
            spec: String::new(),
            what: "starting the capture thread",
            source: e,
        })?;
    match handle.join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_path_of_pid_path_and_name() {
        assert_eq!(path_of("42"), PathBuf::from("/proc/42/ns/net"));
        assert_eq!(
            path_of("/proc/self/ns/net"),
            PathBuf::from("/proc/self/ns/net")
        );
        assert!(path_of("r14-none").ends_with("netns/r14-none"));
    }

    #[test]
    fn test_open_missing_namespace_says_so() {
        let e = Netns::open("r14-no-such-namespace").unwrap_err();
        assert!(matches!(e, NetnsError::NotFound { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "--netns r14-no-such-namespace: no such network namespace (/var/run/netns/r14-no-such-namespace)"
        );
        let e = Netns::open("999999999").unwrap_err();
        assert!(e.to_string().contains("/proc/999999999/ns/net"), "{e}");
    }

    #[test]
    fn test_a_file_that_is_no_namespace() {
        let ns = Netns::open("/proc/self/status").unwrap();
        let e = run_in(Some(ns), "netns-test", || ()).unwrap_err();
        // Without privileges setns says EPERM before it looks at the file.
        assert!(
            matches!(
                e,
                NetnsError::NotANamespace { .. } | NetnsError::NotPermitted { .. }
            ),
            "{e}"
        );
    }
}
