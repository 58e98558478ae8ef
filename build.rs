//! Sets `cfg(racecap_corpus)` when `RACECAP_CORPUS` is set and not empty, so
//! that the corpus tests (tests/corpus.rs) are ignored, with the reason, when
//! there is no corpus to read. Changing the variable reruns this script.

fn main() {
    println!("cargo::rerun-if-env-changed=RACECAP_CORPUS");
    println!("cargo::rustc-check-cfg=cfg(racecap_corpus)");
    if std::env::var_os("RACECAP_CORPUS").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=racecap_corpus");
    }
}
