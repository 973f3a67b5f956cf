//! The crate's layering, checked from the source text: which folder of
//! `src/` may use which other part of the crate, and no import cycle between
//! the modules of a folder.
//!
//! [`RULES`] is the table: one row per folder, naming the crate-level
//! modules its code may refer to (through `crate::…`, or `super::…` paths
//! that climb out of the folder). A folder's own modules may use each other,
//! but the graph of those uses must have no cycle; the folder's `mod.rs`
//! counts as one more node, so a child that imports through a re-export of
//! its parent is counted too. To put another folder under these rules, add
//! a row.
//!
//! Test code counts for the dependency rule (a pure core's tests need no
//! ledger either) but not for cycles: a `tests` module is a leaf that may
//! look at anything. Test code is a file named `tests.rs` or `*_tests.rs`,
//! or what follows a `#[cfg(test)]` module declaration at the end of a file
//! (clippy's `items_after_test_module` keeps test modules last).
//!
//! No Rust parser is used (it would be a new dependency): comments and
//! literals are blanked, then every path that starts with `crate::`,
//! `super::`, `self::` or a child module's name is resolved against the
//! file's module path, with `{…}` groups expanded. An inline module of a
//! folder's `mod.rs` is a node of its own, but what it uses is counted as
//! the root's; deeper inline modules (other than tests) are not modelled
//! (their `super` would resolve one level too high). None of the folders
//! checked here has one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test (or bench) fails loudly on a broken assumption"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One folder of `src/` and the crate-level modules it may use.
struct Rule {
    /// The folder (and top-level module) name under `src/`.
    folder: &'static str,
    /// Crate-level modules (`crate::NAME`) its code may refer to, besides
    /// itself.
    may_use: &'static [&'static str],
}

/// The layering of the crate (ARCHITECTURE.md draws it), lowest first.
/// `verify` is what an auditor needs alone (with the generated `pb`
/// types); `scoring` is the pure core and depends on nothing else in the
/// crate; `simulate` (the attack simulator) is as pure and drives only
/// it; the ledger's rules use `verify` and `scoring`; `payout` bridges
/// the ledger and the scoring core; `log` is the only code that touches
/// disk; `server` is the gRPC edge on top.
const RULES: &[Rule] = &[
    Rule {
        folder: "verify",
        may_use: &["pb"],
    },
    Rule {
        folder: "scoring",
        may_use: &[],
    },
    Rule {
        folder: "simulate",
        may_use: &["scoring"],
    },
    Rule {
        folder: "ledger",
        may_use: &["pb", "verify", "scoring"],
    },
    Rule {
        folder: "payout",
        may_use: &["pb", "verify", "scoring", "ledger"],
    },
    Rule {
        folder: "log",
        may_use: &["pb", "verify", "scoring", "ledger", "payout"],
    },
    Rule {
        folder: "server",
        may_use: &["pb", "verify", "scoring", "ledger", "payout", "log"],
    },
];

/// A source file as the checker sees it.
struct Source {
    /// Path relative to `src/`, with `/` separators (for messages).
    path: String,
    /// The file's module path (`["scoring", "policy", "read"]`).
    module: Vec<String>,
    /// Whether the whole file is test code.
    test_file: bool,
    /// The text with comments and literals blanked (lines kept).
    code: String,
}

/// One path found in a file, resolved to a module path.
struct Reference {
    /// 1-based line of the path's first segment.
    line: usize,
    /// The path resolved from the crate root (`["scoring", "value", "Scored"]`).
    target: Vec<String>,
    /// Whether it sits in test code.
    in_test: bool,
}

/// Reads every `.rs` file under `src/<folder>/`, sorted by path.
fn read_folder(src: &Path, folder: &str) -> Vec<Source> {
    let mut paths = Vec::new();
    collect_rs(&src.join(folder), &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let relative = path
                .strip_prefix(src)
                .expect("collected under src")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            source(&relative, &text)
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("reading folder {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// A source from its path relative to `src/` and its text.
fn source(relative: &str, text: &str) -> Source {
    let mut module: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    let name = relative.rsplit('/').next().unwrap_or(relative);
    Source {
        path: relative.to_owned(),
        module,
        test_file: name == "tests.rs" || name.ends_with("_tests.rs"),
        code: blank_comments_and_literals(text),
    }
}

/// `text` with comments removed and the insides of string and char literals
/// blanked, newlines kept, so that paths are only found in code and line
/// numbers still match.
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && !prev_ident && matches!(next, Some('"' | '#')) {
            // A raw string r"…" or r#"…"# (a `b` before it is plain code).
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push_str("r\"");
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&other) => out.push(blank(other)),
                }
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&inside) = chars.get(i) {
                    out.push(blank(inside));
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{…}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            // Code, or a lifetime's quote.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the test code of a production file starts: the `#[cfg(test)]`
/// before a module declaration, or the end of the file.
fn test_start(code: &str) -> usize {
    let mut from = 0;
    while let Some(found) = code[from..].find("#[cfg(test)]") {
        let at = from + found;
        let mut rest = code[at + "#[cfg(test)]".len()..].trim_start();
        // Other attributes (`#[path = …]`) may sit between.
        while rest.starts_with("#[") {
            let end = rest.find(']').map_or(rest.len(), |e| e + 1);
            rest = rest[end..].trim_start();
        }
        let rest = rest.strip_prefix("pub ").unwrap_or(rest);
        if rest.starts_with("mod ") {
            return at;
        }
        from = at + 1;
    }
    code.len()
}

fn ident_at(code: &[u8], at: usize) -> Option<&str> {
    let end = code[at..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(code.len(), |n| at + n);
    (end > at).then(|| std::str::from_utf8(&code[at..end]).unwrap_or(""))
}

fn skip_spaces(code: &[u8], mut at: usize) -> usize {
    while at < code.len() && code[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// The paths continuing after `prefix` at `at` (just after a `::`):
/// `a::b`, `{a, b::c, self}`, `*`. Each is cut at its first segment that
/// does not start with a letter or `_` (a `*`, a turbofish, a generic).
fn expand(code: &[u8], at: usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let at = skip_spaces(code, at);
    if code.get(at) == Some(&b'{') {
        // Split the group at its top-level commas.
        let mut depth = 0;
        let mut start = at + 1;
        let mut i = at;
        while i < code.len() {
            match code[i] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        expand_item(code, start, i, prefix, out);
                        return;
                    }
                }
                b',' if depth == 1 => {
                    expand_item(code, start, i, prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        return;
    }
    let mut path = prefix.to_vec();
    let mut at = at;
    while let Some(segment) = ident_at(code, at) {
        if segment.as_bytes()[0].is_ascii_digit() {
            break;
        }
        path.push(segment.to_owned());
        at = skip_spaces(code, at + segment.len());
        if code[at..].starts_with(b"::") {
            let after = skip_spaces(code, at + 2);
            if code.get(after) == Some(&b'{') {
                expand(code, after, &path, out);
                return;
            }
            at = after;
        } else {
            break;
        }
    }
    out.push(path);
}

/// One item of a `{…}` group, between `start` and `end`.
fn expand_item(
    code: &[u8],
    start: usize,
    end: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) {
    let start = skip_spaces(code, start);
    if start >= end {
        return;
    }
    match ident_at(&code[..end], start) {
        Some("self") => out.push(prefix.to_vec()),
        Some(_) => expand(&code[..end], start, prefix, out),
        None => out.push(prefix.to_vec()),
    }
}

/// The child modules a file declares (`mod x;`, `pub(crate) mod x;`).
fn declared_children(code: &str) -> BTreeSet<String> {
    let mut children = BTreeSet::new();
    for line in code.lines() {
        let mut words = line.split_whitespace().skip_while(|w| w.starts_with("pub"));
        if words.next() == Some("mod")
            && let Some(name) = words.next()
        {
            let name = name.trim_end_matches([';', '{']);
            if !name.is_empty() {
                children.insert(name.to_owned());
            }
        }
    }
    children
}

/// Every path in `source` that starts with `crate`, `super`, `self` or a
/// declared child module, resolved from the crate root.
fn references(source: &Source) -> Vec<Reference> {
    let code = source.code.as_bytes();
    let tests_from = if source.test_file {
        0
    } else {
        test_start(&source.code)
    };
    let children = declared_children(&source.code);
    let mut found = Vec::new();
    let mut at = 0;
    while at < code.len() {
        let boundary = at == 0 || !(code[at - 1].is_ascii_alphanumeric() || code[at - 1] == b'_');
        let word = if boundary { ident_at(code, at) } else { None };
        let Some(word) = word else {
            at += 1;
            continue;
        };
        let after = skip_spaces(code, at + word.len());
        // `::` after the word, and not `foo::crate` (a path's later segment).
        let preceded_by_path = at >= 2 && &code[at - 2..at] == b"::";
        if !code[after..].starts_with(b"::") || preceded_by_path {
            at += word.len();
            continue;
        }
        let mut base: Vec<String> = match word {
            "crate" => Vec::new(),
            "self" => source.module.clone(),
            "super" => {
                let mut module = source.module.clone();
                module.pop();
                module
            }
            child if children.contains(child) => {
                let mut module = source.module.clone();
                module.push(child.to_owned());
                module
            }
            _ => {
                at += word.len();
                continue;
            }
        };
        // Further `super::` segments climb on.
        let mut rest = skip_spaces(code, after + 2);
        while word == "super" && code[rest..].starts_with(b"super") {
            let next = skip_spaces(code, rest + "super".len());
            if !code[next..].starts_with(b"::") {
                break;
            }
            base.pop();
            rest = skip_spaces(code, next + 2);
        }
        let line = code[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let mut paths = Vec::new();
        expand(code, rest, &base, &mut paths);
        for target in paths {
            found.push(Reference {
                line,
                target,
                in_test: at >= tests_from,
            });
        }
        at = rest;
    }
    found
}

/// What the checker found wrong in one folder.
#[derive(Default)]
struct Findings {
    /// `path:line: crate::x::y` for every reference outside what the folder
    /// may use.
    outside: Vec<String>,
    /// The import cycles, as `a → b → a (a.rs:3, b.rs:7)`.
    cycles: Vec<String>,
    /// Module graph: node → (node → first `path:line` making the edge).
    graph: BTreeMap<String, BTreeMap<String, String>>,
}

/// Checks `sources` (the files of `rule.folder`) against the rule.
fn check(rule: &Rule, sources: &[Source]) -> Findings {
    let folder = rule.folder;
    let root = format!("{folder} (mod.rs)");
    // The folder's top-level modules: its files and subfolders, and any
    // module its `mod.rs` declares inline (whose own uses count as the
    // root's).
    let mut top: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.module.get(1).cloned())
        .collect();
    for source in sources.iter().filter(|s| s.module.len() == 1) {
        top.extend(declared_children(&source.code[..test_start(&source.code)]));
    }
    let node_of = |module: &[String]| match module.get(1) {
        Some(name) if top.contains(name) => name.clone(),
        _ => root.clone(),
    };
    let mut findings = Findings::default();
    for node in top.iter().cloned().chain([root.clone()]) {
        findings.graph.entry(node).or_default();
    }
    for source in sources {
        let from = node_of(&source.module);
        for reference in references(source) {
            let target = &reference.target;
            let place = format!("{}:{}", source.path, reference.line);
            match target.first() {
                Some(first) if first == folder => {
                    let to = node_of(target);
                    if to != from && !reference.in_test && !source.test_file {
                        findings
                            .graph
                            .entry(from.clone())
                            .or_default()
                            .entry(to)
                            .or_insert(place);
                    }
                }
                Some(first) if rule.may_use.contains(&first.as_str()) => {}
                _ => findings
                    .outside
                    .push(format!("{place}: crate::{}", target.join("::"))),
            }
        }
    }
    findings.cycles = cycles(&findings.graph);
    findings
}

/// Every cycle a depth-first search meets (each closing edge once), with
/// the place of every edge on it.
fn cycles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for to in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            match marks.get(to).copied().unwrap_or(Mark::New) {
                Mark::New => visit(to, graph, marks, stack, out),
                Mark::Open => {
                    let start = stack.iter().position(|n| n == to).unwrap_or(0);
                    let mut ring: Vec<&String> = stack[start..].iter().collect();
                    ring.push(to);
                    let places: Vec<&str> = ring
                        .windows(2)
                        .map(|pair| graph[pair[0]][pair[1]].as_str())
                        .collect();
                    let names: Vec<&str> = ring.iter().map(|n| n.as_str()).collect();
                    out.push(format!("{} ({})", names.join(" → "), places.join(", ")));
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut out);
        }
    }
    out
}

#[test]
fn every_folder_keeps_to_its_layer_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut failures = Vec::new();
    for rule in RULES {
        let sources = read_folder(&src, rule.folder);
        assert!(
            sources.len() > 1,
            "{}: expected a folder of modules",
            rule.folder
        );
        let findings = check(rule, &sources);
        // A checker that found no edge at all would be reading nothing.
        let edges: usize = findings.graph.values().map(BTreeMap::len).sum();
        assert!(edges > 0, "{}: no import found at all", rule.folder);
        // The graph, for `cargo test --test layering -- --nocapture`.
        for (from, to) in &findings.graph {
            let to: Vec<&str> = to.keys().map(String::as_str).collect();
            println!("{}: {from} → {}", rule.folder, to.join(", "));
        }
        let allowed = if rule.may_use.is_empty() {
            "nothing else in the crate".to_owned()
        } else {
            rule.may_use.join(", ")
        };
        for outside in findings.outside {
            failures.push(format!(
                "src/{outside} is outside what {} may use ({allowed})",
                rule.folder
            ));
        }
        for cycle in findings.cycles {
            failures.push(format!("import cycle in src/{}: {cycle}", rule.folder));
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// The checker itself, on made-up files: it must see a cycle through a
/// group import and a `super::super` climbing out of the folder, and must
/// not be fooled by comments, strings or test modules.
#[test]
fn the_checker_finds_cycles_and_outside_uses() {
    let rule = Rule {
        folder: "core",
        may_use: &["util"],
    };
    let files = [
        (
            "core/mod.rs",
            "//! Doc naming crate::server.\nmod a;\nmod b;\npub mod c;\npub use a::A;\n",
        ),
        (
            "core/a.rs",
            "use super::{b::{self, B}, c};\nuse crate::util::x;\n\
             const S: &str = \"crate::server::y\";\n\
             #[cfg(test)]\nmod tests {\n    use crate::server::z;\n}\n",
        ),
        (
            "core/b.rs",
            "use crate::core::c::C;\nfn f() { let c = '\"'; }\n",
        ),
        ("core/c/mod.rs", "mod d;\n"),
        (
            "core/c/d.rs",
            "use super::super::a::A;\nfn f() { super::super::super::log::g(); }\n",
        ),
        ("core/c/tests.rs", "use crate::core::b;\n"),
    ];
    let sources: Vec<Source> = files.iter().map(|(p, t)| source(p, t)).collect();
    let findings = check(&rule, &sources);
    assert_eq!(
        findings.outside,
        [
            "core/a.rs:6: crate::server::z",
            "core/c/d.rs:2: crate::log::g"
        ]
    );
    let edges: Vec<(String, String)> = findings
        .graph
        .iter()
        .flat_map(|(from, to)| to.keys().map(move |to| (from.clone(), to.clone())))
        .collect();
    let expected = [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("c", "a"),
        ("core (mod.rs)", "a"),
    ];
    assert_eq!(
        edges,
        expected.map(|(from, to)| (from.to_owned(), to.to_owned()))
    );
    assert_eq!(
        findings.cycles,
        ["a → b → c → a (core/a.rs:1, core/b.rs:1, core/c/d.rs:1)"]
    );
}
