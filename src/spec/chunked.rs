//! Reading a large spec a service at a time.
//!
//! toml reads a document through a tree of all of it (its tokens, then its events, then a
//! table of borrowed strings: some 20 bytes of heap per byte of spec, 40 MB for the 1.9 MB of
//! a 5,000-service spec), and a `RawSpec` is deserialised from that tree while it is whole.
//! Here the spec is lexed once (toml's own lexer, streaming) for its table headers; when each
//! service's headers (`[services.NAME]`, `[services.NAME.x]`, `[[services.NAME.x]]`) form
//! one run of the document and nothing else names `services`, each run is read as a document
//! of its own (its tree dropped as soon as its `RawService` exists) and the rest of the spec
//! (project, defaults, zones, flows, secrets...) as another. Spans are moved back to where
//! the text lies in the spec (`Sp`'s deserialiser consults [`shifted`]), so the result is
//! the `RawSpec` toml reads from the whole document, spans included.
//!
//! Anything unusual (a `[services]` header, a quoted key where `services` or a service's
//! name could be, `services` given as a key, a service's headers in two runs) and any error
//! at all returns `None`: the caller reads the whole document, and every diagnostic is
//! toml's as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;
use toml_parser::lexer::TokenKind;

use super::{RawService, RawSpec, Sp};
use crate::parallel::{join, PARALLEL_FROM};

thread_local! {
    /// While a piece of the spec is deserialised: where its text lies in the spec, as
    /// `(start in the piece, offset to add)`, sorted by start. Empty otherwise.
    static SHIFT: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

/// A span of the piece being deserialised, as a span of the spec.
pub(super) fn shifted(span: Range<usize>) -> Range<usize> {
    SHIFT.with(|s| {
        let s = s.borrow();
        let i = s.partition_point(|(start, _)| *start <= span.start);
        match i.checked_sub(1).map(|i| s[i].1) {
            // No value crosses from one piece of text to the next (each starts at a table
            // header): the end moves with the start.
            Some(add) => span.start + add..span.end + add,
            None => span,
        }
    })
}

/// Sets [`SHIFT`] for as long as it lives.
struct Shift;

impl Shift {
    fn new(map: impl IntoIterator<Item = (usize, usize)>) -> Shift {
        SHIFT.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            s.extend(map);
        });
        Shift
    }
}

impl Drop for Shift {
    fn drop(&mut self) {
        SHIFT.with(|s| s.borrow_mut().clear());
    }
}

/// One service's run of the document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OneService {
    services: BTreeMap<Sp<String>, RawService>,
}

/// A stretch of the document between table headers.
#[derive(Debug, PartialEq)]
struct Piece<'a> {
    range: Range<usize>,
    /// The service whose run it is; `None` for the rest of the spec.
    service: Option<&'a str>,
}

/// The spec read a service at a time, or `None` when it must be read whole.
pub fn parse(text: &str) -> Option<RawSpec> {
    let pieces = pieces(text)?;
    let runs: Vec<&Piece> = pieces.iter().filter(|p| p.service.is_some()).collect();
    if runs.is_empty() {
        return None;
    }
    // The services' runs are independent documents: with many, half of them are read on a
    // second thread (each thread has its own `SHIFT`) while this one reads the rest of the
    // spec and the other half. A thread costs more than a few services' reading: small specs
    // stay on this one.
    let (mut raw, mut services) = if runs.len() >= PARALLEL_FROM {
        let (first, second) = runs.split_at(balance(text.len(), &runs));
        let ((raw, services), rest) = join(
            || {
                let raw = read_rest(text, &pieces);
                let services = raw.as_ref().and_then(|_| read_services(text, first));
                (raw, services)
            },
            || read_services(text, second),
        );
        // `None` from the other thread as from this one
        let mut services = services?;
        services.extend(rest?);
        (raw?, services)
    } else {
        (read_rest(text, &pieces)?, read_services(text, &runs)?)
    };
    // A service in two runs of headers: toml's error about it, from the whole document.
    // (Unstable: no scratch copy, and two equal names are refused below anyway.)
    services.sort_unstable_by(|a, b| a.0.value.cmp(&b.0.value));
    if services.windows(2).any(|w| w[0].0.value == w[1].0.value) {
        return None;
    }
    // Built from sorted entries, the map's nodes are full (inserted one by one in order,
    // they are two-thirds full: a third more memory for the largest part of the spec).
    raw.services = services.into_iter().collect();
    Some(raw)
}

/// Where to split the services' runs so that the second thread reads as many bytes as the
/// first, which also reads the rest of the spec (`total` bytes in all): the runs from the
/// returned index on make up the half of the text at the end, or the nearest run boundary
/// past it. Reading costs about the same per byte in both (at 5,000 services, a split in
/// the middle of the runs left the second thread idle for a tenth of the first's reading).
fn balance(total: usize, runs: &[&Piece]) -> usize {
    let (mut at, mut second) = (runs.len(), 0);
    // With a rest of half the text or more, every run goes to the second thread.
    while at > 0 && second < total / 2 {
        at -= 1;
        second += runs[at].range.len();
    }
    at
}

/// The spec but its services (left empty): its pieces that are not a service's run, read
/// as one document.
fn read_rest(text: &str, pieces: &[Piece]) -> Option<RawSpec> {
    // Its pieces end to end (each ends with its line break).
    let mut rest = String::new();
    let mut map = Vec::new();
    for p in pieces.iter().filter(|p| p.service.is_none()) {
        map.push((rest.len(), p.range.start - rest.len()));
        rest.push_str(&text[p.range.clone()]);
    }
    let mut root = DeTable::parse(&rest).ok()?;
    if root.get_ref().contains_key("services") {
        return None;
    }
    root.get_mut().insert(
        Spanned::new(0..0, Cow::Borrowed("services")),
        Spanned::new(0..0, DeValue::Table(DeTable::new())),
    );
    let _shift = Shift::new(map);
    RawSpec::deserialize(toml::de::Deserializer::from(root)).ok()
}

/// The services of their runs, in the runs' order; `None` when a run is not one service.
fn read_services<'t>(text: &'t str, runs: &[&Piece<'t>]) -> Option<Vec<(Sp<String>, RawService)>> {
    // Sized once: the services are the largest part of the spec (a run of doublings would
    // copy them again and touch twice the memory).
    let mut services = Vec::with_capacity(runs.len());
    for p in runs {
        let one: OneService = {
            let _shift = Shift::new([(0, p.range.start)]);
            toml::from_str(&text[p.range.clone()]).ok()?
        };
        let mut one = one.services.into_iter();
        services.push(one.next()?);
        if one.next().is_some() {
            return None;
        }
    }
    Some(services)
}

/// The document cut at its table headers: the services' runs, and the rest (neighbours of
/// the same kind joined). `None` when the layout is not the usual one.
fn pieces(text: &str) -> Option<Vec<Piece<'_>>> {
    /// A header at `at` starts a piece, unless the piece before is of the same service (or
    /// also the rest).
    fn add<'a>(out: &mut Vec<Piece<'a>>, at: usize, service: Option<&'a str>) {
        if let Some(last) = out.last_mut() {
            if last.service == service {
                return;
            }
            last.range.end = at;
        }
        out.push(Piece {
            range: at..at,
            service,
        });
    }
    let mut out: Vec<Piece> = Vec::new();
    add(&mut out, 0, None);
    let mut tokens = toml_parser::Source::new(text).lex().peekable();
    // Whether only whitespace precedes on this line (outside any value), and how deep in
    // brackets and braces of values the lexer is.
    let mut line_start = true;
    let mut depth = 0usize;
    while let Some(t) = tokens.next() {
        match t.kind() {
            TokenKind::Eof => break,
            TokenKind::Newline => line_start |= depth == 0,
            TokenKind::Whitespace | TokenKind::Comment => {}
            TokenKind::LeftSquareBracket if line_start && depth == 0 => {
                line_start = false;
                let at = t.span().start();
                let array = tokens.peek()?.kind() == TokenKind::LeftSquareBracket;
                if array {
                    tokens.next();
                }
                // The header's keys: bare ones by their text, quoted ones as `None`.
                let mut keys: Vec<Option<&str>> = Vec::new();
                loop {
                    let t = tokens.next()?;
                    match t.kind() {
                        TokenKind::Whitespace | TokenKind::Dot => {}
                        TokenKind::Atom => keys.push(text.get(t.span().start()..t.span().end())),
                        TokenKind::BasicString | TokenKind::LiteralString => keys.push(None),
                        TokenKind::RightSquareBracket => break,
                        _ => return None,
                    }
                }
                if array && tokens.next()?.kind() != TokenKind::RightSquareBracket {
                    return None;
                }
                match keys.as_slice() {
                    [Some("services"), Some(name), ..] => add(&mut out, at, Some(name)),
                    [Some("services")] | [None, ..] | [Some("services"), None, ..] | [] => {
                        return None
                    }
                    _ => add(&mut out, at, None),
                }
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                line_start = false;
                depth += 1;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                line_start = false;
                depth = depth.checked_sub(1)?;
            }
            _ => line_start = false,
        }
    }
    if let Some(last) = out.last_mut() {
        last.range.end = text.len();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};

    /// The spec as toml reads the whole document, spans included (`Sp`'s `PartialEq` leaves
    /// them out; its `Debug` shows them).
    fn whole(text: &str) -> Result<String, String> {
        toml::from_str::<RawSpec>(text)
            .map(|r| format!("{r:#?}"))
            .map_err(|e| e.to_string())
    }

    /// What `chunked` reads, checked against the whole document: read a service at a time,
    /// the same `RawSpec` with the same spans. Whether it was.
    fn agrees(text: &str) -> Result<bool, String> {
        let Some(fast) = parse(text) else {
            return Ok(false);
        };
        let fast = format!("{fast:#?}");
        match whole(text) {
            Ok(w) if w == fast => Ok(true),
            Ok(w) => Err(first_difference(&w, &fast)),
            Err(e) => Err(format!("read in pieces, but toml refuses the whole: {e}")),
        }
    }

    fn first_difference(a: &str, b: &str) -> String {
        let (i, (x, y)) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("(length)", "(length)")));
        format!("line {i} of the Debug output: whole `{x}`, in pieces `{y}`")
    }

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn tomls(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(tomls(&p));
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_repositorys_specs_read_the_same() {
        let mut fast = 0;
        let mut all = 0;
        for dir in ["examples", "tests"] {
            for p in tomls(&root().join(dir)) {
                let text = std::fs::read_to_string(&p).unwrap();
                let took = agrees(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                if p.starts_with(root().join("examples")) {
                    assert!(took, "{}: the usual layout is read in pieces", p.display());
                }
                all += 1;
                fast += usize::from(took);
            }
        }
        // The examples, the test specs, the imports' specs and the bad specs whose mistake is
        // found by validation, not by toml.
        assert!(fast > 40, "{fast} of {all} specs read in pieces");
    }

    #[test]
    fn the_benchmarks_spec_reads_the_same() {
        let out = std::process::Command::new("python3")
            .arg(root().join("bench/gen_spec.py"))
            .arg("240")
            .output()
            .expect("python3 runs bench/gen_spec.py");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(agrees(&text), Ok(true));
    }

    #[test]
    fn pieces_of_a_spec() {
        let text = "[project]\nname = \"a\"\n[services.a]\nimage = \"x:1\"\n  [services.a.healthcheck]\ncmd = [\n[\"x\"]]\n[zones.z]\n[[flows]]\n[services.b]\n";
        let p = pieces(text).unwrap();
        let got: Vec<(&str, Option<&str>)> = p
            .iter()
            .map(|p| (&text[p.range.clone()], p.service))
            .collect();
        assert_eq!(
            got,
            [
                ("[project]\nname = \"a\"\n", None),
                ("[services.a]\nimage = \"x:1\"\n  [services.a.healthcheck]\ncmd = [\n[\"x\"]]\n", Some("a")),
                ("[zones.z]\n[[flows]]\n", None),
                ("[services.b]\n", Some("b")),
            ]
        );
    }

    /// A generated spec, and whether it must be read in pieces.
    #[derive(Debug)]
    struct Generated {
        text: String,
        usual: bool,
    }

    /// Specs of every layout from a list of choices: services in any order, their tables
    /// inline or under headers of their own, the other tables before, between and after
    /// them, comments, indentation, CRLF, multi-line values that hold what looks like a
    /// header, sometimes enough services to be read on two threads; and the layouts that must
    /// be read whole: a service's headers in two runs (one of them in the last half), a
    /// `[services]` header, `services` as a dotted or inline key, quoted names, a service
    /// twice, syntax and shape errors inside a service.
    fn generate(c: &[u8]) -> Generated {
        let mut c = c.iter().copied().cycle();
        let mut pick = |n: u8| c.next().unwrap() % n;
        let nl = if pick(8) == 0 { "\r\n" } else { "\n" };
        let mut usual = true;
        let mut blocks: Vec<String> = Vec::new();
        blocks.push(format!("[project]{nl}name = \"demo\"{nl}"));
        if pick(2) == 0 {
            blocks.push(format!("[defaults]{nl}memory = \"128m\"{nl}pids = 64{nl}"));
        }
        for z in 0..1 + pick(3) {
            blocks.push(format!(
                "[zones.z{z}]{nl}egress = {}{nl}description = \"\"\"{nl}[services.fake]{nl}\"\"\"{nl}",
                pick(2) == 0
            ));
        }
        if pick(2) == 0 {
            blocks.push(format!(
                "[[flows]]{nl}from = \"z0\"{nl}to = \"z0\"{nl}ports = [{nl}  \"80\",{nl}]{nl}"
            ));
        }
        if pick(2) == 0 {
            blocks.push(format!("[secrets.s]{nl}"));
        }
        let others = blocks.len();
        // One in four specs has enough services to be read on two threads.
        let n = if pick(4) == 0 {
            PARALLEL_FROM as u8 + pick(8)
        } else {
            1 + pick(5)
        };
        let mut services: Vec<Vec<String>> = Vec::new();
        for i in 0..n {
            let name = format!("svc{i}");
            let mut main =
                format!("[services.{name}]{nl}image = \"busybox:1.36\"{nl}zones = [\"z0\"]{nl}");
            let mut subs = Vec::new();
            match pick(3) {
                0 => main.push_str(&format!(
                    "healthcheck = {{ cmd = [\"true\"], interval = \"5s\" }}{nl}"
                )),
                1 => subs.push(format!(
                    "[services.{name}.healthcheck]{nl}cmd = [{nl}  \"true\",{nl}]{nl}"
                )),
                _ => {}
            }
            match pick(3) {
                0 => main.push_str(&format!("environment = {{ A = \"1\", B = \"[x]\" }}{nl}")),
                1 => subs.push(format!(
                    "[services.{name}.environment]{nl}A = \"1\" # [services.x]{nl}"
                )),
                _ => {}
            }
            if pick(3) == 0 {
                main.push_str(&format!(
                    "unsafe.reason = \"why\"{nl}unsafe.root_user = true{nl}"
                ));
            }
            if pick(3) == 0 {
                main.push_str(&format!("command = ['''{nl}[services.{name}]{nl}''']{nl}"));
            }
            let mut run = vec![main];
            run.extend(subs);
            if pick(4) == 0 {
                // A sub-table before the service's own header.
                run.rotate_left(1);
            }
            services.push(run);
        }
        // Order of the services.
        for i in 0..services.len() {
            let j = pick(services.len() as u8) as usize;
            services.swap(i, j);
        }
        // A mistake in the first service's own table (where its keys are).
        let own = |run: &mut Vec<String>, line: &str| {
            let main = run
                .iter_mut()
                .find(|t| {
                    t.starts_with("[services.svc")
                        && t.lines()
                            .next()
                            .is_some_and(|l| l.matches('.').count() == 1)
                })
                .unwrap();
            main.push_str(line);
        };
        let mistake = pick(24);
        match mistake {
            6 => own(&mut services[0], &format!("image = {nl}")),
            7 => own(&mut services[0], &format!("imagee = \"x\"{nl}")),
            8 => own(&mut services[0], &format!("cpus = \"x\"{nl}")),
            _ => {}
        }
        usual &= !(6..=8).contains(&mistake);
        let mut runs: Vec<String> = services.iter().map(|r| r.concat()).collect();
        match mistake {
            0 if services.len() > 1 && services[0].len() > 1 => {
                // A service's last table after the other services.
                let detached = services[0].last().unwrap().clone();
                runs[0] = services[0][..services[0].len() - 1].concat();
                runs.push(detached);
                usual = false;
            }
            1 => {
                runs.insert(0, format!("[services]{nl}"));
                usual = false;
            }
            2 => {
                blocks[0].insert_str(0, &format!("services.extra.image = \"busybox:1.36\"{nl}"));
                usual = false;
            }
            3 => {
                blocks[0].insert_str(0, &format!("services = {{}}{nl}"));
                usual = false;
            }
            4 => {
                runs.push(format!(
                    "[services.\"quoted\"]{nl}image = \"busybox:1.36\"{nl}"
                ));
                usual = false;
            }
            5 => {
                let again = runs[0].clone();
                runs.push(again);
                usual = false;
            }
            9 => {
                runs.push(format!("[[services.arr]]{nl}"));
                usual = false;
            }
            _ => {}
        }
        // The other tables around the services.
        let mut order: Vec<String> = Vec::new();
        let before = 1 + pick(others as u8) as usize;
        order.extend(blocks.drain(..before));
        for r in runs {
            order.push(r);
            if !blocks.is_empty() && pick(3) == 0 {
                order.push(blocks.remove(0));
            }
        }
        order.extend(blocks);
        let mut text = String::new();
        if pick(3) == 0 {
            text.push_str(&format!("# a spec{nl}{nl}"));
        }
        for b in order {
            let indent = ["", "  ", "\t"][pick(3) as usize];
            for (k, line) in b.split_inclusive(nl).enumerate() {
                if k == 0 {
                    text.push_str(indent);
                }
                text.push_str(line);
            }
            if pick(2) == 0 {
                text.push_str(&format!("# between{nl}{nl}"));
            }
        }
        if pick(4) == 0 {
            text.truncate(text.trim_end().len());
        }
        Generated { text, usual }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn generated_specs_read_the_same(c in proptest::collection::vec(any::<u8>(), 48)) {
            let g = generate(&c);
            let took = agrees(&g.text).map_err(|e| TestCaseError::fail(format!("{e}\n{}", g.text)))?;
            prop_assert_eq!(took, g.usual, "{}", g.text);
            if g.usual {
                prop_assert!(whole(&g.text).is_ok());
            }
        }
    }
}
