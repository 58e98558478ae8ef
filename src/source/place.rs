//! Where a live finding happened, in the terms of the node it was captured
//! on: the interface, for a veth the network namespace at its other end and
//! the processes in it, and, where the kubelet's layout is readable, the
//! pod those processes belong to.
//!
//! Nothing here asks a container runtime or the Kubernetes API: the pieces
//! are read from files every node has. The peer's namespace is the one whose
//! sysfs (seen through `/proc/PID/root/sys`, which container runtimes and
//! `ip netns exec` mount for the namespace) has an interface with the veth's
//! `iflink` as index and the veth's index as `iflink`. The pod comes from
//! the processes' `/proc/PID/cgroup` (the kubepods slice names the pod UID,
//! the last path element the container id) and `/var/log/pods/`, whose
//! folders are named `<namespace>_<pod>_<uid>`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Processes listed per namespace at most (the first by PID).
pub const MAX_PIDS: usize = 16;

/// Where a finding was captured (`racecap capture`) or watched (`racecap
/// watch`: no interface, the socket's namespace and who closed it).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Place {
    /// The interface the connection's first packet came in on (empty for
    /// `racecap watch`, which reads no interface).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interface: String,
    /// The `--netns` the capture ran in, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// For a veth: the network namespace of its peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_netns: Option<PeerNetns>,
    /// The pod of the processes in that namespace (or of the `--netns`
    /// PID), from the kubelet's layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Pod>,
    /// `racecap watch`: the network namespace of the socket whose event
    /// first showed the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_netns: Option<PeerNetns>,
    /// `racecap watch`: the process that closed the server's socket (the
    /// kernel's state change ran in its context).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<Process>,
}

/// A process, as the kernel named it when it acted.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// Its command (`comm`, at most 15 bytes).
    pub command: String,
}

/// The network namespace at the other end of a veth.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PeerNetns {
    /// The namespace's inode number (`ls -l /proc/PID/ns/net` shows it as
    /// `net:[N]`).
    pub inode: u64,
    /// Its name, when `ip netns add` made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Processes in it, by PID (at most [`MAX_PIDS`]).
    pub pids: Vec<u32>,
    /// Their command names (`/proc/PID/comm`), in the same order.
    pub commands: Vec<String>,
}

/// A Kubernetes pod, as the kubelet's log folders name it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Container ids found in the processes' cgroups, sorted.
    pub container_ids: Vec<String>,
}

/// The folders the facts are read from: `/proc`, `/var/run/netns` and
/// `/var/log/pods` on a node; a temporary layout in tests.
#[derive(Debug, Clone)]
pub struct Roots {
    pub proc: PathBuf,
    pub named_netns: PathBuf,
    pub pods: PathBuf,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            proc: PathBuf::from("/proc"),
            named_netns: PathBuf::from("/var/run/netns"),
            pods: PathBuf::from("/var/log/pods"),
        }
    }
}

fn read_u32(p: &Path) -> Option<u32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// The inode of a namespace file (`/proc/PID/ns/net`, `/var/run/netns/X`).
fn ns_inode(p: &Path) -> Option<u64> {
    fs::metadata(p).ok().map(|m| m.ino())
}

impl Roots {
    /// Every process's network namespace: inode → PIDs (sorted).
    fn namespaces(&self) -> BTreeMap<u64, Vec<u32>> {
        let mut out: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        let Ok(dir) = fs::read_dir(&self.proc) else {
            return out;
        };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ino) = ns_inode(&e.path().join("ns/net")) {
                out.entry(ino).or_default().push(pid);
            }
        }
        for pids in out.values_mut() {
            pids.sort_unstable();
        }
        out
    }

    /// Whether PID's view of sysfs has an interface with `index` whose
    /// `iflink` is `iflink`.
    fn sysfs_has(&self, pid: u32, index: u32, iflink: u32) -> bool {
        let net = self.proc.join(pid.to_string()).join("root/sys/class/net");
        let Ok(dir) = fs::read_dir(net) else {
            return false;
        };
        dir.flatten().any(|e| {
            read_u32(&e.path().join("ifindex")) == Some(index)
                && read_u32(&e.path().join("iflink")) == Some(iflink)
        })
    }

    /// The name `ip netns add` gave the namespace with this inode.
    fn netns_name(&self, inode: u64) -> Option<String> {
        let mut names: Vec<String> = fs::read_dir(&self.named_netns)
            .ok()?
            .flatten()
            .filter(|e| ns_inode(&e.path()) == Some(inode))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.into_iter().next()
    }

    /// The namespace `ip` named as a veth's peer, with its processes.
    fn named_peer(&self, name: &str) -> Option<PeerNetns> {
        let inode = ns_inode(&self.named_netns.join(name))?;
        let pids = self.namespaces().remove(&inode).unwrap_or_default();
        Some(self.describe(inode, Some(name.to_string()), pids))
    }

    fn describe(&self, inode: u64, name: Option<String>, pids: Vec<u32>) -> PeerNetns {
        let pids: Vec<u32> = pids.into_iter().take(MAX_PIDS).collect();
        let commands = pids
            .iter()
            .map(|p| {
                fs::read_to_string(self.proc.join(p.to_string()).join("comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            })
            .collect();
        PeerNetns {
            inode,
            name,
            pids,
            commands,
        }
    }

    /// The namespace at the other end of the veth with `index` and
    /// `iflink`, seen from the namespace with inode `own` (skipped: its own
    /// sysfs shows the veth itself, not the peer).
    pub fn peer_netns(&self, own: Option<u64>, index: u32, iflink: u32) -> Option<PeerNetns> {
        for (inode, pids) in self.namespaces() {
            if Some(inode) == own {
                continue;
            }
            // Any process whose mounts show this namespace's sysfs will do;
            // one that only entered the namespace (nsenter) shows another's.
            if !pids.iter().any(|&p| self.sysfs_has(p, iflink, index)) {
                continue;
            }
            return Some(self.describe(inode, self.netns_name(inode), pids));
        }
        None
    }

    /// The pod of these processes: the pod UID and container ids in their
    /// cgroups, the namespace and name from the kubelet's log folder of
    /// that UID.
    pub fn pod(&self, pids: &[u32]) -> Option<Pod> {
        let mut uid = None;
        let mut containers = Vec::new();
        for pid in pids {
            let Ok(text) = fs::read_to_string(self.proc.join(pid.to_string()).join("cgroup"))
            else {
                continue;
            };
            for line in text.lines() {
                let path = line.splitn(3, ':').nth(2).unwrap_or("");
                if let Some(u) = pod_uid(path) {
                    uid.get_or_insert(u);
                }
                if let Some(c) = container_id(path)
                    && !containers.contains(&c)
                {
                    containers.push(c);
                }
            }
        }
        let uid = uid?;
        containers.sort();
        let suffix = format!("_{uid}");
        let mut dirs: Vec<String> = fs::read_dir(&self.pods)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(&suffix))
            .collect();
        dirs.sort();
        let dir = dirs.into_iter().next()?;
        let (namespace, name) = dir.strip_suffix(&suffix)?.split_once('_')?;
        Some(Pod {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid,
            container_ids: containers,
        })
    }
}

/// A pod found on this node by its UID (`racecap capture --pod`): one of
/// its processes (for `--netns`), and the host-side index of its `eth0`
/// veth when its sysfs shows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProcess {
    pub pid: u32,
    /// `eth0`'s `iflink` in the pod: the index of its peer on the node.
    pub host_ifindex: Option<u32>,
}

impl Roots {
    /// A process of the pod with this UID: the first by PID whose cgroup
    /// names it, preferring one whose sysfs shows `eth0` (its `iflink` is
    /// the node-side veth's index). Reading another user's
    /// `/proc/PID/root` takes CAP_SYS_PTRACE: without it, a pod whose
    /// processes do not run as root is found with no `host_ifindex`.
    pub fn find_pod(&self, uid: &str) -> Option<PodProcess> {
        let uid = uid.trim().to_ascii_lowercase();
        let mut pids: Vec<u32> = fs::read_dir(&self.proc)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        let mut found: Option<PodProcess> = None;
        for pid in pids {
            let Ok(text) = fs::read_to_string(self.proc.join(pid.to_string()).join("cgroup"))
            else {
                continue;
            };
            let ours = text
                .lines()
                .any(|l| pod_uid(l.splitn(3, ':').nth(2).unwrap_or("")).as_deref() == Some(&uid));
            if !ours {
                continue;
            }
            let eth0 = self
                .proc
                .join(pid.to_string())
                .join("root/sys/class/net/eth0");
            let host_ifindex = read_u32(&eth0.join("iflink"));
            if host_ifindex.is_some() {
                return Some(PodProcess { pid, host_ifindex });
            }
            found.get_or_insert(PodProcess { pid, host_ifindex });
        }
        found
    }

    /// Where an interface of the namespace this thread is in leads: for a
    /// veth its peer's namespace, processes and pod; with `--netns PID`,
    /// that process's pod.
    pub fn locate(&self, interface: &str, netns: Option<&str>) -> Place {
        let dir = Path::new("/sys/class/net").join(interface);
        let index = read_u32(&dir.join("ifindex"));
        let iflink = read_u32(&dir.join("iflink"));
        let own = ns_inode(&self.proc.join("thread-self/ns/net"));
        let peer_netns = match (index, iflink, peer_link(interface)) {
            (_, _, Some(PeerLink::Named(name))) => self.named_peer(&name),
            (Some(i), Some(l), Some(PeerLink::Elsewhere)) => self.peer_netns(own, i, l),
            (Some(i), Some(l), None) if i != l && l != 0 => self.peer_netns(own, i, l),
            _ => None,
        };
        let netns_pid = netns
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok());
        let pod = match (&peer_netns, netns_pid) {
            (Some(p), _) => self.pod(&p.pids),
            (None, Some(pid)) => self.pod(&[pid]),
            (None, None) => None,
        };
        Place {
            interface: interface.to_string(),
            netns: netns.map(str::to_string),
            peer_netns,
            pod,
            ..Place::default()
        }
    }

    /// Where a socket of the network namespace with this inode is (`racecap
    /// watch`): the namespace, its name and processes, and their pod.
    pub fn locate_socket(&self, inode: u64) -> Place {
        let pids = self.namespaces().remove(&inode).unwrap_or_default();
        let ns = self.describe(inode, self.netns_name(inode), pids);
        Place {
            pod: self.pod(&ns.pids),
            socket_netns: Some(ns),
            ..Place::default()
        }
    }
}

/// Where `ip` says an interface's peer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PeerLink {
    /// In the namespace `ip netns add` (or a CNI plugin) named so
    /// (`link-netns NAME`).
    Named(String),
    /// In another namespace with no name here (`link-netnsid N`).
    Elsewhere,
    /// In this namespace, or no peer.
    Here,
}

/// Reads `ip -o link show dev IFACE` (a veth's two ends may have the same
/// index and `iflink`, so the numbers alone cannot tell). `None` without
/// `ip`.
fn peer_link(interface: &str) -> Option<PeerLink> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "dev", interface])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(parse_peer_link(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_peer_link(line: &str) -> PeerLink {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        match (w, words.clone().next()) {
            ("link-netns", Some(name)) => return PeerLink::Named(name.to_string()),
            ("link-netnsid", Some(_)) => return PeerLink::Elsewhere,
            _ => {}
        }
    }
    PeerLink::Here
}

/// The pod UID in a cgroup path: `…/kubepods-burstable-pod<uid>.slice/…`
/// (systemd driver, `-` in the UID written as `_`) or `…/kubepods/besteffort/
/// pod<uid>/…` (cgroupfs driver).
pub fn pod_uid(path: &str) -> Option<String> {
    path.split('/').find_map(|part| {
        let part = part.strip_suffix(".slice").unwrap_or(part);
        let at = part.rfind("pod")?;
        if at > 0 && !part[..at].ends_with('-') {
            return None;
        }
        let uid = part[at + 3..].replace('_', "-");
        let ok = uid.len() == 36
            && uid.bytes().enumerate().all(|(i, b)| {
                matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
            });
        ok.then_some(uid)
    })
}

/// The container id ending a cgroup path: `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `docker-<id>.scope`, or a bare 64-hex-digit element.
pub fn container_id(path: &str) -> Option<String> {
    let last = path.rsplit('/').next()?;
    let last = last.strip_suffix(".scope").unwrap_or(last);
    let id = last.rsplit('-').next()?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

#[cfg(test)]
mod test {
    use super::*;

    const UID: &str = "0f3c2a8e-51d2-4b7e-9c11-2a6c1e5b9d40";
    const CID: &str = "4e1b0d5c8f2a7e6d3c9b1a0f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d";

    #[test]
    fn test_parse_peer_link() {
        let named = "7: r14va@if2: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state UP \\    link/ether ee:63:78:8e:c9:d2 brd ff:ff:ff:ff:ff:ff link-netns r14-pa1";
        assert_eq!(parse_peer_link(named), PeerLink::Named("r14-pa1".into()));
        let id = "9: veth0@if2: <UP> mtu 1500 \\    link/ether 0a:58:0a:f4:00:01 brd ff:ff:ff:ff:ff:ff link-netnsid 3";
        assert_eq!(parse_peer_link(id), PeerLink::Elsewhere);
        let lo = "1: lo: <LOOPBACK,UP> mtu 65536 \\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00";
        assert_eq!(parse_peer_link(lo), PeerLink::Here);
    }

    #[test]
    fn test_pod_uid_both_cgroup_drivers() {
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{CID}.scope",
            UID.replace('-', "_")
        );
        assert_eq!(pod_uid(&systemd).as_deref(), Some(UID));
        assert_eq!(container_id(&systemd).as_deref(), Some(CID));
        let cgroupfs = format!("/kubepods/besteffort/pod{UID}/{CID}");
        assert_eq!(pod_uid(&cgroupfs).as_deref(), Some(UID));
        assert_eq!(container_id(&cgroupfs).as_deref(), Some(CID));
        assert_eq!(pod_uid("/user.slice/user-0.slice/session-3.scope"), None);
        assert_eq!(
            container_id("/user.slice/user-0.slice/session-3.scope"),
            None
        );
    }

    /// Roots in an empty temporary folder (gone with the guard).
    fn temp_roots() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let roots = Roots {
            proc: root.join("proc"),
            named_netns: root.join("netns"),
            pods: root.join("pods"),
        };
        (dir, roots)
    }

    /// A node's layout written into a temporary folder: two processes of a
    /// pod (pause and the app) in one namespace, the kubelet's log folder
    /// for the pod, another pod's folder that must not match.
    #[test]
    fn test_pod_from_cgroup_and_kubelet_log_folders() {
        let (_dir, roots) = temp_roots();
        for (pid, cg) in [
            (
                "4100",
                format!("0::/kubepods/burstable/pod{UID}/{}\n", "a".repeat(64)),
            ),
            ("4200", format!("0::/kubepods/burstable/pod{UID}/{CID}\n")),
        ] {
            let d = roots.proc.join(pid);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cgroup"), cg).unwrap();
        }
        fs::create_dir_all(roots.pods.join(format!("shop_backend-7d9f_{UID}/app"))).unwrap();
        fs::create_dir_all(
            roots
                .pods
                .join("shop_other-1_11111111-2222-3333-4444-555555555555"),
        )
        .unwrap();
        let pod = roots.pod(&[4100, 4200]).unwrap();
        assert_eq!(
            pod,
            Pod {
                namespace: "shop".into(),
                name: "backend-7d9f".into(),
                uid: UID.into(),
                container_ids: vec![CID.into(), "a".repeat(64)],
            }
        );
        // No kubelet folder for the UID: no pod.
        fs::remove_dir_all(roots.pods.join(format!("shop_backend-7d9f_{UID}"))).unwrap();
        assert_eq!(roots.pod(&[4100]), None);
    }

    /// Issue 25: `capture --pod UID` on a node. The pod's pause process
    /// (no sysfs readable) and its app (whose eth0 leads to index 17), a
    /// process of another pod; the UID as the API gives it, while the
    /// systemd driver writes it with `_`.
    #[test]
    fn test_25_find_pod_by_uid() {
        let (_dir, roots) = temp_roots();
        let slice = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{CID}.scope\n",
            UID.replace('-', "_")
        );
        let other = "0::/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/x\n";
        for (pid, cg) in [
            ("90", other),
            ("100", slice.as_str()),
            ("120", slice.as_str()),
        ] {
            let d = roots.proc.join(pid);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("cgroup"), cg).unwrap();
        }
        assert_eq!(
            roots.find_pod(UID),
            Some(PodProcess {
                pid: 100,
                host_ifindex: None
            })
        );
        let eth0 = roots.proc.join("120/root/sys/class/net/eth0");
        fs::create_dir_all(&eth0).unwrap();
        fs::write(eth0.join("iflink"), "17\n").unwrap();
        assert_eq!(
            roots.find_pod(&UID.to_uppercase()),
            Some(PodProcess {
                pid: 120,
                host_ifindex: Some(17)
            })
        );
        assert_eq!(roots.find_pod("22222222-2222-3333-4444-555555555555"), None);
    }

    /// This process's own namespace has lo (index 1, iflink 1) in its
    /// sysfs; as a "peer" it is found only when not skipped as our own.
    #[test]
    fn test_peer_netns_skips_own_namespace() {
        let roots = Roots::default();
        let own = ns_inode(Path::new("/proc/self/ns/net"));
        let me = std::process::id();
        assert!(roots.sysfs_has(me, 1, 1));
        let found = roots.peer_netns(None, 1, 1).unwrap();
        assert!(found.pids.len() <= MAX_PIDS);
        assert_eq!(found.pids.len(), found.commands.len());
        // Whatever namespace lo was found in, ours is skipped when asked.
        if let Some(other) = roots.peer_netns(own, 1, 1) {
            assert_ne!(Some(other.inode), own);
        }
    }
}
