//! Sets `cfg(racecap_corpus)` when `RACECAP_CORPUS` is set and not empty, so
//! that the corpus tests (tests/corpus.rs) are ignored, with the reason, when
//! there is no corpus to read. Changing the variable reruns this script.
//!
//! With the feature `ebpf`, builds the eBPF programs of `racecap watch` with
//! clang: once with CO-RE relocations (the network namespace read through
//! the kernel's BTF) and once without, for kernels that have no BTF.
//! Without the feature nothing is built and no tool is needed.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/source/kernel/bpf/watch.bpf.c";

fn main() {
    println!("cargo::rerun-if-env-changed=RACECAP_CORPUS");
    println!("cargo::rustc-check-cfg=cfg(racecap_corpus)");
    if env::var_os("RACECAP_CORPUS").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=racecap_corpus");
    }
    ebpf();
}

fn ebpf() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CLANG");
    if env::var_os("CARGO_FEATURE_EBPF").is_none() {
        return;
    }
    println!("cargo::rerun-if-changed={SOURCE}");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    // <linux/bpf.h> includes <asm/types.h>, which Debian keeps under the
    // host's multiarch folder; the BPF target has none of its own.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "riscv64" => "riscv64-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        other => other,
    };
    for (name, defines) in [
        ("watch.bpf.o", &[][..]),
        ("watch-nocore.bpf.o", &["-DRACECAP_NO_CORE"][..]),
    ] {
        let status = Command::new(&clang)
            .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
            .arg(format!("-I/usr/include/{multiarch}"))
            .args(defines)
            .args(["-c", SOURCE, "-o"])
            .arg(out.join(name))
            .status()
            .unwrap_or_else(|e| {
                panic!("feature ebpf: running {clang} failed ({e}); install clang and libbpf-dev")
            });
        assert!(
            status.success(),
            "feature ebpf: {clang} could not build {SOURCE} (are clang and libbpf-dev installed?)"
        );
    }
}
