//! The domain's modules depend one way: no module reaches, directly or
//! through others, a module that depends back on it, and no rule family
//! imports another (their reactions go through `cascade`). Read from the
//! sources, so CI fails on a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The rule families: each may depend on `model`, `workspace` and `ids`
/// only.
const FAMILIES: &[&str] = &[
    "campaign",
    "catalogue",
    "clock",
    "commission",
    "enforcement",
    "participation",
    "sample",
];

/// Top-level modules of `src/domain` (a file or a folder), without the
/// dispatch (`mod.rs`) and the tests.
fn modules(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut modules = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return modules;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ["mod", "tests", "testkit"].contains(&name.as_str()) {
            continue;
        }
        let sources: Vec<String> = if path.is_dir() {
            std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|f| std::fs::read_to_string(f.path()).ok())
                .collect()
        } else {
            std::fs::read_to_string(&path).into_iter().collect()
        };
        modules.insert(name, sources);
    }
    modules
}

/// The domain modules a source names: `super::x`, `super::{x, y}`,
/// `crate::domain::x`, outside its `#[cfg(test)]` module.
fn references(source: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for prefix in ["super::", "crate::domain::"] {
        for (i, _) in code.match_indices(prefix) {
            let rest = &code[i + prefix.len()..];
            let group = if let Some(inner) = rest.strip_prefix('{') {
                inner.split('}').next().unwrap_or_default()
            } else {
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()
            };
            for part in group.split(',') {
                let name = part.trim().split("::").next().unwrap_or_default().trim();
                if names.contains(name) {
                    found.insert(name.to_owned());
                }
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let modules = modules(&dir);
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, sources)| {
            let mut deps: BTreeSet<String> = sources.iter().flat_map(|s| references(s, &names)).collect();
            deps.remove(name);
            (name.clone(), deps)
        })
        .collect()
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(module) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    false
}

#[test]
fn no_domain_module_depends_on_one_that_depends_back_on_it() {
    let graph = graph();
    assert!(graph.len() >= FAMILIES.len() + 3, "modules read: {graph:?}");
    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(module, deps)| {
            deps.iter()
                .filter(|dep| reaches(&graph, dep, module))
                .map(move |dep| format!("{module} -> {dep}"))
        })
        .collect();
    assert!(cycles.is_empty(), "cycles in src/domain: {cycles:?}\n{graph:#?}");
}

#[test]
fn rule_families_depend_only_on_the_model_and_the_workspace() {
    let graph = graph();
    for family in FAMILIES {
        let deps = graph.get(*family).cloned().unwrap_or_default();
        let allowed: BTreeSet<String> = ["model", "workspace", "ids"].iter().map(|s| s.to_string()).collect();
        let extra: Vec<&String> = deps.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{family} depends on {extra:?}; reactions go through cascade"
        );
    }
    let model = graph.get("model").cloned().unwrap_or_default();
    assert!(model.iter().all(|d| d == "ids"), "model depends on {model:?}");
}

#[test]
fn the_reader_sees_imports_as_they_are_written() {
    let names: BTreeSet<String> = ["model", "workspace", "ids", "cascade", "skipped"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let source = "use super::model::{A, B};\nuse super::{ids, workspace::Plan};\n//! [`super::skipped`]\n\
                  use crate::domain::cascade;\n#[cfg(test)]\nmod t { use super::skipped; }";
    let found = references(source, &names);
    let expected: BTreeSet<String> = ["model", "workspace", "ids", "cascade"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);
}
