//! The deployment files, checked as far as a machine without a cluster
//! can: every way deploy/kubernetes applies (each overlay, with and
//! without its components) is built with `kubectl kustomize` and has the
//! properties a security review asks for (issue 25): its own namespace at
//! the Pod Security level it needs, only the capabilities its mode uses,
//! the normal priority, no tolerations unless opted in, limits, metrics on
//! the node's or pod's IP with a port the Service and PodMonitor name, the
//! BPF filter from the ConfigMap; racecap accepts the capture arguments.
//! The kubectl plugin, run against a stand-in `kubectl`, builds the
//! capture pod it should; the krew manifest names the archive the
//! packaging script builds. Schemas: scripts/validate-manifests.sh; alerts
//! and dashboard: tests/alerts.rs; the image: scripts/image-test.sh. Not
//! run here: `kubectl apply` against an API server, krew itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every document of a YAML text, as JSON values.
fn yaml_values(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// Every document of a YAML file, as JSON values.
fn yaml_docs(path: &Path) -> Vec<Value> {
    yaml_values(&fs::read_to_string(path).unwrap())
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `kubectl kustomize` of an overlay with components (paths under
/// deploy/kubernetes), by kind; None (skipped) without kubectl.
fn build(overlay: &str, components: &[&str]) -> Option<BTreeMap<String, Value>> {
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("RACECAP_REQUIRE_KUBECTL").is_none(),
            "RACECAP_REQUIRE_KUBECTL is set but kubectl is not installed"
        );
        eprintln!("skipped: kubectl (for kustomize) is not installed");
        return None;
    }
    // A kustomization of its own under target/, whose paths are relative
    // (kustomize refuses absolute ones).
    let dir = root().join("target").join(format!(
        "deploy-test-{}-{overlay}-{}",
        std::process::id(),
        components.len()
    ));
    fs::create_dir_all(&dir).unwrap();
    let mut k = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../deploy/kubernetes/overlays/{overlay}\n"
    );
    if !components.is_empty() {
        k.push_str("components:\n");
        for c in components {
            k.push_str(&format!("- ../../deploy/kubernetes/components/{c}\n"));
        }
    }
    fs::write(dir.join("kustomization.yaml"), k).unwrap();
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap();
    let _ = fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_kind = BTreeMap::new();
    for d in yaml_values(&String::from_utf8_lossy(&out.stdout)) {
        let kind = d["kind"].as_str().unwrap().to_string();
        assert!(by_kind.insert(kind.clone(), d).is_none(), "two {kind}s");
    }
    Some(by_kind)
}

/// The capabilities the DaemonSet's container adds.
fn added(ds: &Value) -> BTreeSet<String> {
    let sc = &ds["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!(strs(&sc["capabilities"]["drop"]), ["ALL"]);
    strs(&sc["capabilities"]["add"]).into_iter().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// What every build shares: the namespace and its Pod Security level, the
/// account without a token, the priority, limits, read-only root, the
/// metrics port named alike by container, Service and probe.
fn check_common(k: &BTreeMap<String, Value>) -> &Value {
    let ns = &k["Namespace"];
    assert_eq!(ns["metadata"]["name"], "racecap");
    let labels = &ns["metadata"]["labels"];
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "privileged");
    assert_eq!(labels["pod-security.kubernetes.io/warn"], "baseline");
    assert_eq!(k["ServiceAccount"]["automountServiceAccountToken"], false);
    let pc = &k["PriorityClass"];
    assert_eq!(pc["value"], 0);
    assert_eq!(pc["preemptionPolicy"], "Never");
    assert_eq!(pc["globalDefault"], false);
    let ds = &k["DaemonSet"];
    assert_eq!(ds["metadata"]["namespace"], "racecap");
    let pod = &ds["spec"]["template"];
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        pod["metadata"]["labels"]["app.kubernetes.io/name"]
    );
    let spec = &pod["spec"];
    assert_eq!(spec["priorityClassName"], pc["metadata"]["name"]);
    assert_eq!(spec["automountServiceAccountToken"], false);
    let c = &spec["containers"][0];
    assert_eq!(
        c["image"],
        format!("racecap:{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["privileged"], false);
    for forbidden in ["SYS_ADMIN", "DAC_READ_SEARCH", "NET_ADMIN"] {
        assert!(!added(ds).contains(forbidden), "{forbidden}");
    }
    for k in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][k].is_string(), "limit {k}");
        assert!(c["resources"]["requests"][k].is_string(), "request {k}");
    }
    // The metrics port: container, Service, probe, and the listener.
    let port = c["ports"][0]["containerPort"].as_u64().unwrap();
    assert_ne!(port, 9464, "OpenTelemetry's Prometheus exporter default");
    assert_eq!(c["ports"][0]["name"], "metrics");
    let svc = &k["Service"];
    assert_eq!(svc["spec"]["ports"][0]["port"], port);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/name"],
        pod["metadata"]["labels"]["app.kubernetes.io/name"]
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/port"], port.to_string().as_str());
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    let args = strs(&c["args"]);
    let listen = &args[args.iter().position(|a| a == "--metrics-listen").unwrap() + 1];
    assert!(listen.ends_with(&format!(":{port}")), "{listen}");
    assert!(!listen.starts_with("0.0.0.0"), "{listen}");
    assert!(args.windows(2).any(|w| w == ["--format", "jsonl"]));
    // No tolerations unless opted in; every host path read-only.
    for m in c["volumeMounts"].as_array().unwrap_or(&Vec::new()) {
        assert_eq!(m["readOnly"], true, "{m}");
    }
    ds
}

/// The value of an environment variable the container sets.
fn env<'a>(c: &'a Value, name: &str) -> &'a Value {
    c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn test_25_capture_mode_least_privilege() {
    let Some(k) = build("capture", &[]) else {
        return;
    };
    let ds = check_common(&k);
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert!(spec["hostPID"].is_null(), "hostPID only with pod-names");
    assert!(spec["tolerations"].is_null());
    assert_eq!(added(ds), set(&["NET_RAW"]));
    let c = &spec["containers"][0];
    assert_eq!(
        env(c, "HOST_IP")["valueFrom"]["fieldRef"]["fieldPath"],
        "status.hostIP"
    );
    let args = strs(&c["args"]);
    assert_eq!(args[0], "capture");
    assert!(
        args.windows(2)
            .any(|w| w == ["--metrics-listen", "$(HOST_IP):9477"])
    );
    assert!(
        args.windows(2)
            .any(|w| w == ["-i", "$(RACECAP_INTERFACES)"])
    );
    // The BPF filter ends the arguments, from the ConfigMap.
    assert_eq!(args.last().unwrap(), "$(RACECAP_FILTER)");
    let cm = &k["ConfigMap"];
    let from = &env(c, "RACECAP_FILTER")["valueFrom"]["configMapKeyRef"];
    assert_eq!(from["name"], cm["metadata"]["name"]);
    assert_eq!(from["key"], "filter");
    let filter = cm["data"]["filter"].as_str().unwrap();
    let interfaces = cm["data"]["interfaces"].as_str().unwrap();
    assert_eq!(filter, "tcp port 8080");

    // racecap takes these arguments (the kubelet's $(VAR) expansion done
    // here): run them with a listener on a free loopback port, 1 ms, in an
    // empty network namespace where the pattern matches nothing.
    if !is_root() {
        eprintln!("skipped running the DaemonSet's arguments: needs root (unshare -n)");
        return;
    }
    let run: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("$(HOST_IP):9477", "127.0.0.1:0")
                .replace("$(RACECAP_INTERFACES)", interfaces)
                .replace("$(RACECAP_FILTER)", filter)
        })
        .collect();
    let mut run = run;
    run.splice(1..1, ["--duration".to_string(), "1ms".to_string()]);
    let out = Command::new("unshare")
        .arg("-n")
        .arg(cargo_bin!("racecap"))
        .args(&run)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{run:?}: {err}");
    let last: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "report");
    assert_eq!(last["schema_version"], racecap::report::SCHEMA_VERSION);
    assert!(err.contains("new interfaces matching veth*"), "{err}");
}

#[test]
fn test_25_capture_opt_ins() {
    let Some(k) = build(
        "capture",
        &["pod-names", "tolerate-all-taints", "prometheus-operator"],
    ) else {
        return;
    };
    let ds = check_common(&k);
    let spec = &ds["spec"]["template"]["spec"];
    // Pod names: the node's PIDs, SYS_PTRACE (measured need), the
    // kubelet's log folders; still no DAC_READ_SEARCH.
    assert_eq!(spec["hostPID"], true);
    assert_eq!(added(ds), set(&["NET_RAW", "SYS_PTRACE"]));
    let mounts: Vec<&str> = spec["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(mounts.contains(&"/var/log/pods"), "{mounts:?}");
    assert!(mounts.contains(&"/var/run/netns"), "{mounts:?}");
    assert_eq!(spec["tolerations"][0]["operator"], "Exists");
    // The PodMonitor scrapes the container's named port on these pods.
    let pm = &k["PodMonitor"];
    assert_eq!(pm["metadata"]["namespace"], "racecap");
    assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["port"], "metrics");
    assert_eq!(
        pm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        ds["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    );
    assert_eq!(k["PrometheusRule"]["metadata"]["namespace"], "racecap");
}

#[test]
fn test_25_watch_mode_least_privilege() {
    let Some(k) = build("watch", &["prometheus-operator"]) else {
        return;
    };
    let ds = check_common(&k);
    let spec = &ds["spec"]["template"]["spec"];
    // eBPF is kernel-wide: no host network, PIDs or paths.
    assert!(spec["hostNetwork"].is_null());
    assert!(spec["hostPID"].is_null());
    assert!(spec["volumes"].is_null());
    assert_eq!(added(ds), set(&["BPF", "PERFMON"]));
    let c = &spec["containers"][0];
    let args = strs(&c["args"]);
    assert_eq!(args[0], "watch");
    assert!(
        args.windows(2)
            .any(|w| w == ["--metrics-listen", "$(POD_IP):9477"])
    );
    assert_eq!(
        env(c, "POD_IP")["valueFrom"]["fieldRef"]["fieldPath"],
        "status.podIP"
    );
    // Only the monitoring namespace reaches the metrics port.
    let np = &k["NetworkPolicy"];
    assert_eq!(np["metadata"]["namespace"], "racecap");
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
}

#[test]
fn test_containerfile_is_the_static_binary_from_scratch() {
    let text = fs::read_to_string(root().join("Containerfile")).unwrap();
    let from: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    // Issue 25: one stage, nothing in it but racecap (no shell, no libc).
    assert_eq!(from, ["FROM scratch"]);
    let copies: Vec<&str> = text.lines().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies, ["COPY racecap /racecap"]);
    assert!(text.contains(r#"ENTRYPOINT ["/racecap"]"#));
    assert!(!text.contains("RUN "), "a scratch image cannot RUN");
    let image = fs::read_to_string(root().join("scripts/image.sh")).unwrap();
    assert!(image.contains("scripts/static-build.sh"));
    assert!(image.contains("buildah build"));
    for script in [
        "scripts/static-build.sh",
        "scripts/image.sh",
        "scripts/image-test.sh",
        "scripts/krew-package.sh",
        "deploy/kubectl-racecap",
    ] {
        let p = root().join(script);
        let mode = fs::metadata(&p).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{script} is executable");
        let st = Command::new("bash").arg("-n").arg(&p).status().unwrap();
        assert!(st.success(), "{script}: bash -n");
    }
}

/// A stand-in `kubectl` that answers as a cluster with one pod on node
/// `node-7` would, and records every call. Anything but `get pod` and
/// `run` (an `exec` into the app, say) fails.
fn fake_kubectl(dir: &Path) -> PathBuf {
    let log = dir.join("calls");
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$*" >> {log}
case "$*" in
  "get pod "*"jsonpath={{.spec.nodeName}}"*) printf node-7 ;;
  "get pod "*"jsonpath={{.metadata.uid}}"*) printf '{UID}' ;;
  run\ *) for a in "$@"; do case "$a" in --overrides=*) printf '%s' "${{a#--overrides=}}" > {dir}/overrides.json ;; esac; done ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"#,
        log = log.display(),
        dir = dir.display()
    );
    let bin = dir.join("kubectl");
    fs::write(&bin, script).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    log
}

const UID: &str = "0f3c2a8e-51d2-4b7e-9c11-2a6c1e5b9d40";

/// What the plugin puts before the target when the caller gives neither
/// an end nor a format.
const DEFAULTS: [&str; 5] = ["capture", "--format", "jsonl", "--duration", "10m"];

fn run_plugin(dir: &Path, args: &[&str]) -> Value {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _ = fs::remove_file(dir.join("overrides.json"));
    let out = Command::new(root().join("deploy/kubectl-racecap"))
        .args(args)
        .env("PATH", path)
        .env_remove("RACECAP_IMAGE")
        .env_remove("RACECAP_NAMESPACE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&fs::read_to_string(dir.join("overrides.json")).unwrap()).unwrap()
}

/// Issue 25: the capture pod runs in racecap's namespace (not the
/// target's, which may be PSA-restricted), is not privileged, runs
/// nothing in the target (no `kubectl exec`, no `cat`: distroless
/// images), finds it by UID on the node, and always ends (a filter
/// passed does not drop the default duration).
#[test]
fn test_25_kubectl_plugin_builds_the_capture_pod() {
    let dir = std::env::temp_dir().join(format!("racecap-r25-plugin-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let log = fake_kubectl(&dir);

    // A filter only: the defaults stay.
    let o = run_plugin(
        &dir,
        &["backend-1", "-n", "shop", "--", "tcp", "port", "8080"],
    );
    let spec = &o["spec"];
    assert_eq!(spec["nodeName"], "node-7");
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert!(spec["tolerations"].is_null());
    let c = &spec["containers"][0];
    assert_eq!(c["image"], "racecap:0.1.0");
    // The image's entrypoint is racecap itself: arguments, no shell.
    assert!(c["command"].is_null());
    assert_eq!(
        strs(&c["args"]),
        [&DEFAULTS[..], &["--pod", UID, "tcp", "port", "8080"]].concat()
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(strs(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(strs(&sc["capabilities"]["add"]), ["NET_RAW", "SYS_PTRACE"]);
    assert!(c["resources"]["limits"]["memory"].is_string());
    let calls = fs::read_to_string(&log).unwrap();
    assert!(!calls.contains("exec"), "{calls}");
    assert!(calls.contains("get pod -n shop backend-1 -o jsonpath={.metadata.uid}"));
    let run = calls.lines().find(|l| l.starts_with("run ")).unwrap();
    assert!(run.starts_with("run racecap-"), "{run}");
    assert!(run.contains(" -n racecap --rm -i "), "{run}");
    assert!(!run.contains("-n shop"), "{run}");

    // The caller's own end and format win; nothing is doubled.
    let o = run_plugin(
        &dir,
        &[
            "backend-1",
            "--",
            "--duration",
            "1m",
            "--format=table",
            "tcp",
        ],
    );
    assert_eq!(
        strs(&o["spec"]["containers"][0]["args"]),
        [
            "capture",
            "--pod",
            UID,
            "--duration",
            "1m",
            "--format=table",
            "tcp"
        ]
    );
    let o = run_plugin(&dir, &["backend-1", "--", "-c", "1000"]);
    let args = strs(&o["spec"]["containers"][0]["args"]);
    assert!(!args.contains(&"--duration".to_string()), "{args:?}");

    // The sidecar hop: the pod's loopback, in its namespace (SYS_ADMIN),
    // from a pod in another namespace of racecap's if asked.
    let o = run_plugin(
        &dir,
        &[
            "backend-1",
            "--sidecar",
            "--image",
            "reg/racecap:1",
            "--racecap-namespace",
            "diag",
        ],
    );
    let c = &o["spec"]["containers"][0];
    assert_eq!(c["image"], "reg/racecap:1");
    assert_eq!(
        strs(&c["args"]),
        [&DEFAULTS[..], &["--pod", UID, "-i", "lo"]].concat()
    );
    assert_eq!(
        strs(&c["securityContext"]["capabilities"]["add"]),
        ["NET_RAW", "SYS_PTRACE", "SYS_ADMIN"]
    );
    let calls = fs::read_to_string(&log).unwrap();
    let run = calls.lines().rfind(|l| l.starts_with("run "));
    assert!(run.unwrap().contains(" -n diag --rm -i "), "{calls}");
    let _ = fs::remove_dir_all(&dir);
}

/// The arguments the plugin builds are ones racecap accepts (up to the
/// point where it looks for the pod on this machine, which has none).
#[test]
fn test_25_plugin_arguments_parse() {
    let out = Command::new(cargo_bin!("racecap"))
        .args(DEFAULTS)
        .args(["--pod", UID, "-i", "lo", "tcp", "port", "8080"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("--pod {UID}: no process of that pod")) || err.contains("live"),
        "{err}"
    );
}

#[test]
fn test_krew_manifest_names_the_packaged_archive() {
    let docs = yaml_docs(&root().join("deploy/krew/racecap.yaml"));
    let m = &docs[0];
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "racecap");
    assert_eq!(
        m["spec"]["version"],
        format!("v{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    let p = &m["spec"]["platforms"][0];
    assert_eq!(p["bin"], "kubectl-racecap");
    assert_eq!(p["files"][0]["from"], "kubectl-racecap");
    let archive =
        std::env::temp_dir().join(format!("racecap-r14-krew-{}.tar.gz", std::process::id()));
    let out = Command::new(root().join("scripts/krew-package.sh"))
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        p["sha256"],
        sha.as_str(),
        "rerun scripts/krew-package.sh and update the manifest"
    );
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).trim(),
        "kubectl-racecap"
    );
    let _ = fs::remove_file(&archive);
}
