//! Finding the interface to capture on without the manual steps people take
//! today (read the container's `iflink`, then grep `ip link` for that index):
//! interfaces from /sys/class/net with their index and, for veths, the peer's
//! index and network namespace as `ip` reports them.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// One network interface of this network namespace.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    /// The index of the peer for a veth (or the lower device), when it differs.
    pub peer_index: Option<u32>,
    /// The peer's network namespace (name or id), when `ip` shows it.
    pub peer_netns: Option<String>,
    pub state: String,
    pub mac: Option<String>,
    pub addresses: Vec<String>,
}

fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// Runs `ip -o ARGS` and returns its lines; empty when `ip` is missing.
fn ip_lines(args: &[&str]) -> Vec<String> {
    Command::new("ip")
        .arg("-o")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The interface name on an `ip -o` line: "3: veth0@if2: <…>" or "3: veth0    inet …".
fn line_name(line: &str) -> Option<&str> {
    let rest = line.split_once(": ")?.1;
    let name = rest.split([':', ' ']).next()?;
    Some(name.split('@').next().unwrap_or(name))
}

/// The peer's index from `iflink`: equal to the interface's own index it
/// means no peer, except for a veth whose peer lives in another namespace
/// (`link-netns`): indexes are per namespace, so its peer may well carry
/// the same number (issue 15).
fn peer_index(index: u32, iflink: Option<u32>, other_netns: bool) -> Option<u32> {
    iflink.filter(|&l| l != index || other_netns)
}

/// Every interface, sorted by index.
pub fn list() -> std::io::Result<Vec<Interface>> {
    let link_lines = ip_lines(&["link", "show"]);
    let addr_lines = ip_lines(&["addr", "show"]);
    let mut out = Vec::new();
    for entry in fs::read_dir("/sys/class/net")? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let dir = entry.path();
        let Some(index) = read_trim(&dir.join("ifindex")).and_then(|s| s.parse().ok()) else {
            continue;
        };
        let iflink: Option<u32> = read_trim(&dir.join("iflink")).and_then(|s| s.parse().ok());
        let link = link_lines
            .iter()
            .find(|l| line_name(l) == Some(name.as_str()));
        let peer_netns = link.and_then(|l| {
            let mut words = l.split_whitespace();
            while let Some(w) = words.next() {
                if w == "link-netns" || w == "link-netnsid" {
                    return words.next().map(str::to_string);
                }
            }
            None
        });
        let addresses = addr_lines
            .iter()
            .filter(|l| line_name(l) == Some(name.as_str()))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                while let Some(w) = words.next() {
                    if w == "inet" || w == "inet6" {
                        return words.next().map(str::to_string);
                    }
                }
                None
            })
            .collect();
        let peer_index = peer_index(index, iflink, peer_netns.is_some());
        out.push(Interface {
            name,
            index,
            peer_index,
            peer_netns,
            state: read_trim(&dir.join("operstate")).unwrap_or_default(),
            mac: read_trim(&dir.join("address")).filter(|m| !m.is_empty()),
            addresses,
        });
    }
    out.sort_by_key(|i| i.index);
    Ok(out)
}

/// The interface with this index: the number a container prints from
/// `cat /sys/class/net/eth0/iflink` names its host-side veth.
pub fn by_index(index: u32) -> std::io::Result<Option<String>> {
    Ok(list()?
        .into_iter()
        .find(|i| i.index == index)
        .map(|i| i.name))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_line_name() {
        assert_eq!(
            line_name("7: veth930b1c36@if6: <BROADCAST> mtu 1500"),
            Some("veth930b1c36")
        );
        assert_eq!(
            line_name("1: lo    inet 127.0.0.1/8 scope host lo"),
            Some("lo")
        );
    }

    /// Issue 15: a veth's peer in another namespace may carry the same index.
    #[test]
    fn test_peer_index_equal_to_own() {
        assert_eq!(peer_index(1, Some(1), false), None);
        assert_eq!(peer_index(2, Some(2), true), Some(2));
        assert_eq!(peer_index(7, Some(6), false), Some(6));
        assert_eq!(peer_index(7, None, true), None);
    }

    #[test]
    fn test_list_has_loopback() {
        let all = list().unwrap();
        assert!(
            all.iter().any(|i| i.name == "lo" && i.index == 1),
            "{all:?}"
        );
        assert_eq!(by_index(1).unwrap().as_deref(), Some("lo"));
    }
}
