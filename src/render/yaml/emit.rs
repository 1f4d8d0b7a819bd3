//! A `serde::Serializer` that writes block-style YAML straight into a `String`: the bytes
//! serde_yaml 0.9 (libyaml's emitter, ported to Rust) writes for the same value, with the
//! scalars a YAML 1.1 reader would misread quoted, at a fraction of its cost (libyaml's
//! emitter queues events, analyses every scalar twice and writes through a byte buffer:
//! about 170 instructions per byte of output).
//!
//! The layout rules are libyaml's (`yaml_emitter_emit_block_*`, `yaml_emitter_write_indent`,
//! `yaml_emitter_analyze_scalar`, `yaml_emitter_select_scalar_style` and the scalar writers
//! of unsafe-libyaml 0.2), with the settings serde_yaml uses: indentation 2, unlimited line
//! width (no folding), unicode output. The state kept is the part of libyaml's that decides
//! a byte: the current indentation, whether only indentation is on the current line
//! (`indention`), the column while it is, and whether the last character was whitespace.
//!
//! What this emitter does not write the way serde_yaml would, it refuses with
//! [`Error::Unsupported`] and the caller serialises that document with serde_yaml instead
//! (`super::document`): keys that libyaml writes as complex keys (`? key`: longer than 128
//! bytes, multi-line, or a collection), strings with U+2028/U+2029 (line breaks libyaml
//! writes raw inside quoted and literal scalars), enum variants with data (serde_yaml writes
//! them as `!Tag`s), a `char` that is a line break, and a single-entry map whose key is
//! written through `Display` and starts with `!` (serde_yaml takes it for a tag). hardgen's
//! own artifacts contain none of these.

use serde::ser::{self, Serialize};
use std::fmt::{self, Display};

/// Why a value was not written.
#[derive(Debug)]
pub enum Error {
    /// Something serde_yaml writes in a way this emitter does not reproduce (see the module
    /// documentation): serialise the document with serde_yaml.
    Unsupported(&'static str),
    /// An error of the value's own `Serialize` implementation.
    Custom(String),
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported(what) => write!(f, "not written by the fast YAML emitter: {what}"),
            Error::Custom(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Error>;

/// Appends `value` as one YAML document to `out`, as `serde_yaml::to_string` would write
/// it with YAML 1.1's implicit types quoted. On an error `out` holds a partial document:
/// the caller truncates it.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut String) -> Result {
    write_in(value, 0, out)
}

/// `write`, with every line but the empty ones of a block scalar `margin` spaces further in:
/// the document as a block nested in another (`super::nested_entry`). The margin is outside
/// the layout: libyaml's rules see the columns of the document written on its own.
pub fn write_in<T: Serialize + ?Sized>(value: &T, margin: usize, out: &mut String) -> Result {
    spaces(out, margin);
    let mut e = Emitter {
        out,
        margin,
        bare: false,
        indent: -1,
        column: 0,
        whitespace: true,
        indention: true,
        pos: Pos::Root,
    };
    value.serialize(&mut e)?;
    // The document end: libyaml's write_indent at indentation 0.
    e.indent = -1;
    if e.needs_break() {
        e.out.push('\n');
    }
    Ok(())
}

/// Where the node being serialised goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pos {
    Root,
    /// A block mapping's key (libyaml's simple key context).
    Key,
    /// A block mapping's value (libyaml's mapping context, after the `:`).
    Value,
    /// A block sequence's item (after the `-`).
    Item,
}

pub struct Emitter<'a> {
    out: &'a mut String,
    /// Spaces written at the start of each line before the layout's own (see `write_in`).
    margin: usize,
    /// The current line was begun by a block scalar's last line break and is still empty:
    /// its margin is written only if something is written on it.
    bare: bool,
    /// libyaml's `indent`: -1 before the root collection opens.
    indent: i32,
    /// The column; only meaningful while `indention`.
    column: i32,
    /// The last character written is whitespace (or nothing was written).
    whitespace: bool,
    /// Only indentation and `-` indicators are on the current line.
    indention: bool,
    pos: Pos,
}

const SPACES: &str = "                                                                ";

fn spaces(out: &mut String, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

impl Emitter<'_> {
    /// libyaml's write_indent: whether the line must be broken before indenting.
    fn needs_break(&self) -> bool {
        let indent = self.indent.max(0);
        !self.indention || self.column > indent || (self.column == indent && !self.whitespace)
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if self.needs_break() {
            self.out.push('\n');
            spaces(self.out, self.margin);
            self.column = 0;
        } else if self.bare {
            spaces(self.out, self.margin);
        }
        self.bare = false;
        self.pad(indent);
        self.whitespace = true;
        self.indention = true;
    }

    /// Spaces up to `indent` (the column is known: indention holds).
    fn pad(&mut self, indent: i32) {
        spaces(self.out, (indent - self.column).max(0) as usize);
        self.column = self.column.max(indent);
    }

    /// The space libyaml writes before an indicator or a scalar that needs whitespace.
    fn space(&mut self) {
        if !self.whitespace {
            self.out.push(' ');
        }
    }

    /// A scalar written as is (numbers, booleans, null, plain strings).
    fn plain(&mut self, text: &str) -> Result {
        if self.pos == Pos::Key && text.len() > 128 {
            return Err(Error::Unsupported("a key longer than 128 bytes"));
        }
        if !text.is_empty() {
            self.space();
        }
        self.out.push_str(text);
        self.whitespace = false;
        self.indention = false;
        Ok(())
    }

    /// A string (`quote`: a char, which serde_yaml always asks to be single-quoted).
    fn string(&mut self, v: &str, quote: bool) -> Result {
        // Most of hardgen's strings are names, paths, options and sentences: settled by a
        // pass over their bytes, without the analysis (a long key goes on to be refused by
        // it).
        if quote || (self.pos == Pos::Key && v.len() > 128) || !obviously_plain(v) {
            return self.styled(v, quote);
        }
        self.plain(v)
    }

    /// A string in the style `full_style` selects. Not inlined, so that the common strings'
    /// path (`string`) stays small.
    #[inline(never)]
    fn styled(&mut self, v: &str, quote: bool) -> Result {
        match full_style(v, quote, self.pos == Pos::Key)? {
            Style::Plain => self.plain(v),
            Style::Single => {
                self.single(v);
                Ok(())
            }
            Style::Double => {
                self.double(v);
                Ok(())
            }
            Style::Literal => {
                self.literal(v);
                Ok(())
            }
        }
    }

    /// serde_yaml's floats: ryu's shortest form of `v`, `.inf`, `-.inf` or `.nan`.
    fn float<F: ryu::Float>(&mut self, v: F, wide: f64) -> Result {
        let mut buffer = ryu::Buffer::new();
        self.plain(if wide.is_nan() {
            ".nan"
        } else if wide.is_infinite() {
            if wide > 0.0 {
                ".inf"
            } else {
                "-.inf"
            }
        } else {
            buffer.format_finite(v)
        })
    }

    /// A single-quoted scalar without line breaks.
    fn single(&mut self, v: &str) {
        self.space();
        self.out.push('\'');
        let mut rest = v;
        while let Some(i) = rest.find('\'') {
            self.out.push_str(&rest[..=i]);
            self.out.push('\'');
            rest = &rest[i + 1..];
        }
        self.out.push_str(rest);
        self.out.push('\'');
        self.whitespace = false;
        self.indention = false;
    }

    /// yaml_emitter_write_double_quoted_scalar with an unlimited width.
    fn double(&mut self, v: &str) {
        self.space();
        self.out.push('"');
        let mut start = 0;
        for (i, c) in v.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\0' => "\\0",
                '\x07' => "\\a",
                '\x08' => "\\b",
                '\t' => "\\t",
                '\n' => "\\n",
                '\x0B' => "\\v",
                '\x0C' => "\\f",
                '\r' => "\\r",
                '\x1B' => "\\e",
                '\u{85}' => "\\N",
                '\u{2028}' => "\\L",
                '\u{2029}' => "\\P",
                c if printable(c) && c != '\u{FEFF}' => continue,
                _ => "",
            };
            self.out.push_str(&v[start..i]);
            start = i + c.len_utf8();
            if escape.is_empty() {
                let n = c as u32;
                let (letter, width) = if n <= 0xFF {
                    ('x', 2)
                } else if n <= 0xFFFF {
                    ('u', 4)
                } else {
                    ('U', 8)
                };
                self.out.push('\\');
                self.out.push(letter);
                for k in (0..width).rev() {
                    let digit = (n >> (4 * k)) & 0xF;
                    self.out
                        .push(char::from_digit(digit, 16).map_or('0', |d| d.to_ascii_uppercase()));
                }
            } else {
                self.out.push_str(escape);
            }
        }
        self.out.push_str(&v[start..]);
        self.out.push('"');
        self.whitespace = false;
        self.indention = false;
    }

    /// yaml_emitter_write_literal_scalar: `|`, the hints, then the text's lines indented.
    fn literal(&mut self, v: &str) {
        let indent = if self.indent < 0 { 2 } else { self.indent + 2 };
        self.space();
        self.out.push('|');
        let b = v.as_bytes();
        if matches!(b.first(), Some(b' ' | b'\n')) {
            self.out.push('2');
        }
        // Breaks are only `\n` here (analyze refuses the others or makes them double-quoted).
        let chomp = match b {
            [.., b'\n', b'\n'] | [b'\n'] => "+",
            [.., b'\n'] => "",
            _ => "-",
        };
        self.out.push_str(chomp);
        self.out.push('\n');
        let mut first = true;
        for line in v.split('\n') {
            if !first {
                self.out.push('\n');
            }
            first = false;
            if !line.is_empty() {
                spaces(self.out, self.margin + indent as usize);
                self.out.push_str(line);
            }
        }
        self.whitespace = true;
        if v.ends_with('\n') {
            self.indention = true;
            self.column = 0;
            self.bare = true;
        } else {
            self.indention = false;
        }
    }

    /// `-` of a block sequence item.
    fn dash(&mut self) {
        self.space();
        self.out.push('-');
        self.column += 1;
        self.whitespace = false;
    }

    /// `:` after a block mapping's simple key.
    fn colon(&mut self) {
        self.out.push(':');
        self.whitespace = false;
        self.indention = false;
    }

    /// An empty collection: libyaml writes it in flow style.
    fn empty(&mut self, text: &str) -> Result {
        if self.pos == Pos::Key {
            return Err(Error::Unsupported("a collection as a key"));
        }
        self.space();
        self.out.push_str(text);
        self.whitespace = false;
        self.indention = false;
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    /// serde_yaml's ScalarStyle::Any: plain if libyaml allows it.
    Any,
    /// Strings that YAML 1.2 reads as another type, and chars.
    Single,
    /// Strings with `\n`.
    Literal,
}

/// Whether `b` could be a number or timestamp that starts with a digit (see `numeric`):
/// `numeric` bytes only, one dot at most.
fn number_like(b: &[u8]) -> bool {
    let mut dots = 0;
    for &c in b {
        if !numeric(c) {
            return false;
        }
        dots += usize::from(c == b'.');
    }
    dots < 2
}

/// The bytes of the numbers and timestamps that start with a digit in YAML 1.2 (serde_yaml's
/// integers, including `0x`, `0o` and `0b` ones, and Rust's floats) and YAML 1.1 (PyYAML's
/// int, float and timestamp: also `_`, base-60 `:`, the date's `-`, the time's `T`, `t`,
/// blanks and `Z`, the offset's sign).
fn numeric(c: u8) -> bool {
    matches!(
        c,
        b'0'..=b'9'
            | b'a'..=b'f'
            | b'A'..=b'F'
            | b'x'
            | b'o'
            | b'_'
            | b'.'
            | b':'
            | b'+'
            | b'-'
            | b'T'
            | b't'
            | b'Z'
            | b' '
            | b'\t'
    )
}

/// Whether, for some `k`, the pair `(x[k], y[k])` is `: ` or ` #`, or `y[k]` is not printable
/// ASCII: conditions 2 and 3 of `obviously_plain` on sixteen pairs of neighbouring bytes,
/// without branches. Not inlined: on its own, the compiler writes it as a few 16-byte vector
/// instructions; inlined into `odd_pair`'s loop, as hundreds that shuffle bytes.
#[inline(never)]
fn odd_pairs(x: &[u8; 16], y: &[u8; 16]) -> bool {
    let mut odd = false;
    for k in 0..16 {
        let (x, y) = (x[k], y[k]);
        odd |= !(b' '..=b'~').contains(&y) | (x == b':') & (y == b' ') | (x == b' ') & (y == b'#');
    }
    odd
}

/// The 16 bytes of `b` from `i` and the 16 after them from `i + 1`.
fn pairs_at(b: &[u8], i: usize) -> (&[u8; 16], &[u8; 16]) {
    let x = b[i..i + 16].try_into().expect("16 bytes");
    let y = b[i + 1..i + 17].try_into().expect("16 bytes");
    (x, y)
}

/// Whether two neighbouring bytes of `b` are `: ` or ` #`, or a byte after the first is not
/// printable ASCII: `odd_pairs` on every pair, sixteen at a time.
fn odd_pair(b: &[u8]) -> bool {
    if b.len() > 16 {
        let mut odd = false;
        let mut i = 0;
        while i + 17 < b.len() {
            let (x, y) = pairs_at(b, i);
            odd |= odd_pairs(x, y);
            i += 16;
        }
        // The last pairs, again some of the ones before.
        let (x, y) = pairs_at(b, b.len() - 17);
        odd | odd_pairs(x, y)
    } else {
        let mut padded = PADDING;
        padded[..b.len()].copy_from_slice(b);
        let (x, y) = pairs_at(&padded, 0);
        odd_pairs(x, y)
    }
}

/// What `odd_pair` pads a short slice with: letters, which pair with nothing odd; not all
/// one letter, which the compiler would write as a call to `memset`.
const PADDING: [u8; 17] = *b"abcdefghijklmnopq";

/// How a string is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The style of a string from the whole of libyaml's analysis and selection, then quoted
/// where a YAML 1.1 reader would misread it plain (`key`: a mapping's key).
pub(super) fn full_style(v: &str, quote: bool, key: bool) -> Result<Style> {
    let a = analyze(v)?;
    // What serde_yaml's `serialize_str` asks libyaml for: a literal block for text with
    // `\n`, single quotes for what its own deserializer (YAML 1.2's core schema) reads as
    // null, a boolean, an integer or a float, and for digits with a leading zero;
    // otherwise any style.
    let requested = if a.newline {
        Requested::Literal
    } else if quote || yaml12_typed(v) {
        Requested::Single
    } else {
        Requested::Any
    };
    if key && (a.breaks || v.len() > 128) {
        return Err(Error::Unsupported(
            "a multi-line key or one longer than 128 bytes",
        ));
    }
    // yaml_emitter_select_scalar_style, for block context.
    let style = match requested {
        Requested::Literal if a.literal && !key => Style::Literal,
        Requested::Literal => Style::Double,
        Requested::Single | Requested::Any => {
            let mut style = if requested == Requested::Single {
                Style::Single
            } else {
                Style::Plain
            };
            if style == Style::Plain && (!a.plain || (v.is_empty() && key)) {
                style = Style::Single;
            }
            if style == Style::Single && !a.single {
                style = Style::Double;
            }
            style
        }
    };
    match style {
        Style::Plain if yaml11_misread(v) => Ok(Style::Single),
        Style::Single if a.breaks => {
            Err(Error::Unsupported("a line break in a single-quoted scalar"))
        }
        style => Ok(style),
    }
}

/// A string `full_style` certainly writes plain (unless it is a char or a key longer than
/// 128 bytes), decided in a pass or two over its bytes; `false` says nothing. It holds when:
///
/// 1. `v` starts with an ASCII letter, `/`, `_`, `./` or `../`, or with a digit and has a
///    byte no number or timestamp has (not `numeric`: `8080/tcp`, `256m`) or two dots
///    (`10.0.2.2`);
/// 2. every byte after the first is printable ASCII or a space (`' '..='~'`);
/// 3. no `: ` or ` #` occurs, and `v` does not end with a space or a `:`;
/// 4. `v` is none of the words below.
///
/// Then, in `full_style` (the tests check it on generated strings and edge cases):
/// - `analyze` takes its printable-ASCII branch (1, 2) and finds `plain`: neither first nor
///   last byte is a space (1, 3); `block_indicators_ascii` finds nothing, as `v` starts
///   with neither `---` nor `...` nor an indicator (1), and libyaml's other block
///   indicators are a `:` followed by a space or the end and a `#` after whitespace (3);
///   no line break, so `requested` is not `Literal` and the key test only refuses a long
///   key, which `Emitter::string` leaves to `full_style`.
/// - `yaml12_typed` is false: a letter starts only its null and boolean words (4); `/`
///   and `_` start nothing it matches; after a `.`, its integers and floats (Rust's
///   grammar, `.inf`, `.nan`) need a digit or a letter, not `/` or `.`; after a digit,
///   they are made of `numeric` bytes only (digits, `0x`/`0o`/`0b` and hex digits, `.`,
///   an exponent's `e`/`E` and sign), with one dot at most (a float's).
/// - `yaml11_misread` is false: `yaml11_ambiguous` reads a sexagesimal number (digits
///   before every `:`), an underscored number (a digit first, then digits and `_`) or a
///   boolean word (4); `yaml11_typed` reads only what starts with a digit, a sign, `.`, `<`
///   or `=`, after a `.` a digit, `inf` or `nan`, and after a digit `numeric` bytes only,
///   with one dot at most (a float's, or a timestamp's fraction): PyYAML's int, float and
///   timestamp patterns, written out at `yaml11_int`, `yaml11_float` and
///   `yaml11_timestamp`.
pub(super) fn obviously_plain(v: &str) -> bool {
    let b = v.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    let start = first.is_ascii_alphabetic()
        || first == b'/'
        || first == b'_'
        || b.starts_with(b"./")
        || b.starts_with(b"../")
        || (first.is_ascii_digit() && !number_like(b));
    if !start || last == b' ' || last == b':' {
        return false;
    }
    if odd_pair(b) {
        return false;
    }
    not_a_word(v)
}

/// Condition 4 of `obviously_plain`: `v` is not YAML 1.2's null or a boolean (yaml12_typed)
/// nor YAML 1.1's booleans (super::yaml11_ambiguous), none longer than 5 bytes.
fn not_a_word(v: &str) -> bool {
    v.len() > 5
        || !(matches!(
            v,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        ) || super::yaml11_boolean(v))
}

/// A struct's field name that `Emitter::string` writes plain as a key, decided without its
/// pass over pairs of bytes (every struct field of every rendered value is a key): at most
/// 128 bytes of lowercase ASCII letters, digits and `_`, starting with a letter, and not one
/// of the words. Such a name meets every condition of `obviously_plain` (1: a letter first;
/// 2 and 3: no byte but printable ones, no space, no `:`; 4: `not_a_word`), and a key of at
/// most 128 bytes that is obviously plain is written by `plain`. Other names (`rename`d ones:
/// `io.hardgen.seccomp`, `macro`...) take `serialize_str` as before.
pub(super) fn plain_field_name(k: &str) -> bool {
    let b = k.as_bytes();
    b.len() <= 128
        && b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && not_a_word(k)
}

/// What yaml_emitter_analyze_scalar concludes, for block context.
struct Analysis {
    plain: bool,
    single: bool,
    literal: bool,
    /// Any line break (libyaml's `multiline`).
    breaks: bool,
    /// A `\n` (serde_yaml asks for a literal block).
    newline: bool,
}

/// libyaml's IS_PRINTABLE (on a whole character).
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{10000}'..='\u{10FFFF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's IS_BLANKZ: space, tab, a line break or NUL (the end of the string counts too).
fn blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(c, ' ' | '\t' | '\0') || is_break(c),
    }
}

/// yaml_emitter_analyze_scalar.
fn analyze(v: &str) -> Result<Analysis> {
    let b = v.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return Ok(Analysis {
            plain: true,
            single: true,
            literal: false,
            breaks: false,
            newline: false,
        });
    };
    // The common case, in one pass the compiler vectorises: printable ASCII and spaces (no
    // breaks, nothing special), where only `:` and `#` can be block indicators after the
    // first character.
    let mut other = false;
    for c in b {
        other |= !(b' '..=b'~').contains(c);
    }
    if !other {
        return Ok(Analysis {
            plain: first != b' ' && last != b' ' && !block_indicators_ascii(b),
            single: true,
            literal: last != b' ',
            breaks: false,
            newline: false,
        });
    }
    let mut block_indicators = b.starts_with(b"---") || b.starts_with(b"...");
    let (mut special, mut breaks) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut chars = v.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = blankz(next);
        if first {
            if matches!(
                c,
                '#' | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            ) || (matches!(c, '?' | ':' | '-') && followed_by_whitespace)
            {
                block_indicators = true;
            }
        } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if matches!(c, '\u{2028}' | '\u{2029}') {
            return Err(Error::Unsupported("U+2028 or U+2029 in a string"));
        }
        if !printable(c) {
            special = true;
        }
        let last = next.is_none();
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = blankz(Some(c));
        first = false;
    }
    let mut a = Analysis {
        plain: true,
        single: true,
        literal: true,
        breaks,
        newline: v.contains('\n'),
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain = false;
    }
    if trailing_space {
        a.literal = false;
    }
    if break_space {
        a.plain = false;
        a.single = false;
    }
    if space_break || special {
        a.plain = false;
        a.single = false;
        a.literal = false;
    }
    if breaks || block_indicators {
        a.plain = false;
    }
    Ok(a)
}

/// libyaml's block indicators in printable ASCII and spaces.
fn block_indicators_ascii(b: &[u8]) -> bool {
    if b.starts_with(b"---") || b.starts_with(b"...") {
        return true;
    }
    let followed = |i: usize| b.get(i + 1).is_none_or(|&c| c == b' ');
    match b[0] {
        b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => return true,
        b'?' | b':' | b'-' if followed(0) => return true,
        _ => {}
    }
    // After the first byte, `: ` or a final `:`, and ` #` (a `: ` at the first byte was
    // found above; in printable ASCII, `odd_pair` finds nothing else).
    (b.len() > 1 && b[b.len() - 1] == b':') || odd_pair(b)
}

/// serde_yaml's `visit_untagged_scalar` finding something else than a string (serde_yaml
/// 0.9's de.rs: parse_null, parse_bool, visit_int, digits_but_not_number, parse_f64).
fn yaml12_typed(v: &str) -> bool {
    // Rust's finite floats and integers start with a sign, a digit or a dot.
    match v.as_bytes().first() {
        None => true,
        Some(b'0'..=b'9' | b'+' | b'-' | b'.') => {
            parse_int(v) || digits_but_not_number(v) || parse_f64(v)
        }
        Some(b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F') => matches!(
            v,
            "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        ),
        _ => false,
    }
}

fn digits_but_not_number(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    v.len() > 1 && v.starts_with('0') && v[1..].bytes().all(|b| b.is_ascii_digit())
}

/// serde_yaml's visit_int: parse_unsigned_int or parse_negative_int (u128 and i128 hold
/// whatever u64 and i64 do).
fn parse_int(v: &str) -> bool {
    parse_unsigned_int(v) || parse_negative_int(v)
}

fn parse_unsigned_int(scalar: &str) -> bool {
    let unpositive = scalar.strip_prefix('+').unwrap_or(scalar);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return false;
            }
            if u128::from_str_radix(rest, radix).is_ok() {
                return true;
            }
        }
    }
    !unpositive.starts_with(['+', '-'])
        && !digits_but_not_number(scalar)
        && unpositive.parse::<u128>().is_ok()
}

fn parse_negative_int(scalar: &str) -> bool {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = scalar.strip_prefix(prefix) {
            if i128::from_str_radix(&format!("-{rest}"), radix).is_ok() {
                return true;
            }
        }
    }
    !digits_but_not_number(scalar) && scalar.parse::<i128>().is_ok()
}

/// serde_yaml's parse_f64: `.inf`, `.nan` spellings, or Rust's float syntax, finite.
fn parse_f64(v: &str) -> bool {
    let unpositive = match v.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return false,
        Some(u) => u,
        None => v,
    };
    matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(v, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A plain scalar a YAML 1.1 reader misreads: `super::yaml11_ambiguous` (today's rules,
/// which start with a sign, a digit or a boolean's letter) or `yaml11_typed`.
fn yaml11_misread(v: &str) -> bool {
    match v.as_bytes().first() {
        Some(b'0'..=b'9' | b'+' | b'-' | b'y' | b'Y' | b'n' | b'N' | b'o' | b'O') => {
            super::yaml11_ambiguous(v) || yaml11_typed(v)
        }
        Some(b'.' | b'<' | b'=') => yaml11_typed(v),
        _ => false,
    }
}

/// A plain scalar PyYAML (YAML 1.1's implicit types, `yaml/resolver.py`) reads as another
/// type than a string, besides null and the booleans: int (`0b`, octal `0`, `_`, `0x`, base
/// 60), float (`_`, base 60, `.inf`, `.nan`), timestamp, merge key `<<`, value `=`. (Null,
/// `true` and `false` are YAML 1.2's, quoted already; `super::yaml11_ambiguous` has the
/// booleans, with the spec's `y`/`n`, and over-quotes `1000:1000`.)
fn yaml11_typed(v: &str) -> bool {
    let b = v.as_bytes();
    match b.first() {
        Some(b'<') => v == "<<",
        Some(b'=') => v == "=",
        Some(&c @ (b'0'..=b'9' | b'+' | b'-' | b'.')) => {
            yaml11_int(b) || yaml11_float(b) || (c.is_ascii_digit() && yaml11_timestamp(b))
        }
        _ => false,
    }
}

/// Skips bytes of `set` from `i`: the index after them.
fn skip(b: &[u8], mut i: usize, set: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && set(b[i]) {
        i += 1;
    }
    i
}

fn digit_(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// `(?::[0-5]?[0-9])+` from `i`: the index after it, if there is at least one.
fn base60(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    while b.get(i) == Some(&b':') {
        let d = skip(b, i + 1, |c| c.is_ascii_digit());
        let n = d - (i + 1);
        if n == 0 || n > 2 || (n == 2 && b[i + 1] > b'5') {
            break;
        }
        i = d;
    }
    (i > start).then_some(i)
}

/// `^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+
/// |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`
fn yaml11_int(b: &[u8]) -> bool {
    let b = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    let all = |rest: &[u8], f: fn(u8) -> bool| !rest.is_empty() && rest.iter().all(|&c| f(c));
    if let Some(rest) = b.strip_prefix(b"0b") {
        return all(rest, |c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(rest) = b.strip_prefix(b"0x") {
        return all(rest, |c| c.is_ascii_hexdigit() || c == b'_');
    }
    match b.first() {
        Some(b'0') => b.len() == 1 || all(&b[1..], |c| matches!(c, b'0'..=b'7' | b'_')),
        Some(b'1'..=b'9') => {
            let i = skip(b, 1, digit_);
            i == b.len() || base60(b, i) == Some(b.len())
        }
        _ => false,
    }
}

/// `^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
/// |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`
fn yaml11_float(b: &[u8]) -> bool {
    let exponent = |i: usize| {
        i == b.len()
            || (matches!(b[i], b'e' | b'E')
                && matches!(b.get(i + 1), Some(b'-' | b'+'))
                && i + 2 < b.len()
                && b[i + 2..].iter().all(u8::is_ascii_digit))
    };
    if matches!(b, b".nan" | b".NaN" | b".NAN") {
        return true;
    }
    // `.5`, `.5e+3` (no sign).
    if b.first() == Some(&b'.') && b.get(1).is_some_and(u8::is_ascii_digit) {
        return exponent(skip(b, 1, digit_));
    }
    let s = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    if matches!(&b[s..], b".inf" | b".Inf" | b".INF") {
        return true;
    }
    if !b.get(s).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let i = skip(b, s + 1, digit_);
    if b.get(i) == Some(&b'.') {
        return exponent(skip(b, i + 1, digit_));
    }
    match base60(b, i) {
        Some(j) if b.get(j) == Some(&b'.') => skip(b, j + 1, digit_) == b.len(),
        _ => false,
    }
}

/// `^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}
/// :[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$`
fn yaml11_timestamp(b: &[u8]) -> bool {
    // `n` to `m` digits from `i`: the index after them.
    let digits = |i: usize, n: usize, m: usize| {
        let j = skip(b, i, |c| c.is_ascii_digit());
        (j - i >= n && j - i <= m).then_some(j)
    };
    let date = || {
        let i = digits(0, 4, 4)?;
        (b.get(i) == Some(&b'-')).then_some(())?;
        let j = digits(i + 1, 1, 2)?;
        (b.get(j) == Some(&b'-')).then_some(())?;
        let k = digits(j + 1, 1, 2)?;
        Some((k, k - (j + 1) == 2 && j - (i + 1) == 2))
    };
    let Some((i, short)) = date() else {
        return false;
    };
    if i == b.len() {
        return short;
    }
    let blank = |c: u8| c == b' ' || c == b'\t';
    let i = if matches!(b[i], b'T' | b't') {
        i + 1
    } else {
        let j = skip(b, i, blank);
        if j == i {
            return false;
        }
        j
    };
    let time = || {
        let i = digits(i, 1, 2)?;
        (b.get(i) == Some(&b':')).then_some(())?;
        let i = digits(i + 1, 2, 2)?;
        (b.get(i) == Some(&b':')).then_some(())?;
        let mut i = digits(i + 1, 2, 2)?;
        if b.get(i) == Some(&b'.') {
            i = skip(b, i + 1, |c| c.is_ascii_digit());
        }
        Some(i)
    };
    let Some(mut i) = time() else {
        return false;
    };
    if i == b.len() {
        return true;
    }
    i = skip(b, i, blank);
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'-' | b'+') => {
            let Some(j) = digits(i + 1, 1, 2) else {
                return false;
            };
            j == b.len() || (b[j] == b':' && digits(j + 1, 2, 2) == Some(b.len()))
        }
        _ => false,
    }
}

/// serde_yaml's integers: their decimal digits (itoa's, as serde_yaml's).
macro_rules! integers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result {
            self.plain(itoa::Buffer::new().format(v))
        }
    )*};
}

/// A sequence or mapping node (never a key: libyaml writes it as a complex key).
fn compound<'s, 'a>(em: &'s mut Emitter<'a>, map: bool) -> Result<Compound<'s, 'a>> {
    if em.pos == Pos::Key {
        return Err(Error::Unsupported("a collection as a key"));
    }
    Ok(Compound {
        pos: em.pos,
        saved: em.indent,
        first: true,
        map,
        em,
    })
}

impl<'s, 'a> ser::Serializer for &'s mut Emitter<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result {
        self.plain(if v { "true" } else { "false" })
    }
    integers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );
    fn serialize_f32(self, v: f32) -> Result {
        self.float(v, v.into())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.float(v, v)
    }
    fn serialize_char(self, v: char) -> Result {
        if is_break(v) {
            return Err(Error::Unsupported("a line break as a char"));
        }
        self.string(v.encode_utf8(&mut [0; 4]), true)
    }
    fn serialize_str(self, v: &str) -> Result {
        self.string(v, false)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result {
        Err(Error::Unsupported("bytes"))
    }
    fn serialize_none(self) -> Result {
        self.plain("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.plain("null")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.plain("null")
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Error::Unsupported("an enum variant with data (a YAML tag)"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'s, 'a>> {
        compound(self, false)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'s, 'a>> {
        compound(self, false)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'s, 'a>> {
        compound(self, false)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::Unsupported("an enum variant with data (a YAML tag)"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'s, 'a>> {
        compound(self, true)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'s, 'a>> {
        compound(self, true)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::Unsupported("an enum variant with data (a YAML tag)"))
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        let s = value.to_string();
        if s.starts_with('!') {
            // serde_yaml reads `!x` written through Display as a tag in some positions.
            return Err(Error::Unsupported("a Display string starting with `!`"));
        }
        self.serialize_str(&s)
    }
}

/// A block sequence or mapping, opened at its first element (an empty one is `[]`/`{}`).
pub struct Compound<'s, 'a> {
    em: &'s mut Emitter<'a>,
    /// Where the collection itself goes.
    pos: Pos,
    /// The indentation to restore at its end.
    saved: i32,
    first: bool,
    map: bool,
}

impl Compound<'_, '_> {
    /// The next entry's line: opens the collection at the first (libyaml's
    /// increase_indent; a sequence that is a mapping's value is not indented), then breaks
    /// the line and indents.
    fn next_entry(&mut self) {
        let em = &mut *self.em;
        if self.first {
            self.first = false;
            em.indent = if em.indent < 0 {
                0
            } else if !self.map && self.pos == Pos::Value {
                em.indent
            } else {
                em.indent + 2
            };
        }
        em.write_indent();
    }

    fn finish(self) -> Result {
        if self.first {
            self.em.pos = self.pos;
            self.em.empty(if self.map { "{}" } else { "[]" })
        } else {
            self.em.indent = self.saved;
            Ok(())
        }
    }

    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.next_entry();
        self.em.dash();
        self.em.pos = Pos::Item;
        value.serialize(&mut *self.em)
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.next_entry();
        self.em.pos = Pos::Key;
        key.serialize(&mut *self.em)
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.em.colon();
        self.em.pos = Pos::Value;
        value.serialize(&mut *self.em)
    }
}

/// serde's three sequence-like traits: items of a block sequence.
macro_rules! sequence_like {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.item(value)
            }
            fn end(self) -> Result {
                self.finish()
            }
        }
    )*};
}

sequence_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.value(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        if plain_field_name(key) {
            // What `self.key(key)` writes for such a name (see `plain_field_name`).
            self.next_entry();
            self.em.pos = Pos::Key;
            self.em.plain(key)?;
        } else {
            self.key(key)?;
        }
        self.value(value)
    }
    fn end(self) -> Result {
        self.finish()
    }
}
