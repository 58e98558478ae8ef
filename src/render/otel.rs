//! A live finding as one JSON line for a log pipeline (`racecap capture
//! --format jsonl`): the finding as the
//! schema has it, plus the OpenTelemetry semantic-convention attribute
//! names (`client.address`, `server.port`, `k8s.pod.name`, …) that
//! collectors and log backends index without a mapping of their own.

use serde::Serialize;

use racecap::report::Finding;

/// A finding with its OpenTelemetry attributes at the top level.
#[derive(Debug, Serialize)]
pub struct Line<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    #[serde(rename = "client.address")]
    pub client_address: String,
    #[serde(rename = "client.port")]
    pub client_port: u16,
    #[serde(rename = "server.address")]
    pub server_address: String,
    #[serde(rename = "server.port")]
    pub server_port: u16,
    #[serde(rename = "network.transport")]
    pub network_transport: &'static str,
    #[serde(rename = "network.type")]
    pub network_type: &'static str,
    #[serde(
        rename = "network.interface.name",
        skip_serializing_if = "Option::is_none"
    )]
    pub interface: Option<&'a str>,
    #[serde(
        rename = "http.request.method",
        skip_serializing_if = "Option::is_none"
    )]
    pub method: Option<&'static str>,
    #[serde(rename = "url.path", skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    #[serde(rename = "k8s.namespace.name", skip_serializing_if = "Option::is_none")]
    pub k8s_namespace: Option<&'a str>,
    #[serde(rename = "k8s.pod.name", skip_serializing_if = "Option::is_none")]
    pub k8s_pod: Option<&'a str>,
    #[serde(rename = "k8s.pod.uid", skip_serializing_if = "Option::is_none")]
    pub k8s_pod_uid: Option<&'a str>,
    /// `racecap watch`: the process that closed the server's socket.
    #[serde(rename = "process.pid", skip_serializing_if = "Option::is_none")]
    pub process_pid: Option<u32>,
    #[serde(rename = "process.command", skip_serializing_if = "Option::is_none")]
    pub process_command: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// The attributes of a finding.
    pub fn new(f: &'a Finding) -> Line<'a> {
        let request = f
            .race
            .as_ref()
            .and_then(|r| r.request.as_ref())
            .or_else(|| f.reset.as_ref().and_then(|r| r.request.as_ref()));
        let pod = f.place.as_ref().and_then(|p| p.pod.as_ref());
        let closer = f.place.as_ref().and_then(|p| p.closed_by.as_ref());
        Line {
            finding: f,
            client_address: f.client.ip.to_string(),
            client_port: f.client.port,
            server_address: f.server.ip.to_string(),
            server_port: f.server.port,
            network_transport: "tcp",
            network_type: if f.server.ip.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            interface: f
                .place
                .as_ref()
                .map(|p| p.interface.as_str())
                .filter(|i| !i.is_empty()),
            method: request.map(|q| q.method.as_str()),
            // url.path is the path without the query (that is url.query).
            path: request.map(|q| q.path.split('?').next().unwrap_or(&q.path)),
            k8s_namespace: pod.map(|p| p.namespace.as_str()),
            k8s_pod: pod.map(|p| p.name.as_str()),
            k8s_pod_uid: pod.map(|p| p.uid.as_str()),
            process_pid: closer.map(|c| c.pid),
            process_command: closer.map(|c| c.command.as_str()),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::synth::{Packet, pcap};
    use racecap::report::{Place, Verdict};
    use racecap::source::place::Pod;

    /// A finding of a generated race, placed on a pod's veth.
    #[test]
    fn test_attributes_of_a_placed_race() {
        let (packets, races) = crate::synth::Workload::bench(300, 10, false).packets();
        assert!(races > 0);
        let mut packets: Vec<Packet> = packets;
        packets.sort_by_key(|p| p.ts_ns);
        let bytes = pcap(&packets, &crate::synth::Link::Ethernet(vec![]));
        let reader = racecap::source::CaptureReader::new(std::io::Cursor::new(bytes)).unwrap();
        let report = racecap::pipeline::run(vec![("t".into(), reader)], Default::default())
            .unwrap()
            .0;
        let mut f = report
            .findings
            .iter()
            .find(|f| f.verdict == Verdict::KeepaliveRace)
            .unwrap()
            .clone();
        f.place = Some(Place {
            interface: "veth1".into(),
            netns: None,
            peer_netns: None,
            socket_netns: None,
            closed_by: None,
            pod: Some(Pod {
                namespace: "shop".into(),
                name: "backend-1".into(),
                uid: "0f3c2a8e-51d2-4b7e-9c11-2a6c1e5b9d40".into(),
                container_ids: vec![],
            }),
        });
        let v: serde_json::Value = serde_json::to_value(Line::new(&f)).unwrap();
        assert_eq!(v["client.address"], f.client.ip.to_string());
        assert_eq!(v["client.port"], f.client.port);
        assert_eq!(v["server.address"], f.server.ip.to_string());
        assert_eq!(v["server.port"], f.server.port);
        assert_eq!(v["network.transport"], "tcp");
        assert_eq!(v["network.interface.name"], "veth1");
        assert_eq!(v["k8s.namespace.name"], "shop");
        assert_eq!(v["k8s.pod.name"], "backend-1");
        let q = f.race.as_ref().unwrap().request.as_ref().unwrap();
        assert_eq!(v["http.request.method"], q.method.as_str());
        assert_eq!(v["url.path"], q.path.split('?').next().unwrap());
        // The finding's own fields are all still there, unchanged.
        assert_eq!(v["verdict"], "keepalive_race");
        assert_eq!(v["interface"], "veth1");
        assert_eq!(v["pod"]["name"], "backend-1");
        // Without a place: no interface or k8s attributes.
        f.place = None;
        let v: serde_json::Value = serde_json::to_value(Line::new(&f)).unwrap();
        assert!(v.get("network.interface.name").is_none());
        assert!(v.get("k8s.pod.name").is_none());
    }
}
