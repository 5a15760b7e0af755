//! Units of measure, for checking that model equations are dimensionally consistent.
//!
//! A [`Unit`] is a product of named *base units* raised to nonzero integer powers, e.g.
//! `GBP/(bed_day*people)` is `GBP^1 * bed_day^-1 * people^-1`. There is **no scale
//! conversion**: every name is its own base unit, so `year` and `day` are different
//! dimensions and `year` is not `365*day`. Scale factors belong in the equations (a constant
//! `days_per_year` with units `day/year`), where they can be seen and checked.
//!
//! # Unit expressions
//!
//! [`Unit::parse`] reads the small unit language used in model files:
//!
//! * names: `[A-Za-z_][A-Za-z0-9_]*`, e.g. `people`, `GBP`, `bed_day`, `FTE`, `QALY`;
//! * `1` (dimensionless, mostly as in `1/year`); no other numbers are allowed;
//! * `*` and `/`, evaluated left to right like arithmetic, so `a/b*c` means `(a/b)*c`
//!   (write `a/(b*c)` for two denominators);
//! * `^` followed by an integer exponent, optionally negative: `year^2`, `year^-1`,
//!   `year^(-1)`; `^` binds tighter than `*` and `/`, so `1/year^2` is `1/(year^2)`;
//! * parentheses, and spaces anywhere between tokens;
//! * the empty (or all-blank) text, which means dimensionless.
//!
//! Exponents that cancel are dropped: `year/year` is dimensionless, `people*year/year` is
//! `people`.
//!
//! # Name normalisation (aliases)
//!
//! Names are case-sensitive (`GBP` and `gbp` are different units), except that a few common
//! spellings are mapped to one canonical base unit, so that `people/years` and
//! `persons/yr` agree:
//!
//! | written as                                   | canonical base unit |
//! |----------------------------------------------|---------------------|
//! | `year`, `years`, `yr`, `yrs`                 | `year`              |
//! | `month`, `months`                            | `month`             |
//! | `week`, `weeks`                              | `week`              |
//! | `day`, `days`                                | `day`               |
//! | `hour`, `hours`, `hr`, `hrs`                 | `hour`              |
//! | `minute`, `minutes`, `min`, `mins`           | `minute`            |
//! | `second`, `seconds`, `sec`, `secs`, `s`      | `second`            |
//! | `person`, `persons`, `people`                | `people`            |
//! | `dimensionless`, `dmnl`, `unitless`, `fraction`, `1` | (dimensionless) |
//!
//! Only these exact (lower-case) spellings are aliases. `percent` is *not* special: it is an
//! ordinary base unit, because a percentage is 100 times a fraction and this module does no
//! scaling. The canonical time units are listed in [`TIME_UNITS`].
//!
//! # Display
//!
//! A unit displays canonically: base units in sorted (byte) order, positive exponents first
//! joined by `*`, then `/` and the negative ones (parenthesised when there are two or
//! more): `people/year`, `1/year`, `year^2`, `GBP/(bed_day*people)`, `dimensionless`. The
//! displayed text always parses back to the same unit.
//!
//! # Inference
//!
//! [`Inferred`] is the unit of an expression during inference: a bare number literal is
//! [`Inferred::Any`] and adopts whatever unit its context needs. [`mismatch_hint`] turns a
//! mismatch between two units into a short, actionable suggestion.

use std::collections::BTreeMap;
use std::fmt;

/// The canonical time base units. A unit that is exactly one of these (exponent 1) is a
/// "time unit" (see [`is_time_unit`]).
pub const TIME_UNITS: [&str; 7] = ["year", "month", "week", "day", "hour", "minute", "second"];

/// Maximum nesting depth of parentheses in a unit expression (guards against stack
/// exhaustion on hostile input; real units nest one or two levels).
const MAX_DEPTH: usize = 64;

/// A unit: base-unit name -> nonzero integer exponent, kept sorted by name.
///
/// The default value is dimensionless. Two units are equal exactly when they have the same
/// base units with the same exponents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Unit {
    /// Invariant: no zero exponents, no dimensionless alias names as keys.
    exps: BTreeMap<String, i32>,
}

/// What a name written in a unit expression stands for.
enum Alias {
    Dimensionless,
    Base(&'static str),
    Verbatim,
}

fn alias(name: &str) -> Alias {
    match name {
        "" | "1" | "dimensionless" | "dmnl" | "unitless" | "fraction" => Alias::Dimensionless,
        "year" | "years" | "yr" | "yrs" => Alias::Base("year"),
        "month" | "months" => Alias::Base("month"),
        "week" | "weeks" => Alias::Base("week"),
        "day" | "days" => Alias::Base("day"),
        "hour" | "hours" | "hr" | "hrs" => Alias::Base("hour"),
        "minute" | "minutes" | "min" | "mins" => Alias::Base("minute"),
        "second" | "seconds" | "sec" | "secs" | "s" => Alias::Base("second"),
        "person" | "persons" | "people" => Alias::Base("people"),
        _ => Alias::Verbatim,
    }
}

impl Unit {
    /// The dimensionless unit (no base units).
    pub fn dimensionless() -> Unit {
        Unit::default()
    }

    /// A single base unit with exponent 1, after alias normalisation: `base("years")` is
    /// `year`, `base("person")` is `people`, and `base("dmnl")` (or any other dimensionless
    /// alias) is dimensionless.
    ///
    /// The name is otherwise taken as written; pass an identifier
    /// (`[A-Za-z_][A-Za-z0-9_]*`) if the unit's display is to parse back.
    pub fn base(name: &str) -> Unit {
        let canonical = match alias(name) {
            Alias::Dimensionless => return Unit::dimensionless(),
            Alias::Base(c) => c,
            Alias::Verbatim => name,
        };
        let mut exps = BTreeMap::new();
        exps.insert(canonical.to_string(), 1);
        Unit { exps }
    }

    /// Parse a unit expression (see the module documentation for the syntax). Never panics;
    /// errors carry the byte offset in `text` where the problem was found.
    pub fn parse(text: &str) -> Result<Unit, UnitError> {
        Parser::new(text).parse_all()
    }

    /// True when there are no base units (e.g. `dimensionless`, `1`, `year/year`).
    pub fn is_dimensionless(&self) -> bool {
        self.exps.is_empty()
    }

    /// The exponent of base unit `name` (after alias normalisation); 0 when absent.
    pub fn exponent(&self, name: &str) -> i32 {
        match alias(name) {
            Alias::Dimensionless => 0,
            Alias::Base(c) => self.exps.get(c).copied().unwrap_or(0),
            Alias::Verbatim => self.exps.get(name).copied().unwrap_or(0),
        }
    }

    /// The base units and their (nonzero) exponents, sorted by name.
    pub fn factors(&self) -> impl Iterator<Item = (&str, i32)> + '_ {
        self.exps.iter().map(|(k, &v)| (k.as_str(), v))
    }

    /// The number of distinct base units.
    pub fn len(&self) -> usize {
        self.exps.len()
    }

    /// Same as [`Unit::is_dimensionless`].
    pub fn is_empty(&self) -> bool {
        self.exps.is_empty()
    }

    /// Product of two units.
    ///
    /// Exponents are kept within `-i32::MAX..=i32::MAX` and saturate at those limits rather
    /// than overflow (unreachable in practice); see [`Unit::checked_mul`] for an exact
    /// version.
    pub fn mul(&self, other: &Unit) -> Unit {
        self.combine(other, |a, b| Some(saturate(a + b)))
            .expect("saturating combine never fails")
    }

    /// Quotient of two units (saturating like [`Unit::mul`]).
    pub fn div(&self, other: &Unit) -> Unit {
        self.combine(other, |a, b| Some(saturate(a - b)))
            .expect("saturating combine never fails")
    }

    /// `self` raised to the integer power `n` (`n = 0` gives dimensionless). Saturates like
    /// [`Unit::mul`].
    pub fn powi(&self, n: i32) -> Unit {
        self.map_exps(|e| Some(saturate(e * i64::from(n))))
            .expect("saturating map never fails")
    }

    /// Product, or `None` if an exponent would leave `-i32::MAX..=i32::MAX`.
    pub fn checked_mul(&self, other: &Unit) -> Option<Unit> {
        self.combine(other, |a, b| exact(a + b))
    }

    /// Quotient, or `None` if an exponent would leave `-i32::MAX..=i32::MAX`.
    pub fn checked_div(&self, other: &Unit) -> Option<Unit> {
        self.combine(other, |a, b| exact(a - b))
    }

    /// Integer power, or `None` if an exponent would leave `-i32::MAX..=i32::MAX`.
    pub fn checked_powi(&self, n: i32) -> Option<Unit> {
        self.map_exps(|e| exact(e * i64::from(n)))
    }

    /// Exact root, e.g. sqrt of year^2 = year; None if some exponent is not divisible by n.
    ///
    /// Also `None` for `n = 0`. A negative `n` takes the root of the reciprocal
    /// (`root(-1)` is the reciprocal itself).
    pub fn root(&self, n: i32) -> Option<Unit> {
        if n == 0 {
            return None;
        }
        let n = i64::from(n);
        self.map_exps(|e| if e % n == 0 { exact(e / n) } else { None })
    }

    /// The reciprocal, `1/self`.
    pub fn recip(&self) -> Unit {
        self.powi(-1)
    }

    /// Apply `op` to corresponding exponents (computed in `i64`, so it cannot overflow).
    fn combine(&self, other: &Unit, op: impl Fn(i64, i64) -> Option<i32>) -> Option<Unit> {
        let mut exps = self.exps.clone();
        for (name, &e) in &other.exps {
            let slot = exps.entry(name.clone()).or_insert(0);
            *slot = op(i64::from(*slot), i64::from(e))?;
        }
        exps.retain(|_, e| *e != 0);
        Some(Unit { exps })
    }

    fn map_exps(&self, op: impl Fn(i64) -> Option<i32>) -> Option<Unit> {
        let mut exps = BTreeMap::new();
        for (name, &e) in &self.exps {
            let v = op(i64::from(e))?;
            if v != 0 {
                exps.insert(name.clone(), v);
            }
        }
        Some(Unit { exps })
    }
}

/// Largest exponent magnitude. Exponents are symmetric (never `i32::MIN`) so that every unit
/// displays as text that parses back.
const MAX_EXP: i64 = i32::MAX as i64;

fn saturate(v: i64) -> i32 {
    v.clamp(-MAX_EXP, MAX_EXP) as i32
}

fn exact(v: i64) -> Option<i32> {
    if (-MAX_EXP..=MAX_EXP).contains(&v) {
        Some(v as i32)
    } else {
        None
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exps.is_empty() {
            return f.write_str("dimensionless");
        }
        fn factor(name: &str, e: i32) -> String {
            if e == 1 {
                name.to_string()
            } else {
                format!("{name}^{e}")
            }
        }
        let num: Vec<String> = self
            .exps
            .iter()
            .filter(|(_, e)| **e > 0)
            .map(|(n, &e)| factor(n, e))
            .collect();
        let den: Vec<String> = self
            .exps
            .iter()
            .filter(|(_, e)| **e < 0)
            .map(|(n, &e)| {
                let a = e.unsigned_abs();
                if a == 1 {
                    n.clone()
                } else {
                    format!("{n}^{a}")
                }
            })
            .collect();
        if num.is_empty() {
            f.write_str("1")?;
        } else {
            f.write_str(&num.join("*"))?;
        }
        match den.len() {
            0 => Ok(()),
            1 => write!(f, "/{}", den[0]),
            _ => write!(f, "/({})", den.join("*")),
        }
    }
}

impl std::str::FromStr for Unit {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Unit, UnitError> {
        Unit::parse(s)
    }
}

/// An error in a unit expression.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitError {
    /// What went wrong, e.g. "unexpected character `%`".
    pub message: String,
    /// Byte offset in the unit text where the problem was found (`text.len()` when the text
    /// ended too early). Always on a character boundary.
    pub offset: usize,
    /// An actionable suggestion, if there is one.
    pub help: Option<String>,
}

impl UnitError {
    fn new(message: impl Into<String>, offset: usize) -> UnitError {
        UnitError {
            message: message.into(),
            offset,
            help: None,
        }
    }
    fn help(mut self, help: impl Into<String>) -> UnitError {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)?;
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnitError {}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Ident,
    Number,
    Star,
    Slash,
    Caret,
    Minus,
    LParen,
    RParen,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

/// What came just before a factor, for error messages.
#[derive(Clone, Copy)]
enum Before {
    Start,
    Op(char),
    Open,
}

const NUMBER_HELP: &str = "put scale factors in the equation, e.g. a constant `per_thousand` \
     with units `people`";

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn slice(&self, t: Token) -> &'a str {
        &self.text[t.start..t.end]
    }

    /// The next token at or after `self.pos` (skipping whitespace), without consuming it.
    fn peek(&self) -> Result<Token, UnitError> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut start = self.pos;
        for (i, c) in text[self.pos..].char_indices() {
            if !c.is_whitespace() {
                start = self.pos + i;
                break;
            }
            start = self.pos + i + c.len_utf8();
        }
        let tok = |kind, end| Ok(Token { kind, start, end });
        let Some(c) = text[start..].chars().next() else {
            return tok(Tok::End, start);
        };
        match c {
            '*' => tok(Tok::Star, start + 1),
            '/' => tok(Tok::Slash, start + 1),
            '^' => tok(Tok::Caret, start + 1),
            '-' => tok(Tok::Minus, start + 1),
            '(' => tok(Tok::LParen, start + 1),
            ')' => tok(Tok::RParen, start + 1),
            'A'..='Z' | 'a'..='z' | '_' => {
                let mut end = start + 1;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                tok(Tok::Ident, end)
            }
            '0'..='9' => {
                // Digits, an optional fraction and an optional decimal exponent, so that
                // `1.5` and `1e3` are reported as numbers rather than as odd syntax.
                let digits = |mut i: usize| {
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    i
                };
                let mut end = digits(start);
                if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
                    end = digits(end + 1);
                }
                if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
                    let mut j = end + 1;
                    if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                        j += 1;
                    }
                    if j < bytes.len() && bytes[j].is_ascii_digit() {
                        end = digits(j);
                    }
                }
                tok(Tok::Number, end)
            }
            other => Err(unexpected_char(other, start)),
        }
    }

    fn bump(&mut self, t: Token) {
        self.pos = t.end;
    }

    fn parse_all(mut self) -> Result<Unit, UnitError> {
        let first = self.peek()?;
        if first.kind == Tok::End {
            return Ok(Unit::dimensionless());
        }
        let unit = self.parse_product(Before::Start)?;
        let next = self.peek()?;
        match next.kind {
            Tok::End => Ok(unit),
            Tok::RParen => Err(UnitError::new("unmatched `)`", next.start)
                .help("remove it, or add the `(` it was meant to close")),
            _ => Err(self.after_factor_error(next)),
        }
    }

    /// product := power (('*' | '/') power)*
    fn parse_product(&mut self, before: Before) -> Result<Unit, UnitError> {
        let mut unit = self.parse_power(before)?;
        loop {
            let t = self.peek()?;
            let (op, is_mul) = match t.kind {
                Tok::Star => ('*', true),
                Tok::Slash => ('/', false),
                _ => return Ok(unit),
            };
            self.bump(t);
            let rhs = self.parse_power(Before::Op(op))?;
            let combined = if is_mul {
                unit.checked_mul(&rhs)
            } else {
                unit.checked_div(&rhs)
            };
            unit = combined.ok_or_else(|| too_large(t.start))?;
        }
    }

    /// power := primary ('^' exponent)?
    fn parse_power(&mut self, before: Before) -> Result<Unit, UnitError> {
        let unit = self.parse_primary(before)?;
        let t = self.peek()?;
        if t.kind != Tok::Caret {
            return Ok(unit);
        }
        self.bump(t);
        let n = self.parse_exponent()?;
        unit.checked_powi(n).ok_or_else(|| too_large(t.start))
    }

    /// exponent := '-'? integer | '(' '-'? integer ')'
    fn parse_exponent(&mut self) -> Result<i32, UnitError> {
        let expected = |t: Token, parser: &Parser| {
            let found = describe(parser, t);
            UnitError::new(
                format!("expected an integer exponent after `^`, found {found}"),
                t.start,
            )
            .help("write e.g. `year^2` or `year^-1`")
        };
        let mut t = self.peek()?;
        let open = if t.kind == Tok::LParen {
            self.bump(t);
            let open_at = t.start;
            t = self.peek()?;
            Some(open_at)
        } else {
            None
        };
        let negative = t.kind == Tok::Minus;
        if negative {
            self.bump(t);
            t = self.peek()?;
        }
        if t.kind != Tok::Number {
            return Err(expected(t, self));
        }
        let digits = self.slice(t);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitError::new(
                format!("exponents must be whole numbers, found `{digits}`"),
                t.start,
            )
            .help("write e.g. `year^2`; for a square root, square the other side instead"));
        }
        let magnitude: i64 = digits.parse().unwrap_or(i64::MAX);
        let n = exact(if negative { -magnitude } else { magnitude })
            .ok_or_else(|| UnitError::new(format!("exponent `{digits}` is too large"), t.start))?;
        self.bump(t);
        if let Some(open_at) = open {
            let close = self.peek()?;
            if close.kind != Tok::RParen {
                return Err(UnitError::new(
                    format!(
                        "expected `)` to close the exponent, found {}",
                        describe(self, close)
                    ),
                    close.start,
                )
                .help(format!("the `(` was opened at byte {open_at}")));
            }
            self.bump(close);
        }
        Ok(n)
    }

    /// primary := name | number | '(' product ')'
    fn parse_primary(&mut self, before: Before) -> Result<Unit, UnitError> {
        let t = self.peek()?;
        match t.kind {
            Tok::Ident => {
                self.bump(t);
                Ok(Unit::base(self.slice(t)))
            }
            Tok::Number => {
                let text = self.slice(t);
                if text.parse::<f64>().is_ok_and(|v| v == 1.0) {
                    self.bump(t);
                    Ok(Unit::dimensionless())
                } else {
                    Err(UnitError::new(
                        format!(
                            "unit expressions cannot contain numbers other than 1 (found `{text}`)"
                        ),
                        t.start,
                    )
                    .help(NUMBER_HELP))
                }
            }
            Tok::LParen => {
                if self.depth >= MAX_DEPTH {
                    return Err(UnitError::new("parentheses are nested too deeply", t.start));
                }
                self.bump(t);
                let inner = self.peek()?;
                if inner.kind == Tok::RParen {
                    return Err(UnitError::new("empty parentheses", t.start)
                        .help("write `1` for a dimensionless factor, e.g. `1/year`"));
                }
                self.depth += 1;
                let unit = self.parse_product(Before::Open)?;
                self.depth -= 1;
                let close = self.peek()?;
                match close.kind {
                    Tok::RParen => {
                        self.bump(close);
                        Ok(unit)
                    }
                    Tok::End => {
                        Err(UnitError::new("unclosed `(`", t.start).help("add a `)` to close it"))
                    }
                    _ => Err(self.after_factor_error(close)),
                }
            }
            _ => Err(self.missing_factor_error(t, before)),
        }
    }

    /// A factor was expected (at the start, after an operator, or after `(`) but `t` came.
    fn missing_factor_error(&self, t: Token, before: Before) -> UnitError {
        let found = describe(self, t);
        match (before, t.kind) {
            (Before::Op(op), Tok::End) => {
                UnitError::new(format!("the unit expression ends with `{op}`"), t.start)
                    .help(format!("add a unit after `{op}`, or remove it"))
            }
            (Before::Op('/'), Tok::Slash) => {
                UnitError::new("expected a unit after `/`, found another `/`", t.start)
                    .help("to divide by several units, write e.g. `GBP/(person*year)`")
            }
            (Before::Op(op), _) => UnitError::new(
                format!("expected a unit after `{op}`, found {found}"),
                t.start,
            )
            .help("write a unit name, `1`, or a parenthesised unit"),
            (Before::Start, Tok::RParen) => UnitError::new("unmatched `)`", t.start)
                .help("remove it, or add the `(` it was meant to close"),
            (Before::Start, Tok::Slash) => UnitError::new("expected a unit before `/`", t.start)
                .help("write `1/year` for a reciprocal unit"),
            (Before::Start, Tok::Minus) | (Before::Open, Tok::Minus) => {
                UnitError::new("units cannot be negative", t.start)
                    .help("for a negative exponent write `year^-1`")
            }
            (_, Tok::Caret) => {
                UnitError::new("`^` must follow a unit", t.start).help("write e.g. `year^2`")
            }
            (_, Tok::End) => UnitError::new("the unit expression ends after `(`", t.start)
                .help("add a unit and a closing `)`"),
            _ => UnitError::new(format!("expected a unit, found {found}"), t.start)
                .help("write a unit name, `1`, or a parenthesised unit"),
        }
    }

    /// A complete factor was parsed and `t` (not `*`, `/`, `)` or the end) follows it.
    fn after_factor_error(&self, t: Token) -> UnitError {
        match t.kind {
            Tok::Caret => UnitError::new("an exponent cannot itself have an exponent", t.start)
                .help("use parentheses, e.g. `(year^2)^3`"),
            Tok::Minus => UnitError::new("unexpected `-` in a unit", t.start)
                .help("units are multiplied with `*` and divided with `/`; a negative exponent is written `year^-1`"),
            Tok::Number => {
                let text = self.slice(t);
                UnitError::new(
                    format!("unit expressions cannot contain numbers other than 1 (found `{text}`)"),
                    t.start,
                )
                .help(NUMBER_HELP)
            }
            _ => UnitError::new(
                format!("expected `*`, `/` or the end of the unit, found {}", describe(self, t)),
                t.start,
            )
            .help("use `*` to multiply units, e.g. `people*year`"),
        }
    }
}

fn describe(p: &Parser, t: Token) -> String {
    match t.kind {
        Tok::End => "the end of the unit".to_string(),
        _ => format!("`{}`", p.slice(t)),
    }
}

fn too_large(offset: usize) -> UnitError {
    UnitError::new("unit exponent is too large", offset)
}

fn unexpected_char(c: char, offset: usize) -> UnitError {
    let err = UnitError::new(format!("unexpected character `{c}` in unit"), offset);
    match c {
        '%' => err.help(
            "`%` is not a unit: use `dimensionless` (or `fraction`) and divide by 100 in the \
             equation, or name a base unit `percent`",
        ),
        '.' | '·' | '×' | '⋅' => err.help("use `*` to multiply units, e.g. `kg*m`"),
        '²' | '³' | '¹' | '⁻' => err.help("write exponents with `^`, e.g. `m^2` or `year^-1`"),
        '÷' => err.help("use `/` to divide units"),
        '+' => err.help("units cannot be added; use `*` or `/`"),
        '[' | ']' | '{' | '}' => err.help("group with `(` and `)`"),
        c if c.is_alphanumeric() => {
            err.help("unit names may contain only ASCII letters, digits and `_`")
        }
        _ => {
            err.help("unit expressions may contain only names, `1`, `*`, `/`, `^` and parentheses")
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inference
// ---------------------------------------------------------------------------------------

/// Unit of an expression during inference: either known, or "any" (a bare number literal, which
/// adopts whatever units its context needs in + - comparisons, and acts as dimensionless in * /).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inferred {
    Any,
    Known(Unit),
}

impl From<Unit> for Inferred {
    fn from(u: Unit) -> Inferred {
        Inferred::Known(u)
    }
}

impl Inferred {
    /// The known unit, if any.
    pub fn known(&self) -> Option<&Unit> {
        match self {
            Inferred::Any => None,
            Inferred::Known(u) => Some(u),
        }
    }

    /// Product: `Any` acts as dimensionless, except that `Any * Any` stays `Any`.
    pub fn mul(&self, other: &Inferred) -> Inferred {
        match (self, other) {
            (Inferred::Any, Inferred::Any) => Inferred::Any,
            (Inferred::Any, Inferred::Known(u)) | (Inferred::Known(u), Inferred::Any) => {
                Inferred::Known(u.clone())
            }
            (Inferred::Known(a), Inferred::Known(b)) => Inferred::Known(a.mul(b)),
        }
    }

    /// Quotient: `Any / Known(u)` is `Known(1/u)`, `Known(u) / Any` is `Known(u)`,
    /// `Any / Any` is `Any`.
    pub fn div(&self, other: &Inferred) -> Inferred {
        match (self, other) {
            (Inferred::Any, Inferred::Any) => Inferred::Any,
            (Inferred::Any, Inferred::Known(u)) => Inferred::Known(u.recip()),
            (Inferred::Known(u), Inferred::Any) => Inferred::Known(u.clone()),
            (Inferred::Known(a), Inferred::Known(b)) => Inferred::Known(a.div(b)),
        }
    }

    /// Integer power: `Any^n` is `Any`.
    pub fn powi(&self, n: i32) -> Inferred {
        match self {
            Inferred::Any => Inferred::Any,
            Inferred::Known(u) => Inferred::Known(u.powi(n)),
        }
    }

    /// Combine two operands of `+`, `-` or a comparison: `Any` adopts the other side's unit;
    /// two known units must be equal. `Err(())` on a mismatch (the caller knows both sides
    /// and reports them, with [`mismatch_hint`]).
    #[allow(clippy::result_unit_err)]
    pub fn unify(&self, other: &Inferred) -> Result<Inferred, ()> {
        match (self, other) {
            (Inferred::Any, x) | (x, Inferred::Any) => Ok(x.clone()),
            (Inferred::Known(a), Inferred::Known(b)) if a == b => Ok(Inferred::Known(a.clone())),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Inferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inferred::Any => f.write_str("any unit"),
            Inferred::Known(u) => write!(f, "{u}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hints
// ---------------------------------------------------------------------------------------

/// True when `u` is exactly one time base unit (see [`TIME_UNITS`]) with exponent 1.
pub fn is_time_unit(u: &Unit) -> bool {
    let mut it = u.factors();
    match (it.next(), it.next()) {
        (Some((name, 1)), None) => TIME_UNITS.contains(&name),
        _ => false,
    }
}

/// A short, actionable hint for a mismatch between `a` and `b`, or `None` when nothing useful
/// can be said (including when `a == b`).
///
/// Checks, in order:
/// * names that differ only in letter case (`GBP` vs `gbp`);
/// * `a/b` is a time unit or its inverse: "the two sides differ by a factor of `year`: a flow
///   (`people/year`, per year) is being combined with a stock-like quantity (`people`);
///   multiply the rate by a duration, or divide the quantity by one";
/// * the same quantity in two different time units (`people/year` vs `people/month`): units
///   are never converted, so suggest a conversion constant with the right units;
/// * one side dimensionless: "one side is dimensionless: is a conversion constant with units
///   missing?";
/// * a factor of a single base unit `X` (any exponent): "the two sides differ by a factor of
///   `X`".
pub fn mismatch_hint(a: &Unit, b: &Unit) -> Option<String> {
    if a == b {
        return None;
    }
    if let Some(hint) = case_hint(a, b) {
        return Some(hint);
    }
    let q = a.div(b);
    let flow_stock = |t: &Unit, rate: &Unit, stock: &Unit| {
        format!(
            "the two sides differ by a factor of `{t}`: a flow (`{rate}`, per {t}) is being \
             combined with a stock-like quantity (`{stock}`); multiply the rate by a duration, \
             or divide the quantity by one"
        )
    };
    if is_time_unit(&q) {
        // a = b * t: b is the rate.
        return Some(flow_stock(&q, b, a));
    }
    let inv = q.recip();
    if is_time_unit(&inv) {
        return Some(flow_stock(&inv, a, b));
    }
    // Same quantity per different time units, e.g. people/year vs people/month.
    let f: Vec<(&str, i32)> = q.factors().collect();
    if let [(x, ex), (y, ey)] = f[..]
        && ex == -ey
        && ex.abs() == 1
        && TIME_UNITS.contains(&x)
        && TIME_UNITS.contains(&y)
    {
        let (in_a, in_b) = if a.exponent(x) != 0 { (x, y) } else { (y, x) };
        return Some(format!(
            "the two sides use different time units (`{in_a}` vs `{in_b}`); units are never \
             converted automatically: express both in the same time unit, or multiply `{a}` \
             by a conversion constant with units `{}`",
            b.div(a)
        ));
    }
    if a.is_dimensionless() || b.is_dimensionless() {
        return Some(
            "one side is dimensionless: is a conversion constant with units missing?".to_string(),
        );
    }
    if q.len() == 1 {
        let (name, e) = q.factors().next()?;
        let factor = Unit::base(name).powi(e.saturating_abs());
        let more = if e > 0 { a } else { b };
        return Some(format!(
            "the two sides differ by a factor of `{factor}` (`{more}` has the extra `{factor}`)"
        ));
    }
    None
}

/// "`GBP` and `gbp` differ only in case" when lower-casing every name makes the units equal.
fn case_hint(a: &Unit, b: &Unit) -> Option<String> {
    let lower = |u: &Unit| -> Vec<(String, i32)> {
        let mut v: Vec<(String, i32)> = u
            .factors()
            .map(|(n, e)| (n.to_ascii_lowercase(), e))
            .collect();
        v.sort();
        v
    };
    if a.len() != b.len() || lower(a) != lower(b) {
        return None;
    }
    let names_a: Vec<&str> = a
        .factors()
        .map(|(n, _)| n)
        .filter(|n| b.exponent(n) == 0)
        .collect();
    let names_b: Vec<&str> = b
        .factors()
        .map(|(n, _)| n)
        .filter(|n| a.exponent(n) == 0)
        .collect();
    let (x, y) = (names_a.first()?, names_b.first()?);
    Some(format!(
        "`{x}` and `{y}` differ only in letter case; unit names are case-sensitive, so spell \
         them the same way"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(text: &str) -> Unit {
        Unit::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    /// Build a unit from (name, exponent) pairs, bypassing the parser.
    fn mk(factors: &[(&str, i32)]) -> Unit {
        factors.iter().fold(Unit::dimensionless(), |acc, &(n, e)| {
            acc.mul(&Unit::base(n).powi(e))
        })
    }

    fn err(text: &str) -> UnitError {
        match Unit::parse(text) {
            Ok(unit) => panic!("{text:?} should not parse, got {unit}"),
            Err(e) => e,
        }
    }

    // ---- parsing -----------------------------------------------------------------------

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(u("people"), mk(&[("people", 1)]));
        assert_eq!(u("people/year"), mk(&[("people", 1), ("year", -1)]));
        assert_eq!(u("GBP"), mk(&[("GBP", 1)]));
        assert_eq!(u("GBP/bed_day"), mk(&[("GBP", 1), ("bed_day", -1)]));
        assert_eq!(u("1/year"), mk(&[("year", -1)]));
        assert_eq!(u("people*year"), mk(&[("people", 1), ("year", 1)]));
        assert_eq!(u("year^2"), mk(&[("year", 2)]));
        assert_eq!(u("year^-1"), mk(&[("year", -1)]));
        assert_eq!(u("year^(-1)"), mk(&[("year", -1)]));
        assert_eq!(u("year^(2)"), mk(&[("year", 2)]));
        assert_eq!(
            u("GBP/(person*year)"),
            mk(&[("GBP", 1), ("people", -1), ("year", -1)])
        );
        assert_eq!(u("m^2/s"), mk(&[("m", 2), ("second", -1)]));
        assert_eq!(u("FTE"), mk(&[("FTE", 1)]));
        assert_eq!(u("QALY/GBP"), mk(&[("QALY", 1), ("GBP", -1)]));
        assert_eq!(u("_x1"), mk(&[("_x1", 1)]));
    }

    #[test]
    fn dimensionless_spellings() {
        for text in [
            "",
            "   ",
            "\t\n",
            "dimensionless",
            "dmnl",
            "unitless",
            "fraction",
            "1",
            "(1)",
            "1^3",
            "1/1",
            "01",
            "1.0",
            " dmnl ",
        ] {
            assert!(u(text).is_dimensionless(), "{text:?}");
            assert_eq!(u(text), Unit::dimensionless(), "{text:?}");
        }
        assert_eq!(u("fraction/year"), u("1/year"));
        assert_eq!(u("dmnl*people"), u("people"));
        // `percent` is an ordinary base unit.
        assert_eq!(u("percent"), mk(&[("percent", 1)]));
        assert!(!u("percent").is_dimensionless());
    }

    #[test]
    fn whitespace_is_allowed_between_tokens() {
        assert_eq!(u(" GBP / ( person * year ) "), u("GBP/(people*year)"));
        assert_eq!(u("year ^ -1"), u("1/year"));
        assert_eq!(u("year ^ ( - 2 )"), u("year^-2"));
    }

    #[test]
    fn aliases_normalise() {
        let groups: &[(&str, &[&str])] = &[
            ("year", &["year", "years", "yr", "yrs"]),
            ("month", &["month", "months"]),
            ("week", &["week", "weeks"]),
            ("day", &["day", "days"]),
            ("hour", &["hour", "hours", "hr", "hrs"]),
            ("minute", &["minute", "minutes", "min", "mins"]),
            ("second", &["second", "seconds", "sec", "secs", "s"]),
            ("people", &["person", "persons", "people"]),
        ];
        for (canonical, spellings) in groups {
            for s in *spellings {
                assert_eq!(u(s), mk(&[(canonical, 1)]), "{s}");
                assert_eq!(Unit::base(s).to_string(), *canonical, "{s}");
                assert_eq!(u(s).exponent(canonical), 1);
                assert_eq!(u(s).exponent(s), 1, "exponent() normalises too");
            }
        }
        assert_eq!(u("persons/yrs"), u("people/year"));
        assert_eq!(u("people*years/yr"), u("people"));
        assert!(Unit::base("dmnl").is_dimensionless());
        assert!(Unit::base("1").is_dimensionless());
    }

    #[test]
    fn names_are_case_sensitive() {
        assert_ne!(u("GBP"), u("gbp"));
        assert_ne!(u("Year"), u("year"));
        assert_ne!(u("People"), u("people"));
        assert_eq!(u("Years").to_string(), "Years");
        assert!(!u("Dmnl").is_dimensionless());
    }

    #[test]
    fn precedence_and_associativity() {
        // left to right: a/b*c = (a/b)*c
        assert_eq!(
            u("GBP/person*year"),
            mk(&[("GBP", 1), ("people", -1), ("year", 1)])
        );
        assert_eq!(u("a/b/c"), mk(&[("a", 1), ("b", -1), ("c", -1)]));
        // ^ binds tighter than / and *
        assert_eq!(u("1/year^2"), mk(&[("year", -2)]));
        assert_eq!(u("a*b^2"), mk(&[("a", 1), ("b", 2)]));
        assert_eq!(u("(a*b)^2"), mk(&[("a", 2), ("b", 2)]));
        assert_eq!(u("(year^2)^3"), mk(&[("year", 6)]));
        assert_eq!(u("(people/year)^-1"), u("year/people"));
        assert_eq!(u("((a))"), u("a"));
        assert_eq!(u("a/(b/c)"), u("a*c/b"));
    }

    #[test]
    fn cancellation_drops_zero_exponents() {
        assert!(u("year/year").is_dimensionless());
        assert_eq!(u("people*year/year"), u("people"));
        assert_eq!(u("year^0"), Unit::dimensionless());
        assert_eq!(u("people*year^0"), u("people"));
        assert_eq!(u("year^2/year^2"), Unit::dimensionless());
        assert_eq!(u("years/yr"), Unit::dimensionless());
        assert_eq!(u("year/year").len(), 0);
        // equal units hash equally even after cancellation
        use std::collections::HashSet;
        let set: HashSet<Unit> = [u("people"), u("people*year/year"), u("persons")].into();
        assert_eq!(set.len(), 1);
    }

    // ---- algebra -----------------------------------------------------------------------

    #[test]
    fn algebra() {
        let people = Unit::base("people");
        let year = Unit::base("year");
        let rate = people.div(&year);
        assert_eq!(rate, u("people/year"));
        assert_eq!(rate.mul(&year), people);
        assert_eq!(year.mul(&year), u("year^2"));
        assert_eq!(people.div(&people), Unit::dimensionless());
        assert_eq!(Unit::dimensionless().div(&year), u("1/year"));
        assert_eq!(rate.powi(2), u("people^2/year^2"));
        assert_eq!(rate.powi(-1), u("year/people"));
        assert_eq!(rate.powi(0), Unit::dimensionless());
        assert_eq!(rate.powi(1), rate);
        assert_eq!(rate.recip(), u("year/people"));
        assert_eq!(Unit::dimensionless().powi(5), Unit::dimensionless());
        assert_eq!(people.mul(&Unit::dimensionless()), people);
    }

    #[test]
    fn roots() {
        assert_eq!(u("year^2").root(2), Some(u("year")));
        assert_eq!(u("m^6/s^3").root(3), Some(u("m^2/s")));
        assert_eq!(u("year^-2").root(2), Some(u("1/year")));
        assert_eq!(u("year").root(2), None);
        assert_eq!(u("year^2*people").root(2), None);
        assert_eq!(u("year^2").root(0), None);
        assert_eq!(u("year^2").root(1), Some(u("year^2")));
        assert_eq!(u("year^2").root(-2), Some(u("1/year")));
        assert_eq!(u("year").root(-1), Some(u("1/year")));
        assert_eq!(Unit::dimensionless().root(2), Some(Unit::dimensionless()));
        assert_eq!(Unit::dimensionless().root(0), None);
    }

    #[test]
    fn overflow_does_not_panic() {
        let big = Unit::base("a").powi(i32::MAX);
        assert_eq!(big.exponent("a"), i32::MAX);
        assert_eq!(big.mul(&Unit::base("a")).exponent("a"), i32::MAX);
        assert_eq!(big.checked_mul(&Unit::base("a")), None);
        assert_eq!(big.checked_powi(2), None);
        assert_eq!(
            big.checked_div(&Unit::base("a")).map(|x| x.exponent("a")),
            Some(i32::MAX - 1)
        );
        // exponents stay symmetric: i32::MIN is never produced
        let min = Unit::base("a").powi(i32::MIN);
        assert_eq!(min.exponent("a"), -i32::MAX);
        assert_eq!(min.root(-1), Some(big.clone()));
        assert_eq!(u(&min.to_string()), min);
        assert_eq!(
            big.powi(-1).mul(&Unit::base("a").recip()).exponent("a"),
            -i32::MAX
        );
        assert_eq!(big.recip().checked_div(&Unit::base("a")), None);
        assert!(Unit::parse("a^2147483647*a").is_err());
        assert!(Unit::parse("(a^65536)^65536").is_err());
        assert_eq!(u("a^2147483647").exponent("a"), i32::MAX);
        assert_eq!(u("a^-2147483647").exponent("a"), -i32::MAX);
        assert!(Unit::parse("a^-2147483648").is_err());
        assert!(Unit::parse("a^-2147483647/a").is_err());
        assert!(Unit::parse("a^2147483648").is_err());
        assert!(Unit::parse("a^99999999999999999999999999").is_err());
    }

    // ---- display -----------------------------------------------------------------------

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("people", "people"),
            ("persons/yrs", "people/year"),
            ("1/year", "1/year"),
            ("year^-1", "1/year"),
            ("GBP/(bed_day*person)", "GBP/(bed_day*people)"),
            ("GBP/person/bed_day", "GBP/(bed_day*people)"),
            ("year^2", "year^2"),
            ("1/year^2", "1/year^2"),
            ("dmnl", "dimensionless"),
            ("", "dimensionless"),
            ("year*people", "people*year"),
            ("m^2/s", "m^2/second"),
            ("a^-2*b^-3", "1/(a^2*b^3)"),
            ("b*a^3/(c*d^2)", "a^3*b/(c*d^2)"),
            ("QALY/GBP", "QALY/GBP"),
        ];
        for (input, shown) in cases {
            assert_eq!(u(input).to_string(), shown, "{input:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        let inputs = [
            "people",
            "people/year",
            "GBP",
            "GBP/bed_day",
            "1/year",
            "dimensionless",
            "people*year",
            "year^2",
            "year^-1",
            "GBP/(person*year)",
            "m^2/s",
            "a^-2*b^-3",
            "a^3*b/(c*d^2)",
            "FTE*hour/week",
            "(QALY/GBP)^-3",
            "x^2147483647",
            "x^-2147483647",
        ];
        for text in inputs {
            let unit = u(text);
            let shown = unit.to_string();
            assert_eq!(u(&shown), unit, "{text:?} displayed as {shown:?}");
            // displaying again is stable
            assert_eq!(u(&shown).to_string(), shown);
        }
        // and via FromStr
        let parsed: Unit = "GBP/(person*year)".parse().unwrap();
        assert_eq!(parsed.to_string().parse::<Unit>().unwrap(), parsed);
    }

    // ---- errors ------------------------------------------------------------------------

    #[test]
    fn error_empty_parentheses() {
        let e = err("()");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("empty parentheses"), "{e}");
        assert!(e.help.is_some());
        let e = err("1/( )");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("empty parentheses"), "{e}");
    }

    #[test]
    fn error_double_slash() {
        let e = err("people//year");
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("another `/`"), "{e}");
        assert!(e.help.as_deref().unwrap().contains("GBP/(person*year)"));
    }

    #[test]
    fn error_caret_without_exponent() {
        let e = err("year^");
        assert_eq!(e.offset, 5);
        assert!(
            e.message.contains("expected an integer exponent after `^`"),
            "{e}"
        );
        let e = err("year^x");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("found `x`"), "{e}");
        let e = err("year^-");
        assert_eq!(e.offset, 6);
        let e = err("year^*2");
        assert_eq!(e.offset, 5);
        let e = err("year^1.5");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("whole numbers"), "{e}");
        let e = err("year^(-1");
        assert_eq!(e.offset, 8);
        assert!(e.message.contains("expected `)`"), "{e}");
        let e = err("year^2^3");
        assert_eq!(e.offset, 6);
        assert!(e.help.as_deref().unwrap().contains("(year^2)^3"));
        let e = err("^2");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("`^` must follow a unit"), "{e}");
    }

    #[test]
    fn error_numbers_other_than_one() {
        let e = err("beds / (people / 1000)");
        assert_eq!(e.offset, 17);
        assert!(
            e.message
                .contains("unit expressions cannot contain numbers other than 1"),
            "{e}"
        );
        assert!(
            e.help
                .as_deref()
                .unwrap()
                .contains("put scale factors in the equation")
        );
        assert!(e.help.as_deref().unwrap().contains("per_thousand"));
        for (text, offset) in [
            ("1000", 0),
            ("2/year", 0),
            ("people/100", 7),
            ("0.5", 0),
            ("1e3", 0),
            ("people 1000", 7),
            ("year*0", 5),
        ] {
            let e = err(text);
            assert_eq!(e.offset, offset, "{text:?}: {e}");
            assert!(e.message.contains("numbers other than 1"), "{text:?}: {e}");
        }
    }

    #[test]
    fn error_unexpected_character() {
        let e = err("people%");
        assert_eq!(e.message, "unexpected character `%` in unit");
        assert_eq!(e.offset, 6);
        assert!(e.help.is_some());
        let e = err("%");
        assert_eq!(e.offset, 0);
        let e = err("kg.m");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("`.`"), "{e}");
        assert!(e.help.as_deref().unwrap().contains('*'));
        // byte offsets, not char offsets
        let e = err("é/year");
        assert_eq!(e.offset, 0);
        let e = err("m²/€");
        assert_eq!(e.offset, 1);
        assert!(e.help.as_deref().unwrap().contains("^"));
        let e = err("year/ €");
        assert_eq!(e.offset, 6);
        let e = err("people+year");
        assert_eq!(e.offset, 6);
        let e = err("peoplé");
        assert_eq!(e.offset, 5);
        assert!(e.help.as_deref().unwrap().contains("ASCII"));
    }

    #[test]
    fn error_trailing_and_leading_operators() {
        for (text, op) in [("people/", '/'), ("people*", '*'), ("people / ", '/')] {
            let e = err(text);
            assert_eq!(e.offset, text.len(), "{text:?}");
            assert_eq!(e.message, format!("the unit expression ends with `{op}`"));
        }
        let e = err("/year");
        assert_eq!(e.offset, 0);
        assert!(e.help.as_deref().unwrap().contains("1/year"));
        let e = err("*year");
        assert_eq!(e.offset, 0);
        let e = err("people*/year");
        assert_eq!(e.offset, 7);
        let e = err("(people*)");
        assert_eq!(e.offset, 8);
        assert!(e.message.contains("after `*`"), "{e}");
    }

    #[test]
    fn error_parentheses_and_juxtaposition() {
        let e = err("(people");
        assert_eq!((e.offset, e.message.as_str()), (0, "unclosed `(`"));
        let e = err("GBP/(people*year");
        assert_eq!(e.offset, 4);
        let e = err("people)");
        assert_eq!((e.offset, e.message.as_str()), (6, "unmatched `)`"));
        let e = err("(");
        assert_eq!(e.offset, 1);
        let e = err("people year");
        assert_eq!(e.offset, 7);
        assert!(e.help.as_deref().unwrap().contains("people*year"));
        let e = err("(a)(b)");
        assert_eq!(e.offset, 3);
        let e = err("(a b)");
        assert_eq!(e.offset, 3);
        let e = err("-year");
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("negative"), "{e}");
        let e = err("year-1");
        assert_eq!(e.offset, 4);
        let e = err("1year");
        assert_eq!(e.offset, 1);
    }

    #[test]
    fn error_deep_nesting() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = err(&deep);
        assert!(e.message.contains("nested too deeply"), "{e}");
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(u(&ok), u("a"));
    }

    #[test]
    fn error_display() {
        let e = err("people%");
        let shown = e.to_string();
        assert!(shown.contains("unexpected character `%`"));
        assert!(shown.contains("byte 6"));
        assert!(shown.contains("help:"));
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(!boxed.to_string().is_empty());
    }

    /// Check the invariants that must hold for any input whatsoever.
    fn check_no_panic(text: &str) {
        match Unit::parse(text) {
            Ok(unit) => {
                let shown = unit.to_string();
                assert_eq!(
                    Unit::parse(&shown).as_ref(),
                    Ok(&unit),
                    "{text:?} -> {shown:?}"
                );
            }
            Err(e) => {
                assert!(e.offset <= text.len(), "{text:?}: {e}");
                assert!(text.is_char_boundary(e.offset), "{text:?}: {e}");
                assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn junk_never_panics() {
        let junk = [
            "",
            " ",
            "(",
            ")",
            "((",
            "))",
            ")(",
            "^",
            "^^",
            "*",
            "/",
            "-",
            "--1",
            "1",
            "0",
            "00",
            "1.",
            ".1",
            "1e",
            "1e+",
            "1e-5",
            "1E0",
            "a^",
            "a^(",
            "a^()",
            "a^(-)",
            "a^(1",
            "a^-(1)",
            "a^--1",
            "a^+1",
            "a**b",
            "a//b",
            "a*/b",
            "a/*b",
            "(a*)",
            "(*a)",
            "(/a)",
            "a^1^",
            "a)(",
            "ä",
            "€",
            "a€",
            "日本",
            "\u{0}",
            "\u{feff}a",
            "a\u{200b}b",
            "a\u{a0}b",
            "\r\n",
            "\\",
            "'a'",
            "\"a\"",
            "a,b",
            "a;b",
            "a b c",
            "a^99999999999",
            "a^-99999999999",
            "((((((",
            "a^(((1)))",
            "🙂",
            "a^🙂",
            "1/🙂",
            "(🙂)",
            "a/(b*(c/(d^-2)))",
            "_",
            "__",
            "_1^2",
        ];
        for text in junk {
            check_no_panic(text);
        }
        // Random strings over an alphabet of meaningful and awkward characters.
        let alphabet: Vec<char> = "ab_Y1029 *//^^-()().%eé€\t".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 14) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            check_no_panic(&text);
        }
    }

    // ---- inference ---------------------------------------------------------------------

    #[test]
    fn inferred_rules() {
        let p = Inferred::Known(u("people"));
        let y = Inferred::Known(u("year"));
        let any = Inferred::Any;
        assert_eq!(any.mul(&any), Inferred::Any);
        assert_eq!(any.mul(&p), p);
        assert_eq!(p.mul(&any), p);
        assert_eq!(p.mul(&y), Inferred::Known(u("people*year")));
        assert_eq!(any.div(&any), Inferred::Any);
        assert_eq!(any.div(&y), Inferred::Known(u("1/year")));
        assert_eq!(p.div(&any), p);
        assert_eq!(p.div(&y), Inferred::Known(u("people/year")));
        assert_eq!(any.powi(2), Inferred::Any);
        assert_eq!(y.powi(2), Inferred::Known(u("year^2")));

        assert_eq!(any.unify(&any), Ok(Inferred::Any));
        assert_eq!(any.unify(&p), Ok(p.clone()));
        assert_eq!(p.unify(&any), Ok(p.clone()));
        assert_eq!(p.unify(&p), Ok(p.clone()));
        assert_eq!(p.unify(&Inferred::Known(u("persons"))), Ok(p.clone()));
        assert_eq!(p.unify(&y), Err(()));
        assert_eq!(
            Inferred::Known(Unit::dimensionless()).unify(&p),
            Err(()),
            "dimensionless is a real unit, not Any"
        );
        assert_eq!(Inferred::from(u("people")), p);
        assert_eq!(p.known(), Some(&u("people")));
        assert_eq!(any.known(), None);
        assert_eq!(any.to_string(), "any unit");
        assert_eq!(p.to_string(), "people");
    }

    // ---- hints -------------------------------------------------------------------------

    #[test]
    fn time_units() {
        for t in TIME_UNITS {
            assert!(is_time_unit(&Unit::base(t)), "{t}");
        }
        assert!(is_time_unit(&u("years")));
        assert!(is_time_unit(&u("s")));
        assert!(!is_time_unit(&u("year^2")));
        assert!(!is_time_unit(&u("1/year")));
        assert!(!is_time_unit(&u("people")));
        assert!(!is_time_unit(&u("year*day")));
        assert!(!is_time_unit(&Unit::dimensionless()));
        assert!(!is_time_unit(&u("Year")));
    }

    #[test]
    fn hint_flow_vs_stock() {
        let h = mismatch_hint(&u("people"), &u("people/year")).unwrap();
        assert!(
            h.starts_with("the two sides differ by a factor of `year`"),
            "{h}"
        );
        assert!(h.contains("a flow (`people/year`, per year)"), "{h}");
        assert!(h.contains("stock-like quantity (`people`)"), "{h}");
        assert!(h.contains("multiply the rate by a duration"), "{h}");
        // symmetric in content
        let h2 = mismatch_hint(&u("people/year"), &u("people")).unwrap();
        assert_eq!(h, h2);
        let h = mismatch_hint(&u("GBP/day"), &u("GBP")).unwrap();
        assert!(h.contains("factor of `day`"), "{h}");
        let h = mismatch_hint(&u("1/week"), &u("dmnl")).unwrap();
        assert!(h.contains("factor of `week`"), "{h}");
    }

    #[test]
    fn hint_different_time_units() {
        let h = mismatch_hint(&u("people/year"), &u("people/month")).unwrap();
        assert!(h.contains("different time units"), "{h}");
        assert!(h.contains("(`year` vs `month`)"), "{h}");
        assert!(
            h.contains("multiply `people/year` by a conversion constant with units `year/month`"),
            "{h}"
        );
        let h = mismatch_hint(&u("day"), &u("year")).unwrap();
        assert!(h.contains("(`day` vs `year`)"), "{h}");
        assert!(
            h.contains("multiply `day` by a conversion constant with units `year/day`"),
            "{h}"
        );
    }

    #[test]
    fn hint_dimensionless_side() {
        let expected = "one side is dimensionless: is a conversion constant with units missing?";
        assert_eq!(
            mismatch_hint(&u("people"), &u("dmnl")).as_deref(),
            Some(expected)
        );
        assert_eq!(
            mismatch_hint(&u("1"), &u("GBP/bed_day")).as_deref(),
            Some(expected)
        );
    }

    #[test]
    fn hint_single_base_factor() {
        let h = mismatch_hint(&u("GBP"), &u("GBP/bed_day")).unwrap();
        assert!(
            h.starts_with("the two sides differ by a factor of `bed_day`"),
            "{h}"
        );
        assert!(h.contains("`GBP` has the extra `bed_day`"), "{h}");
        let h = mismatch_hint(&u("beds/people"), &u("beds")).unwrap();
        assert!(h.contains("factor of `people`"), "{h}");
        assert!(h.contains("`beds` has the extra"), "{h}");
        let h = mismatch_hint(&u("m^2"), &u("m^4")).unwrap();
        assert!(h.contains("factor of `m^2`"), "{h}");
        let h = mismatch_hint(&u("GBP*year^2"), &u("GBP")).unwrap();
        assert!(h.contains("factor of `year^2`"), "{h}");
    }

    #[test]
    fn hint_case_only() {
        let h = mismatch_hint(&u("GBP/year"), &u("gbp/year")).unwrap();
        assert!(
            h.contains("`GBP` and `gbp` differ only in letter case"),
            "{h}"
        );
        let h = mismatch_hint(&u("Beds"), &u("beds")).unwrap();
        assert!(h.contains("case-sensitive"), "{h}");
    }

    #[test]
    fn hint_none_when_nothing_useful() {
        assert_eq!(mismatch_hint(&u("people"), &u("people")), None);
        assert_eq!(mismatch_hint(&u("people"), &u("GBP")), None);
        assert_eq!(mismatch_hint(&u("people/year"), &u("GBP/bed_day")), None);
        assert_eq!(
            mismatch_hint(&Unit::dimensionless(), &Unit::dimensionless()),
            None
        );
    }
}
