//! The rules between the library's top-level modules (docs/architecture.md):
//! no import cycle between them, and the core (decode, app, flow, analysis)
//! imports no source, pipeline, analyzer or report module. Read from the
//! source files, outside test modules and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of the library and the ones its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let tops: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| l.strip_prefix("pub mod ").or(l.strip_prefix("mod ")))
        .map(str::to_string)
        .collect();
    assert!(tops.contains("flow") && tops.contains("app"), "{tops:?}");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().to_string();
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
            if !tops.contains(top) || p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]\nmod ").next().unwrap();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for name in named_modules(line) {
                    if name != top && tops.contains(&name) {
                        graph.entry(top.to_string()).or_default().insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// The crate's modules a line names: `crate::x` and `crate::{x, y::z}`.
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for part in group.split(',') {
                let name = part.trim().split("::").next().unwrap_or("");
                out.push(name.trim().to_string());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn test_no_import_cycle_between_top_level_modules() {
    let g = imports();
    for (a, uses) in &g {
        for b in uses {
            // Any path back from b to a closes a cycle.
            let mut seen = BTreeSet::new();
            let mut todo = vec![b.clone()];
            while let Some(n) = todo.pop() {
                if &n == a {
                    panic!("import cycle: {a} -> {b} -> … -> {a}\n{g:#?}");
                }
                if seen.insert(n.clone()) {
                    todo.extend(g.get(&n).into_iter().flatten().cloned());
                }
            }
        }
    }
}

#[test]
fn test_core_imports_no_shell() {
    let g = imports();
    for core in ["decode", "app", "flow", "analysis", "seq", "units"] {
        for shell in ["source", "pipeline", "analyzer", "report", "metrics"] {
            assert!(
                !g.get(core).is_some_and(|u| u.contains(shell)),
                "{core} imports {shell}: {:?}",
                g.get(core)
            );
        }
    }
}
