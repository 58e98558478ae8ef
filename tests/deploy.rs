//! The deployment files, checked as far as a machine without a cluster or
//! a container engine can: the DaemonSet's YAML parses and has the
//! properties a node tool needs (host network and PIDs, only the
//! capabilities it uses, read-only root, limits, scrape annotations that
//! match the listener, a BPF filter), and racecap accepts its arguments; the
//! kubectl plugin, run against a stand-in `kubectl` that answers as a
//! cluster would, builds the capture pod it should; the krew manifest names
//! the archive the packaging script builds. Not run here: `kubectl apply`
//! against a real API server, the image build, krew itself.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every document of a YAML file, as JSON values.
fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
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

#[test]
fn test_daemonset_is_a_least_privilege_node_tool() {
    let docs = yaml_docs(&root().join("deploy/kubernetes/racecap.yaml"));
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ServiceAccount", "DaemonSet"]);
    let ds = &docs[2];
    assert_eq!(ds["apiVersion"], "apps/v1");
    let pod = &ds["spec"]["template"];
    assert_eq!(
        ds["spec"]["selector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    let spec = &pod["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(spec["automountServiceAccountToken"], false);
    let c = &spec["containers"][0];
    assert_eq!(
        c["image"],
        format!("racecap:{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert!(sc.get("privileged").is_none_or(|p| p == false));
    assert_eq!(strs(&sc["capabilities"]["drop"]), ["ALL"]);
    let added: BTreeSet<String> = strs(&sc["capabilities"]["add"]).into_iter().collect();
    let allowed: BTreeSet<String> = ["NET_RAW", "NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"]
        .map(String::from)
        .into();
    assert!(added.is_subset(&allowed), "{added:?}");
    assert!(added.contains("NET_RAW") && !added.contains("SYS_ADMIN"));
    for k in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][k].is_string(), "limit {k}");
        assert!(c["resources"]["requests"][k].is_string(), "request {k}");
    }
    // Scraping: the annotations, the port and the listener agree.
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/path"], "/metrics");
    let args = strs(&c["args"]);
    let listen = &args[args.iter().position(|a| a == "--metrics-listen").unwrap() + 1];
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(ann["prometheus.io/port"], port);
    assert_eq!(c["ports"][0]["containerPort"].to_string(), port);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/metrics");
    // The BPF filter ends the arguments, as racecap reads it.
    assert_eq!(&args[args.len() - 3..args.len() - 1], ["tcp", "port"]);
    assert!(args.last().unwrap().parse::<u16>().is_ok());
    assert_eq!(args[0], "capture");
    assert!(args.contains(&"jsonl".to_string()));
    // Read-only host paths only.
    for m in c["volumeMounts"].as_array().unwrap() {
        assert_eq!(m["readOnly"], true, "{m}");
    }
    let mounts: Vec<String> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect();
    assert!(mounts.contains(&"/var/log/pods".to_string()));

    // racecap takes these arguments: run them (listener on a free port on
    // loopback, 1 ms) in an empty network namespace of their own, where
    // the pattern matches nothing and nothing is captured.
    if !is_root() {
        eprintln!("skipped running the DaemonSet's arguments: needs root (unshare -n)");
        return;
    }
    let mut run: Vec<String> = args.clone();
    run[args.iter().position(|a| a == "--metrics-listen").unwrap() + 1] = "127.0.0.1:0".into();
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
    assert_eq!(last["schema_version"], racecap::report::SCHEMA_VERSION);
    assert!(err.contains("new interfaces matching veth*"), "{err}");
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
/// `node-7` would, and records every call.
fn fake_kubectl(dir: &Path) -> PathBuf {
    let log = dir.join("calls");
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$*" >> {log}
case "$*" in
  *"jsonpath={{.spec.nodeName}}"*) printf node-7 ;;
  *"containerStatuses[0].containerID"*) printf 'containerd://4e1b0d5c8f2a' ;;
  *"cat /sys/class/net/eth0/iflink"*) printf '17\n' ;;
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

fn run_plugin(dir: &Path, args: &[&str]) -> Value {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(root().join("deploy/kubectl-racecap"))
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&fs::read_to_string(dir.join("overrides.json")).unwrap()).unwrap()
}

#[test]
fn test_kubectl_plugin_builds_the_capture_pod() {
    let dir = std::env::temp_dir().join(format!("racecap-r14-plugin-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let log = fake_kubectl(&dir);

    // The veth: iflink read in the pod, capture by index on its node.
    let o = run_plugin(
        &dir,
        &[
            "backend-1",
            "-n",
            "shop",
            "--",
            "--format",
            "jsonl",
            "tcp",
            "port",
            "8080",
        ],
    );
    let spec = &o["spec"];
    assert_eq!(spec["nodeName"], "node-7");
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["restartPolicy"], "Never");
    let c = &spec["containers"][0];
    assert_eq!(c["image"], "racecap:0.1.0");
    assert_eq!(
        strs(&c["command"]),
        [
            "sh",
            "-c",
            "exec racecap capture --ifindex 17 --format jsonl tcp port 8080"
        ]
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(strs(&c["securityContext"]["capabilities"]["drop"]), ["ALL"]);
    assert!(!strs(&c["securityContext"]["capabilities"]["add"]).contains(&"SYS_ADMIN".into()));
    let calls = fs::read_to_string(&log).unwrap();
    assert!(calls.contains("exec -n shop backend-1 -- cat /sys/class/net/eth0/iflink"));
    assert!(calls.contains("run racecap-"), "{calls}");
    assert!(calls.contains("--rm -i"), "{calls}");

    // The sidecar hop: the pod's loopback through --netns of its process.
    let o = run_plugin(
        &dir,
        &["backend-1", "--sidecar", "--image", "reg/racecap:1"],
    );
    let c = &o["spec"]["containers"][0];
    assert_eq!(c["image"], "reg/racecap:1");
    let cmd = strs(&c["command"]);
    assert!(
        cmd[2].contains("grep -l 4e1b0d5c8f2a /proc/[0-9]*/cgroup"),
        "{cmd:?}"
    );
    assert!(
        cmd[2].ends_with(
            r#"exec racecap capture --netns "$pid" -i lo --format jsonl --duration 10m"#
        ),
        "{cmd:?}"
    );
    assert!(strs(&c["securityContext"]["capabilities"]["add"]).contains(&"SYS_ADMIN".into()));
    let _ = fs::remove_dir_all(&dir);
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
