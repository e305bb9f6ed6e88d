//! The layout test: no module cycle inside any workspace crate, and a thin binary (std only).
//!
//! For every crate of the workspace (the root `Cargo.toml`'s `[workspace] members`),
//! the top-level modules declared in `src/lib.rs` / `src/main.rs` are the nodes; a
//! `crate::y` path (or `super::y` from a module's top level, or `crate::Name` where the
//! crate root re-exports `Name` from `y`) in any file of module `x` is an edge x → y.
//! Any cycle fails, naming the path and the files that make each edge. Code in the
//! crate root itself (a crate's central type) is the crate, not a node: a module
//! using it makes no edge. The binary
//! crate (`src/` of the root package) must stay at most [`MAX_BINARY_LINES`] lines.
//!
//! It reads the source text itself (comments and string literals stripped by a small
//! tokenizer) rather than using a crate, so it builds in no time and runs standalone:
//! `rustc --edition 2021 --test tests/integration/layout.rs -o /tmp/layout && /tmp/layout`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The issue's limit for the binary crate: command line and output only.
const MAX_BINARY_LINES: usize = 4000;

/// How many of the biggest binary files a too-long report lists.
const BIGGEST_SHOWN: usize = 8;

// ---------------------------------------------------------------- Cargo.toml

/// The `[workspace] members` array of a Cargo.toml (also `workspace.members = [...]`),
/// parsed by hand: multi-line, `#` comments, basic and literal strings.
fn workspace_members(toml: &str) -> Result<Vec<String>, String> {
    let mut sc = TomlScan {
        c: toml.chars().collect(),
        i: 0,
        line: 1,
    };
    let (mut table, mut key) = (String::new(), String::new());
    let mut line_start = true;
    while let Some(ch) = sc.peek(0) {
        match ch {
            '#' => sc.skip_comment(),
            '\n' => {
                sc.bump();
                line_start = true;
            }
            '[' if line_start => {
                table = sc.header()?;
                key.clear();
                line_start = false;
            }
            '"' | '\'' if line_start => {
                key = sc.string()?;
                line_start = false;
            }
            '[' => {
                let full = if table.is_empty() {
                    key.clone()
                } else {
                    format!("{table}.{key}")
                };
                if full == "workspace.members" {
                    return sc.string_array();
                }
                sc.skip_value()?;
            }
            '"' | '\'' => {
                sc.string()?;
            }
            c if line_start && !c.is_whitespace() => {
                key = sc.bare_key();
                line_start = false;
            }
            _ => sc.bump(),
        }
    }
    Err("Cargo.toml has no `[workspace] members = [...]` list".to_string())
}

/// A cursor over TOML text; `line` is for error messages.
struct TomlScan {
    c: Vec<char>,
    i: usize,
    line: usize,
}

impl TomlScan {
    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    fn skip_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// `[name]` or `[[name]]` at the start of a line: the name without spaces or quotes.
    fn header(&mut self) -> Result<String, String> {
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                return Err(format!(
                    "Cargo.toml line {}: unclosed table header",
                    self.line
                ));
            }
            self.bump();
            match c {
                '[' | ' ' | '\t' | '"' | '\'' => {}
                ']' => break,
                _ => name.push(c),
            }
        }
        while self.peek(0) == Some(']') {
            self.bump();
        }
        Ok(name)
    }

    /// A bare (possibly dotted) key up to `=`.
    fn bare_key(&mut self) -> String {
        let mut key = String::new();
        while let Some(c) = self.peek(0) {
            if c == '=' || c == '\n' || c == '#' {
                break;
            }
            if !c.is_whitespace() && c != '"' && c != '\'' {
                key.push(c);
            }
            self.bump();
        }
        key
    }

    /// A basic (`"..."`, escapes) or literal (`'...'`) string, single- or multi-line.
    fn string(&mut self) -> Result<String, String> {
        let (q, start) = (self.peek(0).unwrap_or('"'), self.line);
        let triple = self.peek(1) == Some(q) && self.peek(2) == Some(q);
        let n = if triple { 3 } else { 1 };
        (0..n).for_each(|_| self.bump());
        let mut out = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(format!("Cargo.toml line {start}: unterminated string"));
            };
            if c == q && (!triple || (self.peek(1) == Some(q) && self.peek(2) == Some(q))) {
                (0..n).for_each(|_| self.bump());
                return Ok(out);
            }
            if c == '\n' && !triple {
                return Err(format!("Cargo.toml line {start}: unterminated string"));
            }
            if c == '\\' && q == '"' {
                self.bump();
                out.push(self.peek(0).unwrap_or('\\'));
            } else {
                out.push(c);
            }
            self.bump();
        }
    }

    /// The array at the cursor, whose items must all be strings.
    fn string_array(&mut self) -> Result<Vec<String>, String> {
        let start = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(format!(
                        "Cargo.toml line {start}: members array is not closed"
                    ))
                }
                Some(']') => return Ok(out),
                Some('#') => self.skip_comment(),
                Some('"' | '\'') => out.push(self.string()?),
                Some(c) if c.is_whitespace() || c == ',' => self.bump(),
                Some(c) => {
                    return Err(format!(
                        "Cargo.toml line {}: workspace members must be strings, found `{c}`",
                        self.line
                    ))
                }
            }
        }
    }

    /// Skips a bracketed value (array or inline table), strings and comments included.
    fn skip_value(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            match c {
                '"' | '\'' => {
                    self.string()?;
                    continue;
                }
                '#' => self.skip_comment(),
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.bump();
            if depth == 0 {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The `[package] name` of a member's Cargo.toml, or the folder name when there is none.
fn package_name(member_dir: &Path) -> String {
    let fallback = member_dir
        .file_name()
        .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned());
    let Ok(text) = fs::read_to_string(member_dir.join("Cargo.toml")) else {
        return fallback;
    };
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line.starts_with("[package]");
        } else if let Some(rest) = line.strip_prefix("name").filter(|_| in_package) {
            let value = rest.trim_start().trim_start_matches('=').trim();
            if let Some(name) = value.split(['"', '\'']).nth(1) {
                return name.to_string();
            }
        }
    }
    fallback
}

/// Member folders: plain paths, and `dir/*` expanded to its subfolders with a Cargo.toml.
fn member_dirs(root: &Path, members: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for m in members {
        let Some(parent) = m.strip_suffix("/*") else {
            out.push(root.join(m));
            continue;
        };
        let dir = root.join(parent);
        let mut subs: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| {
                format!(
                    "workspace member glob `{m}`: cannot list {}: {e}",
                    dir.display()
                )
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("Cargo.toml").is_file())
            .collect();
        subs.sort();
        out.extend(subs);
    }
    Ok(out)
}

// ---------------------------------------------------------------- Rust tokens

/// One token of Rust source with comments, strings, chars and lifetimes removed:
/// an identifier/keyword, `::`, or a single punctuation character.
#[derive(Clone, Debug)]
struct Tok {
    text: String,
    ident: bool,
    line: usize,
}

/// Tokenizes Rust source: `//` and nested `/* */` comments, string, raw string, byte
/// and char literals and lifetimes produce no tokens, so doc text never counts.
fn tokenize(src: &str) -> Vec<Tok> {
    let mut lx = Lexer {
        c: src.chars().collect(),
        i: 0,
        line: 1,
        out: Vec::new(),
    };
    while let Some(ch) = lx.peek(0) {
        match ch {
            '/' if lx.peek(1) == Some('/') => lx.skip_while(|c| c != '\n'),
            '/' if lx.peek(1) == Some('*') => lx.block_comment(),
            '"' => lx.quoted('"'),
            '\'' => lx.char_or_lifetime(),
            ':' if lx.peek(1) == Some(':') => {
                lx.push("::".to_string(), false);
                lx.i += 2;
            }
            c if c.is_alphabetic() || c == '_' => lx.word(),
            c if c.is_ascii_digit() => lx.skip_while(|c| c.is_alphanumeric() || c == '_'),
            c if c.is_whitespace() => lx.bump(),
            c => {
                lx.push(c.to_string(), false);
                lx.i += 1;
            }
        }
    }
    lx.out
}

/// The tokenizer's cursor.
struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
    out: Vec<Tok>,
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    fn push(&mut self, text: String, ident: bool) {
        self.out.push(Tok {
            text,
            ident,
            line: self.line,
        });
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.bump();
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.i += 2;
            } else if c == '*' && self.peek(1) == Some('/') {
                self.i += 2;
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A `"..."` (or `'...'` char) literal with backslash escapes, cursor on the quote.
    fn quoted(&mut self, q: char) {
        self.bump();
        while let Some(c) = self.peek(0) {
            self.bump();
            if c == '\\' {
                self.bump();
            } else if c == q {
                return;
            }
        }
    }

    /// `r"..."`, `r#"..."#` and friends, cursor on the first `#` or `"`.
    fn raw_string(&mut self) {
        let mut hashes = 0usize;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.i += 1;
        }
        self.bump();
        while let Some(c) = self.peek(0) {
            self.bump();
            if c == '"' && (0..hashes).all(|k| self.peek(k) == Some('#')) {
                self.i += hashes;
                return;
            }
        }
    }

    /// `'x'`, `'\n'`, `'"'` are char literals; `'a` (no closing quote) is a lifetime.
    fn char_or_lifetime(&mut self) {
        if self.peek(1) == Some('\\') || self.peek(2) == Some('\'') {
            self.quoted('\'');
        } else {
            self.i += 1;
            self.skip_while(|c| c.is_alphanumeric() || c == '_');
        }
    }

    /// An identifier, or the prefix of a raw/byte/C string or a raw identifier.
    fn word(&mut self) {
        let start = self.i;
        self.skip_while(|c| c.is_alphanumeric() || c == '_');
        let w: String = self.c[start..self.i].iter().collect();
        let (next, after) = (self.peek(0), self.peek(1));
        let raw_kind = matches!(w.as_str(), "r" | "br" | "cr");
        if raw_kind && (next == Some('"') || (next == Some('#') && self.raw_string_ahead())) {
            self.raw_string();
        } else if w == "r"
            && next == Some('#')
            && after.is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            self.i += 1;
            self.word();
        } else if matches!(w.as_str(), "b" | "c") && next == Some('"') {
            self.quoted('"');
        } else if w == "b" && next == Some('\'') {
            self.quoted('\'');
        } else {
            self.push(w, true);
        }
    }

    /// After `r`: `#`s then `"` (a raw string) rather than `#ident` (a raw identifier).
    fn raw_string_ahead(&self) -> bool {
        let mut k = 0;
        while self.peek(k) == Some('#') {
            k += 1;
        }
        self.peek(k) == Some('"')
    }
}

/// Is token `i` the text `s`?
fn is(toks: &[Tok], i: usize, s: &str) -> bool {
    toks.get(i).is_some_and(|t| t.text == s)
}

// ---------------------------------------------------------------- use trees and paths

/// A path named by a use tree or an expression: its segments (a glob ends in `*`) and
/// the name it binds (`as` alias or last segment).
#[derive(Clone, Debug)]
struct UsePath {
    segs: Vec<String>,
    bound: String,
}

/// Reads the path or use tree at `i` (e.g. `crate::{a::X, b::{self, Y}}`), appending
/// every full path to `out`; returns the index after it. Stops at anything unexpected.
fn use_tree(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<UsePath>) -> usize {
    let mut segs = prefix.to_vec();
    if is(toks, i, "::") {
        segs.push("::".to_string());
        i += 1;
    }
    while let Some(t) = toks.get(i) {
        if t.ident {
            segs.push(t.text.clone());
            i += 1;
            if is(toks, i, "::") {
                i += 1;
                continue;
            }
            let mut bound = t.text.clone();
            if is(toks, i, "as") && toks.get(i + 1).is_some_and(|a| a.ident) {
                bound = toks[i + 1].text.clone();
                i += 2;
            } else if bound == "self" && segs.len() >= 2 {
                bound = segs[segs.len() - 2].clone();
            }
            out.push(UsePath { segs, bound });
            return i;
        }
        if t.text == "*" {
            segs.push("*".to_string());
            out.push(UsePath {
                segs,
                bound: "*".to_string(),
            });
            return i + 1;
        }
        if t.text == "{" {
            return use_group(toks, i + 1, &segs, out);
        }
        break;
    }
    if segs.len() > prefix.len() {
        let bound = segs.last().cloned().unwrap_or_default();
        out.push(UsePath { segs, bound });
    }
    i
}

/// The inside of a `{ ... }` group of a use tree, cursor after the `{`.
fn use_group(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<UsePath>) -> usize {
    while i < toks.len() {
        if is(toks, i, "}") {
            return i + 1;
        }
        if is(toks, i, ",") {
            i += 1;
            continue;
        }
        let next = use_tree(toks, i, prefix, out);
        // Always advance, so an odd token cannot stall the loop.
        i = next.max(i + 1);
    }
    i
}

/// The index after the matching `;` of a statement starting at `i` (brackets balanced).
fn statement_end(toks: &[Tok], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(t) = toks.get(i) {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            ";" if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------- the crate root

/// What a crate root (`lib.rs` / `main.rs`) declares.
#[derive(Debug, Default)]
struct Root {
    /// Top-level modules (not `#[cfg(test)]`) and the line declaring each.
    modules: BTreeMap<String, usize>,
    /// `use` paths at the root, resolved to modules once all modules are known.
    uses: Vec<UsePath>,
    /// Other items: (first line, a short head like `fn helper`, token range).
    items: Vec<(usize, String, std::ops::Range<usize>)>,
}

/// Splits a crate root into module declarations, `use`s and other items.
fn parse_root(toks: &[Tok]) -> Root {
    let mut root = Root::default();
    let (mut i, mut test_only) = (0, false);
    while i < toks.len() {
        if is(toks, i, "#") {
            let (end, cfg_test) = attribute(toks, i);
            test_only |= cfg_test;
            i = end;
            continue;
        }
        let k = skip_visibility(toks, i);
        let end = if is(toks, k, "mod") && is(toks, k + 2, ";") {
            if !test_only {
                root.modules.insert(toks[k + 1].text.clone(), toks[k].line);
            }
            k + 3
        } else if is(toks, k, "use") {
            let mut paths = Vec::new();
            use_tree(toks, k + 1, &[], &mut paths);
            if !test_only {
                root.uses.extend(paths);
            }
            statement_end(toks, k)
        } else if is(toks, k, "extern") && is(toks, k + 1, "crate") || is(toks, i, ";") {
            statement_end(toks, i)
        } else {
            let end = item_end(toks, i, k);
            if !test_only {
                root.items.push((toks[i].line, item_head(toks, k), i..end));
            }
            end
        };
        i = end.max(i + 1);
        test_only = false;
    }
    root
}

/// An attribute `#[...]` / `#![...]` at `i`: the index after it, and whether it is an
/// outer `#[cfg(test)]` (inner attributes apply to the whole file, not the next item).
fn attribute(toks: &[Tok], i: usize) -> (usize, bool) {
    let inner = is(toks, i + 1, "!");
    let open = if inner { i + 2 } else { i + 1 };
    if !is(toks, open, "[") {
        return (i + 1, false);
    }
    let mut depth = 0usize;
    let mut j = open;
    while let Some(t) = toks.get(j) {
        match t.text.as_str() {
            "[" => depth += 1,
            "]" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        j += 1;
    }
    let body: Vec<&str> = toks[open + 1..j.min(toks.len())]
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    (j + 1, !inner && body == ["cfg", "(", "test", ")"])
}

/// The index after `pub`, `pub(crate)`, `pub(in path)` at `i` (or `i` itself).
fn skip_visibility(toks: &[Tok], i: usize) -> usize {
    if !is(toks, i, "pub") {
        return i;
    }
    if !is(toks, i + 1, "(") {
        return i + 1;
    }
    let mut j = i + 1;
    while j < toks.len() && !is(toks, j, ")") {
        j += 1;
    }
    j + 1
}

/// The end of an item starting at `start` (keyword at `k`): the first `;` outside
/// brackets, or the `}` closing its body; `const`/`static`/`type` run to their `;`
/// because their value may contain braces.
fn item_end(toks: &[Tok], start: usize, k: usize) -> usize {
    let valued = match toks.get(k).map(|t| t.text.as_str()) {
        Some("static" | "type") => true,
        Some("const") => !matches!(
            toks.get(k + 1).map(|t| t.text.as_str()),
            Some("fn" | "unsafe" | "async" | "extern")
        ),
        _ => false,
    };
    let (mut depth, mut i) = (0usize, start);
    while let Some(t) = toks.get(i) {
        match t.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" => depth = depth.saturating_sub(1),
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 && !valued {
                    return i + 1;
                }
            }
            ";" if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// `fn helper`, `impl From`, `struct S`: the item's keyword and the name after it.
fn item_head(toks: &[Tok], k: usize) -> String {
    let words: Vec<&str> = toks[k..]
        .iter()
        .take_while(|t| t.ident || t.text == "!")
        .take(4)
        .map(|t| t.text.as_str())
        .collect();
    if words.is_empty() {
        toks.get(k).map_or_else(String::new, |t| t.text.clone())
    } else {
        words.join(" ")
    }
}

/// Root-level names and the modules they lead to: every module names itself, and a root
/// `use y::Name` / `use self::y::{A, B as C}` maps `Name`, `A`, `C` to `y`. Globs
/// (`pub use y::*`) are returned apart: an unknown `crate::Name` may come from them.
fn root_names(root: &Root) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in root.modules.keys() {
        names.entry(m.clone()).or_default().insert(m.clone());
    }
    let mut globs = BTreeSet::new();
    for u in &root.uses {
        let segs: Vec<&str> = u.segs.iter().map(String::as_str).collect();
        let first = match segs.as_slice() {
            ["crate" | "self", first, ..] | [first, ..] => *first,
            [] => continue,
        };
        if !root.modules.contains_key(first) {
            continue;
        }
        if u.bound == "*" {
            globs.insert(first.to_string());
        } else {
            names
                .entry(u.bound.clone())
                .or_default()
                .insert(first.to_string());
        }
    }
    (names, globs)
}

// ---------------------------------------------------------------- module edges

/// Where an edge was seen first, for the report: file, line and the path written there.
#[derive(Clone, Debug)]
struct Evidence {
    file: String,
    line: usize,
    path: String,
}

/// A crate's top-level modules and the edges between them.
#[derive(Debug, Default)]
struct Graph {
    nodes: BTreeSet<String>,
    edges: BTreeMap<String, BTreeMap<String, Evidence>>,
}

/// How root-level names resolve to modules inside one crate.
struct Names {
    /// Module names (to themselves) and root re-exports (to the modules they come from).
    map: BTreeMap<String, BTreeSet<String>>,
    /// Modules the root glob-re-exports (`pub use y::*`).
    globs: BTreeSet<String>,
    /// Words naming the root's own items (`fn helper`): never glob-resolved.
    own: BTreeSet<String>,
}

impl Names {
    fn of(root: &Root) -> Names {
        let (map, globs) = root_names(root);
        let own = root
            .items
            .iter()
            .flat_map(|(_, h, _)| h.split(' ').map(str::to_string))
            .collect();
        Names { map, globs, own }
    }

    /// The modules a root-level name `crate::name` leads to.
    fn resolve(&self, name: &str) -> BTreeSet<String> {
        match self.map.get(name) {
            Some(ms) => ms.clone(),
            None if !self.own.contains(name) => self.globs.clone(),
            None => BTreeSet::new(),
        }
    }
}

/// `src/x.rs` and every `.rs` file under `src/x/`, sorted.
fn module_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        out.push(file);
    }
    rs_files(&src.join(module), 0, &mut out);
    out.sort();
    out
}

/// Every `.rs` file under `dir` (bounded depth: no symlink loop can run away).
fn rs_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    if depth > 32 {
        return;
    }
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if p.is_dir() {
            rs_files(&p, depth + 1, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// How deep a file's own module is below the crate root: `x.rs` and `x/mod.rs` are 1,
/// `x/a.rs` is 2, so that many `super`s from its top level reach the root.
fn file_depth(src: &Path, file: &Path) -> usize {
    let parts = file.strip_prefix(src).map_or(1, |r| r.components().count());
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts.saturating_sub(1).max(1)
    } else {
        parts
    }
}

/// The top-level name a path reaches (`crate::y::..` → y; `super::y` when the number
/// of `super`s equals `level`, the module depth where it is written), if any.
fn root_target(p: &UsePath, level: usize) -> Option<&str> {
    if p.segs.first().is_some_and(|s| s == "crate") {
        return p.segs.get(1).map(String::as_str);
    }
    let supers = p.segs.iter().take_while(|s| *s == "super").count();
    if supers == level {
        p.segs.get(supers).map(String::as_str)
    } else {
        None
    }
}

/// The edges written in one file of module `module` (`depth` from [`file_depth`]).
/// Returns a problem for a glob import of the crate root, which hides its edges.
fn file_edges(
    toks: &[Tok],
    depth: usize,
    module: &str,
    names: &Names,
    rel: &str,
    g: &mut Graph,
) -> Option<String> {
    let mut inline_mods: Vec<bool> = Vec::new();
    let mut problem = None;
    for i in 0..toks.len() {
        match toks[i].text.as_str() {
            "{" => inline_mods.push(i >= 2 && is(toks, i - 2, "mod") && toks[i - 1].ident),
            "}" => {
                inline_mods.pop();
            }
            "crate" if is(toks, i + 1, "::") => {}
            "super" if !(i > 0 && is(toks, i - 1, "::")) => {}
            _ => continue,
        }
        if toks[i].ident {
            let level = depth + inline_mods.iter().filter(|m| **m).count();
            let mut paths = Vec::new();
            use_tree(toks, i, &[], &mut paths);
            for p in &paths {
                let Some(target) = root_target(p, level) else {
                    continue;
                };
                if target == "*" {
                    problem = Some(format!(
                        "{rel} line {}: `{}` glob-imports the crate root, which hides which modules \
                         `{module}` uses; name them",
                        toks[i].line,
                        p.segs.join("::")
                    ));
                    continue;
                }
                let ev = Evidence {
                    file: rel.to_string(),
                    line: toks[i].line,
                    path: evidence_path(&p.segs),
                };
                for to in names.resolve(target).into_iter().filter(|t| t != module) {
                    g.edges
                        .entry(module.to_string())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| ev.clone());
                }
            }
        }
    }
    problem
}

/// The path as written, without a use group's trailing `self` (`crate::a::{self}` → `crate::a`).
fn evidence_path(segs: &[String]) -> String {
    let n = if segs.last().is_some_and(|s| s == "self") {
        segs.len() - 1
    } else {
        segs.len()
    };
    segs[..n].join("::")
}

/// Path of `p` relative to the workspace root, with `/` separators, for messages.
fn rel(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads a file, saying which one on failure.
fn read(p: &Path) -> Result<String, String> {
    fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// The module graph of the crate whose root file is `root_file`, plus any problems
/// (modules without files, glob imports of the root, root items that mention modules).
fn crate_graph(ws: &Path, krate: &str, root_file: &Path) -> Result<(Graph, Vec<String>), String> {
    let src = root_file.parent().unwrap_or(ws);
    let toks = tokenize(&read(root_file)?);
    let root = parse_root(&toks);
    let root_rel = rel(ws, root_file);
    let mut problems = Vec::new();
    let names = Names::of(&root);
    let mut g = Graph {
        nodes: root.modules.keys().cloned().collect(),
        ..Graph::default()
    };
    for (module, line) in &root.modules {
        let files = module_files(src, module);
        if files.is_empty() {
            problems.push(format!(
                "crate `{krate}`: `mod {module};` ({root_rel} line {line}) has neither {module}.rs nor \
                 {module}/ beside it; the layout test reads only those (no #[path] modules)"
            ));
        }
        for f in files {
            let ftoks = tokenize(&read(&f)?);
            let depth = file_depth(src, &f);
            if let Some(p) = file_edges(&ftoks, depth, module, &names, &rel(ws, &f), &mut g) {
                problems.push(format!("crate `{krate}`: {p}"));
            }
        }
    }
    Ok((g, problems))
}

// ---------------------------------------------------------------- cycles

/// Every node reachable from `from` by one or more edges.
fn reachable(g: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: VecDeque<&str> = VecDeque::from([from]);
    while let Some(n) = todo.pop_front() {
        for to in g.edges.get(n).into_iter().flat_map(BTreeMap::keys) {
            if seen.insert(to.clone()) {
                todo.push_back(to);
            }
        }
    }
    seen
}

/// The strongly connected groups of two or more modules (each one is a cycle or several).
fn cyclic_groups(g: &Graph) -> Vec<BTreeSet<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> =
        g.nodes.iter().map(|n| (n, reachable(g, n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &g.nodes {
        if done.contains(n) || !reach[n].contains(n) {
            continue;
        }
        let group: BTreeSet<String> = reach[n]
            .iter()
            .filter(|m| reach.get(m).is_some_and(|r| r.contains(n)))
            .cloned()
            .collect();
        done.extend(group.iter().cloned());
        out.push(group);
    }
    out
}

/// A shortest cycle from `start` back to itself inside `group` (breadth first).
fn shortest_cycle(g: &Graph, group: &BTreeSet<String>, start: &str) -> Vec<String> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut todo: VecDeque<String> = VecDeque::from([start.to_string()]);
    while let Some(n) = todo.pop_front() {
        for to in g.edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
            if to == start {
                // Walk back from `n` to `start` (which has no parent), then close the loop.
                let mut path = vec![n.clone()];
                let mut cur = n.clone();
                while let Some(p) = parent.get(&cur) {
                    path.push(p.clone());
                    cur = p.clone();
                }
                path.reverse();
                path.push(start.to_string());
                return path;
            }
            if group.contains(to) && to != start && !parent.contains_key(to) {
                parent.insert(to.clone(), n.clone());
                todo.push_back(to.clone());
            }
        }
    }
    vec![start.to_string()]
}

/// One failure message per cyclic group: the cycle path, each edge's file and line,
/// the whole group, and how to fix it.
fn cycle_problems(krate: &str, root_rel: &str, g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for group in cyclic_groups(g) {
        let Some(start) = group.iter().next() else {
            continue;
        };
        let cycle = shortest_cycle(g, &group, start);
        let mut msg = format!(
            "crate `{krate}` ({root_rel}): module cycle {}",
            cycle.join(" -> ")
        );
        for w in cycle.windows(2) {
            if let Some(e) = g.edges.get(&w[0]).and_then(|m| m.get(&w[1])) {
                msg.push_str(&format!(
                    "\n    {} -> {}: {} line {} `{}`",
                    w[0], w[1], e.file, e.line, e.path
                ));
            }
        }
        if group.len() > cycle.len() - 1 {
            let all: Vec<&str> = group.iter().map(String::as_str).collect();
            msg.push_str(&format!(
                "\n    ({} modules reach each other: {})",
                group.len(),
                all.join(", ")
            ));
        }
        msg.push_str(
            "\n    fix: move the item both need down into a lower module (or crate) that imports \
             neither, or let the lower module take a trait (or a closure) that the higher one \
             implements, so each edge points one way",
        );
        out.push(msg);
    }
    out
}

// ---------------------------------------------------------------- the thin binary

/// Fails when the root package's `src/` (every `.rs` file, every line) is over `max`,
/// listing the biggest files.
fn binary_problem(ws: &Path, max: usize) -> Result<Option<String>, String> {
    let mut files = Vec::new();
    rs_files(&ws.join("src"), 0, &mut files);
    let mut sized = Vec::new();
    for f in files {
        sized.push((read(&f)?.lines().count(), rel(ws, &f)));
    }
    let total: usize = sized.iter().map(|(n, _)| n).sum();
    if total <= max {
        return Ok(None);
    }
    sized.sort_by(|a, b| b.cmp(a));
    let biggest: Vec<String> = sized
        .iter()
        .take(BIGGEST_SHOWN)
        .map(|(n, f)| format!("{f} ({n})"))
        .collect();
    Ok(Some(format!(
        "the binary crate (src/ of the root package) has {total} lines, over the {max} allowed \
         (command line and output only; move the rest into the crates below): biggest {}",
        biggest.join(", ")
    )))
}

// ---------------------------------------------------------------- the whole check

/// Every layout problem of the workspace at `ws`; an `Err` when it cannot be read.
fn check(ws: &Path, max_binary_lines: usize) -> Result<Vec<String>, String> {
    let toml = read(&ws.join("Cargo.toml"))?;
    let members = workspace_members(&toml)?;
    let mut problems = Vec::new();
    for dir in member_dirs(ws, &members)? {
        let krate = package_name(&dir);
        let roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| dir.join("src").join(f))
            .filter(|p| p.is_file())
            .collect();
        if roots.is_empty() {
            problems.push(format!(
                "workspace member {}: neither src/lib.rs nor src/main.rs (the layout test expects them)",
                rel(ws, &dir)
            ));
        }
        for root_file in roots {
            let (g, mut found) = crate_graph(ws, &krate, &root_file)?;
            found.extend(cycle_problems(&krate, &rel(ws, &root_file), &g));
            problems.extend(found);
        }
    }
    problems.extend(binary_problem(ws, max_binary_lines)?);
    Ok(problems)
}

#[test]
fn workspace_has_no_module_cycles_and_a_thin_binary() {
    let ws = PathBuf::from(option_env!("CARGO_MANIFEST_DIR").unwrap_or("/work/main"));
    let problems = check(&ws, MAX_BINARY_LINES)
        .unwrap_or_else(|e| panic!("layout check of {}: {e}", ws.display()));
    assert!(
        problems.is_empty(),
        "{} layout problem(s) in {}:\n\n{}\n",
        problems.len(),
        ws.display(),
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------- tests of the checker

/// A throwaway workspace in the temp folder (unique per test), removed when dropped.
struct Fake {
    dir: PathBuf,
}

impl Fake {
    /// A workspace whose root package `fake` is its only member, unless `Cargo.toml` is rewritten.
    fn new(name: &str) -> Fake {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("sebroker-layout-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let fake = Fake { dir };
        fake.file(
            "Cargo.toml",
            "[workspace]\nmembers = [\".\"]\n\n[package]\nname = \"fake\"\n",
        );
        fake
    }

    fn file(&self, rel: &str, text: &str) -> &Fake {
        let p = self.dir.join(rel);
        fs::create_dir_all(p.parent().expect("a file has a folder"))
            .expect("create the fake's folder");
        fs::write(&p, text).expect("write a fake file");
        self
    }

    fn problems(&self) -> Vec<String> {
        check(&self.dir, MAX_BINARY_LINES).expect("the fake workspace is readable")
    }

    /// The edges of the root package's library, as `from -> to` strings.
    fn lib_edges(&self) -> Vec<String> {
        let (g, _) = crate_graph(&self.dir, "fake", &self.dir.join("src/lib.rs"))
            .expect("read the fake crate");
        g.edges
            .iter()
            .flat_map(|(a, tos)| tos.keys().map(move |b| format!("{a} -> {b}")))
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Asserts that exactly one problem was found and that it contains every `needle`.
fn assert_one_problem(problems: &[String], needles: &[&str]) {
    assert_eq!(problems.len(), 1, "expected one problem, got {problems:#?}");
    for n in needles {
        assert!(
            problems[0].contains(n),
            "expected `{n}` in:\n{}",
            problems[0]
        );
    }
}

#[test]
fn a_two_module_cycle_is_found() {
    let f = Fake::new("two");
    f.file("src/lib.rs", "//! Fake.\npub mod a;\npub mod b;\n")
        .file("src/a.rs", "use crate::b::B;\npub struct A(pub B);\n")
        .file(
            "src/b/mod.rs",
            "pub struct B;\npub fn f(_: &crate::a::A) {}\n",
        );
    assert_one_problem(
        &f.problems(),
        &[
            "crate `fake` (src/lib.rs): module cycle a -> b -> a",
            "src/a.rs line 1 `crate::b::B`",
            "fix:",
        ],
    );
}

#[test]
fn a_three_module_cycle_through_a_use_group_is_found() {
    let f = Fake::new("three");
    f.file("src/lib.rs", "mod a;\npub(crate) mod b;\nmod c;\n")
        .file("src/a.rs", "pub struct X;\npub fn f() { crate::b::g() }\n")
        .file("src/b.rs", "pub fn g() { let _ = crate::c::H; }\n")
        .file(
            "src/c.rs",
            "use crate::{\n    a::X,\n    b,\n};\npub const H: u8 = 1;\n",
        );
    assert_eq!(f.lib_edges(), ["a -> b", "b -> c", "c -> a", "c -> b"]);
    assert_one_problem(
        &f.problems(),
        &[
            "module cycle a -> b -> c -> a",
            "b -> c: src/b.rs line 1 `crate::c::H`",
            "src/c.rs line 1 `crate::a::X`",
        ],
    );
}

#[test]
fn a_re_export_makes_an_edge_to_its_module() {
    let f = Fake::new("reexport");
    f.file(
        "src/lib.rs",
        "pub mod a;\npub mod b;\npub use b::{Thing, Other as Renamed};\npub use self::a::Top;\n",
    )
    .file(
        "src/a.rs",
        "pub struct Top;\npub fn f(_: crate::Renamed) {}\n",
    )
    .file("src/b.rs", "pub struct Thing;\npub struct Other;\n");
    assert_eq!(f.lib_edges(), ["a -> b"]);
    assert!(f.problems().is_empty(), "{:#?}", f.problems());
    f.file(
        "src/b.rs",
        "pub struct Thing;\npub struct Other;\npub fn g(_: crate::Top) {}\n",
    );
    assert_one_problem(
        &f.problems(),
        &["module cycle a -> b -> a", "src/b.rs line 3 `crate::Top`"],
    );
}

#[test]
fn comments_and_strings_mentioning_a_module_make_no_edge() {
    let f = Fake::new("comments");
    let a = r####"//! Uses crate::b in doc text only.
/// See [`crate::b::B`].
// crate::b::B
/* crate::b /* nested crate::b */ still comment crate::b */
pub fn f<'a>(x: &'a str) -> (char, char, &'static str, &'a str) {
    let _ = b"crate::b";
    let _ = r#"crate::b "quoted" "#;
    let _ = br##"crate::b"##;
    ('"', '\'', "crate::b \" crate::b", x)
}
#[doc = "crate::b"]
pub struct A;
"####;
    f.file("src/lib.rs", "pub mod a;\npub mod b;\n")
        .file("src/a.rs", a)
        .file("src/b.rs", "pub use crate::a::A;\n");
    assert_eq!(f.lib_edges(), ["b -> a"]);
    assert!(f.problems().is_empty(), "{:#?}", f.problems());
    // The same file with one real path after all that text does make the edge.
    f.file("src/a.rs", &format!("{a}pub fn g() {{ crate::b::h() }}\n"));
    assert_one_problem(
        &f.problems(),
        &["module cycle a -> b -> a", "src/a.rs line 13 `crate::b::h`"],
    );
}

#[test]
fn super_at_a_modules_top_level_makes_an_edge_deeper_super_does_not() {
    let f = Fake::new("super");
    f.file("src/lib.rs", "pub mod a;\npub mod b;\n")
        .file(
            "src/a/mod.rs",
            "pub mod inner;\npub struct A;\nmod tests {\n    use super::b;\n}\n",
        )
        .file("src/a/inner.rs", "use super::b;\nuse super::A;\n")
        .file("src/b.rs", "pub fn b() -> crate::a::A { crate::a::A }\n");
    assert_eq!(
        f.lib_edges(),
        ["b -> a"],
        "super inside `mod tests` or a/inner.rs stays inside a"
    );
    f.file("src/a/inner.rs", "use super::super::b::b as make;\n");
    assert_eq!(
        f.lib_edges(),
        ["a -> b", "b -> a"],
        "super::super from a/inner.rs is the root"
    );
    f.file("src/a/inner.rs", "\n").file(
        "src/a/mod.rs",
        "pub mod inner;\nuse super::{b::b as make};\npub struct A;\n",
    );
    assert_one_problem(
        &f.problems(),
        &[
            "module cycle a -> b -> a",
            "src/a/mod.rs line 2 `super::b::b`",
        ],
    );
}

#[test]
fn an_acyclic_workspace_passes() {
    let f = Fake::new("acyclic");
    f.file("Cargo.toml", "[workspace]\nmembers = [\".\", \"low\"]\n[package]\nname = \"fake\"\n")
        .file(
            "src/lib.rs",
            "//! Fake.\n#![forbid(unsafe_code)]\n/// The base.\npub mod a;\npub mod b;\npub mod c;\n\
             #[cfg(test)]\nmod props;\npub use a::Base;\npub use c::*;\npub const VERSION: &str = \"1\";\n",
        )
        .file("src/a.rs", "pub struct Base;\n")
        .file("src/b.rs", "use crate::{Base, VERSION};\npub fn b(_: Base) -> &'static str { VERSION }\n")
        .file("src/c.rs", "pub fn c() { let _ = crate::b::b(crate::Base); }\n")
        .file("src/props.rs", "use crate::c::c;\n")
        .file("src/main.rs", "mod cli;\nfn main() { cli::run() }\n")
        .file("src/cli.rs", "pub fn run() { fake::c::c() }\n")
        .file("low/Cargo.toml", "[package]\nname = \"fake-low\"\n")
        .file("low/src/lib.rs", "pub mod x;\npub mod y;\n")
        .file("low/src/x.rs", "pub fn x() { crate::y::y() }\n")
        .file("low/src/y.rs", "pub fn y() {}\n");
    assert_eq!(f.lib_edges(), ["b -> a", "c -> a", "c -> b"]);
    assert!(f.problems().is_empty(), "{:#?}", f.problems());
    // The same shape with one edge back up, in the member crate, is named after that crate.
    f.file(
        "low/src/y.rs",
        "pub fn y() { if false { crate::x::x() } }\n",
    );
    assert_one_problem(
        &f.problems(),
        &["crate `fake-low` (low/src/lib.rs): module cycle x -> y -> x"],
    );
}

#[test]
fn code_in_the_crate_root_is_the_crate_not_a_node() {
    // The root may hold the crate's central type; modules using it and it
    // using modules is the crate itself, not a cycle between modules.
    let f = Fake::new("rootfn");
    f.file(
        "src/lib.rs",
        "pub mod a;\npub mod b;\npub use b::Thing;\n\npub struct Hub;\nimpl Hub {\n    pub fn helper() -> a::A {\n        a::A\n    }\n}\n",
    )
    .file("src/a.rs", "pub struct A;\npub fn f(_: &crate::Hub) {}\n")
    .file("src/b.rs", "pub struct Thing;\npub fn g(_: crate::Hub) {}\n");
    assert!(f.problems().is_empty(), "{:#?}", f.problems());
    // A cycle between two modules is still one, root code or not.
    f.file(
        "src/b.rs",
        "pub struct Thing;\npub fn g() { crate::a::f(&crate::Hub) }\n",
    )
    .file(
        "src/a.rs",
        "pub struct A;\npub fn f(_: &crate::Hub) {}\npub fn h() -> crate::Thing { crate::Thing }\n",
    );
    assert_one_problem(&f.problems(), &["module cycle a -> b -> a"]);
}

#[test]
fn a_binary_of_4001_lines_fails_and_4000_passes() {
    let f = Fake::new("lines");
    let lines = |n: usize| "// a line\n".repeat(n);
    f.file("src/main.rs", &format!("fn main() {{}}\n{}", lines(2999)))
        .file("src/cli/out.rs", &lines(1000));
    assert!(
        f.problems().is_empty(),
        "4000 lines are allowed: {:#?}",
        f.problems()
    );
    f.file("src/cli/out.rs", &lines(1001));
    assert_one_problem(
        &f.problems(),
        &[
            "has 4001 lines, over the 4000 allowed",
            "src/main.rs (3000), src/cli/out.rs (1001)",
        ],
    );
}

#[test]
fn the_members_list_is_read_from_the_workspace_table_only() {
    let toml = r#"
[package]
members = ["not", "these"]   # a key of another table
[workspace] # the workspace
resolver = "2"
exclude = ["x", [1]]
members = [
    ".",   # the binary
    'model', # literal string
    "with#hash", "esc\"aped",
    # "commented-out",
]
[workspace.package]
members = ["nor", "these"]
"#;
    assert_eq!(
        workspace_members(toml),
        Ok(vec![
            ".".into(),
            "model".into(),
            "with#hash".into(),
            "esc\"aped".into()
        ])
    );
    assert_eq!(
        workspace_members("workspace.members = [\"a\"]\n"),
        Ok(vec!["a".to_string()])
    );
    assert!(workspace_members("[workspace]\nmembers = [\"a\", 1]\n")
        .is_err_and(|e| e.contains("must be strings")));
    assert!(workspace_members("[package]\nname = \"x\"\n")
        .is_err_and(|e| e.contains("no `[workspace] members")));
}
