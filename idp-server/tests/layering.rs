//! The layers of idp-server point down: a module only imports from modules on a lower layer,
//! so no two modules import each other and the storage, keys, crypto, management, token
//! minting and configuration never reach up into the HTTP handlers (`oauth`, `account`,
//! `web`). Inside one module, no two files import each other.
//!
//! The check reads the source as text: every `crate::…` and `super::…` path, and every
//! `use child::…` of a module's own child. A new top-level module must be given a layer in
//! `LAYERS` before this test passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, bottom layer first. A module may import from any module
/// on a lower layer, never from its own layer or above.
const LAYERS: &[&[&str]] = &[
    &["store", "attributes"],
    &["metrics"],
    &["error", "rate_limit", "secret_cache", "client_cache"],
    &["mail", "tls"],
    &["crypto", "config", "issuer", "hashing"],
    &["keys"],
    &["revocation"],
    &["manage", "issue"],
    &["state"],
    &["web"],
    &["account", "admin"],
    &["oauth", "layer"],
    &["provider"],
    &["serve", "testkit"],
];

/// Names re-exported at the crate root (`crate::Error`), and the module they come from.
const ROOT_EXPORTS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("AttributeRule", "attributes"),
    ("AttributeSchema", "attributes"),
    ("AttributeType", "attributes"),
    ("ClaimMapping", "attributes"),
    ("TokenKind", "attributes"),
    ("Config", "config"),
    ("Registration", "config"),
    ("LogFormat", "config"),
    ("Sensitive", "config"),
    ("EncryptionKey", "crypto"),
    ("ProviderLayer", "layer"),
    ("ProviderService", "layer"),
    ("ResponseFuture", "layer"),
    ("Provider", "provider"),
    ("ProviderBuilder", "provider"),
    ("RateLimits", "rate_limit"),
];

/// A source file: its module path (`["oauth", "grants", "refresh_token"]`) and its text.
struct Source {
    module: Vec<String>,
    text: String,
}

fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_owned();
        if stem != "mod" && stem != "lib" {
            parts.push(stem);
        }
    }
    parts
}

fn read_tree(src: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                // The binary uses the library's public API only.
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(Source {
                    module: module_path(src, &path),
                    text: std::fs::read_to_string(&path).unwrap(),
                });
            }
        }
    }
    out
}

/// The code of a file without comments and without its `#[cfg(test)]` tail.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts with `prefix` (`crate::`, `super::`), as its segments.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let mut segs = Vec::new();
        let mut s = rest;
        loop {
            let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
            if end == 0 {
                // `crate::{a, b}`: each item of the group.
                if let Some(group) = s.strip_prefix('{') {
                    let close = group.find('}').unwrap_or(group.len());
                    for item in group[..close].split(',') {
                        let first: String =
                            item.trim().chars().take_while(|c| is_ident(*c)).collect();
                        if !first.is_empty() {
                            let mut p = segs.clone();
                            p.push(first);
                            out.push(p);
                        }
                    }
                }
                break;
            }
            segs.push(s[..end].to_owned());
            s = &s[end..];
            match s.strip_prefix("::") {
                Some(next) => s = next,
                None => break,
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

/// The module files each file imports, resolved against the known module paths.
fn imports(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let resolve = |path: Vec<String>| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| known.contains(p))
    };
    let mut out = BTreeMap::new();
    for s in sources {
        let code = code(&s.text);
        let mut targets = BTreeSet::new();
        for p in paths_after(&code, "crate::") {
            let p = match ROOT_EXPORTS.iter().find(|(name, _)| *name == p[0]) {
                Some((_, module)) => vec![(*module).to_owned()],
                None => p,
            };
            targets.extend(resolve(p));
        }
        // `super::` is relative to the file's parent module.
        let parent: Vec<String> = s.module[..s.module.len().saturating_sub(1)].to_vec();
        for p in paths_after(&code, "super::") {
            let mut full = parent.clone();
            full.extend(p);
            targets.extend(resolve(full));
        }
        // `use child::…` of the module's own children.
        for line in code.lines() {
            let line = line.trim_start();
            let Some(used) = line
                .strip_prefix("use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let first: String = used.chars().take_while(|c| is_ident(*c)).collect();
            let mut child = s.module.clone();
            child.push(first);
            if known.contains(&child) {
                targets.insert(child);
            }
        }
        targets.remove(&s.module);
        out.insert(s.module.clone(), targets);
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every breach of the rules, as a sentence.
fn violations(sources: &[Source]) -> Vec<String> {
    let graph = imports(sources);
    let mut out = Vec::new();
    for (from, targets) in &graph {
        let Some(top) = from.first() else {
            continue; // lib.rs: the table of contents
        };
        let Some(from_layer) = layer_of(top) else {
            out.push(format!("module `{top}` has no layer in LAYERS"));
            continue;
        };
        for to in targets {
            let Some(to_top) = to.first() else {
                continue;
            };
            if to_top == top {
                // Same module: no two files import each other.
                if to < from && graph.get(to).is_some_and(|back| back.contains(from)) {
                    out.push(format!(
                        "`{}` and `{}` import each other",
                        from.join("::"),
                        to.join("::")
                    ));
                }
                continue;
            }
            match layer_of(to_top) {
                Some(to_layer) if to_layer < from_layer => {}
                _ => out.push(format!(
                    "`{}` imports `{}`, which is not on a lower layer",
                    from.join("::"),
                    to.join("::")
                )),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn modules_only_import_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = read_tree(&src);
    assert!(sources.len() > 20, "the source tree was not found");
    let v = violations(&sources);
    assert!(v.is_empty(), "layering broken:\n{}", v.join("\n"));
}

#[test]
fn every_layer_names_an_existing_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tops: BTreeSet<String> = read_tree(&src)
        .into_iter()
        .filter_map(|s| s.module.first().cloned())
        .collect();
    for m in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            tops.contains(*m),
            "LAYERS names `{m}`, which is not a module"
        );
    }
}

fn fake(module: &str, text: &str) -> Source {
    Source {
        module: module.split("::").map(str::to_owned).collect(),
        text: text.to_owned(),
    }
}

#[test]
fn the_check_catches_upward_imports_and_cycles() {
    let tree = [
        fake("store", "use crate::oauth::token;"),
        fake("oauth", "mod token; mod grants;"),
        fake("oauth::token", "use super::grants::x;"),
        fake("oauth::grants", "fn f() { super::token::y(); }"),
        fake("keys", "use crate::{store::Store, web::App};"),
        fake("web", "use crate::Error;"),
        fake("error", ""),
        fake("newthing", ""),
    ];
    let v = violations(&tree);
    assert!(
        v.iter()
            .any(|m| m.contains("`store` imports `oauth::token`")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|m| m.contains("`keys` imports `web`")),
        "{v:?}"
    );
    assert!(v.iter().any(|m| m.contains("import each other")), "{v:?}");
    assert!(
        v.iter().any(|m| m.contains("`newthing` has no layer")),
        "{v:?}"
    );
    assert!(!v.iter().any(|m| m.starts_with("`web`")), "{v:?}");
    // Comments and tests do not count.
    let ok = [
        fake(
            "store",
            "// crate::oauth\n#[cfg(test)]\nuse crate::oauth::x;",
        ),
        fake("oauth", ""),
    ];
    assert!(violations(&ok).is_empty());
}
