//! Any bytes as a spec: parse, validate, plan and render for every target must never panic;
//! an accepted spec renders (compose always; the other targets render or refuse cleanly) and
//! renders the same bytes twice; every diagnostic renders with a documented code.
//!
//! Run: `cargo +nightly fuzz run spec fuzz/corpus/spec` (see fuzz/README.md).
#![no_main]

use std::path::PathBuf;

use hardgen::app::{self, SpecSource};
use hardgen::diagnostic::CODES;
use hardgen::targets::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The binary refuses non-UTF-8 files before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(raw) = hardgen::spec::parse(text) {
        let (_, diags) = hardgen::validate::validate(
            &raw,
            "fuzz.toml",
            &hardgen::validate::Options { strict: true, spec_dir: None },
        );
        for d in &diags {
            assert!(CODES.iter().any(|(c, _)| *c == d.code), "{}", d.code);
            if let Some(s) = &d.span {
                assert!(s.start <= s.end && s.end <= text.len(), "{}: {s:?}", d.code);
            }
            let _ = d.render("fuzz.toml", text);
        }
    }
    let src = SpecSource {
        path: PathBuf::from("fuzz.toml"),
        text: text.to_string(),
    };
    let mut err = Vec::new();
    let Some(model) = app::load(&src, false, &mut err) else {
        return;
    };
    let a = app::artifacts(&model, Target::Compose, &hardgen::layout::Layout::beside_spec(), &mut err).expect("an accepted spec renders");
    let b = app::artifacts(&model, Target::Compose, &hardgen::layout::Layout::beside_spec(), &mut err).expect("an accepted spec renders");
    assert!(a == b, "rendering is not deterministic");
    for t in [Target::Swarm, Target::Kubernetes] {
        let _ = app::artifacts(&model, t, &hardgen::layout::Layout::beside_spec(), &mut err);
    }
});
