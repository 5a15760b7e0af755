//! XMILE equations → the careshift equation language (docs/EQUATIONS.md), keeping for every
//! byte of the result the place in the XMILE file it came from, so that the compiler's errors
//! point into the XMILE file.
//!
//! The translation is token by token: names are canonicalised (case, spaces ≡ underscores,
//! quoted names) and turned into identifiers; builtins are renamed (SMTH1 → smooth, SAFEDIV →
//! zidz/xidz, LOOKUP(gf, x) → gf(x), ...); subscripts are resolved to dimensions, elements
//! (by name, `dim.elem` or 1-based position) or `*`; macros are expanded in place. Operators,
//! `IF THEN ELSE` and `MOD` are the same in both languages.

use std::collections::HashMap;

use super::names::{canonical, ident};
use super::xml::Located;
use crate::diagnostics::{Diagnostic, FileId};

/// What the translator needs to know about the model's names.
pub struct Names {
    /// Canonical variable name (module-qualified `m.v` inside modules) → variable.
    pub vars: HashMap<String, VarInfo>,
    /// Canonical dimension name → dimension.
    pub dims: HashMap<String, DimInfo>,
    /// Canonical macro name → macro.
    pub macros: HashMap<String, Macro>,
    pub start: f64,
    pub stop: f64,
    /// Calls of macros with their own variables met while translating (see [`Instance`]).
    pub instances: std::cell::RefCell<Vec<Instance>>,
    /// The file was converted from Vensim (its header names Vensim): INT truncates toward
    /// zero and MOD keeps the sign of the dividend, as Vensim's INTEGER and MODULO do.
    pub vensim: bool,
}

pub struct VarInfo {
    /// The full identifier, module-qualified (`m.port`).
    pub ident: String,
    /// Canonical dimension names.
    pub dims: Vec<String>,
    /// The identifier of the variable's graphical function, if it has one.
    pub lookup: Option<String>,
}

pub struct DimInfo {
    pub ident: String,
    /// Element names as written.
    pub elements: Vec<String>,
}

impl DimInfo {
    fn position(&self, canon: &str) -> Option<usize> {
        self.elements.iter().position(|e| canonical(e) == canon)
    }
}

/// An expression macro: `NAME(p1, p2) = body`.
pub struct Macro {
    pub params: Vec<String>,
    pub body: Located,
    pub file: FileId,
    /// The macro has its own `<variables>` (stocks...): each call is an instance of them.
    pub stateful: bool,
}

/// One call of a macro with its own variables: its variables live under the module path
/// `{caller scope}{name}.`, its parameters take the call's arguments (translated in the
/// caller's scope), and the call's value is the variable `{name}._value`.
pub struct Instance {
    /// Canonical macro name.
    pub macro_name: String,
    /// Instance name (canonical; unique in the model).
    pub name: String,
    /// Canonical module path of the caller.
    pub caller_scope: String,
    /// (canonical parameter, translated argument).
    pub args: Vec<(String, Output)>,
    /// Where the call is (file offset range).
    pub at: (usize, usize),
    /// Canonical dimensions of the calling variable: the instance is arrayed over them (one
    /// instance per element; its variables and parameters match the caller by dimension name).
    pub dims: Vec<String>,
}

/// The variable holding a stateful macro instance's value.
pub const MACRO_VALUE: &str = "_value";

/// Builtins whose name and arguments are the same in both languages.
const SAME: &[&str] = &[
    "abs",
    "exp",
    "ln",
    "log10",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "int",
    "round",
    "min",
    "max",
    "sum",
    "mean",
    "prod",
    "step",
    "ramp",
    "pulse",
    "delay1",
    "delay3",
    "delayn",
    "trend",
    "init",
    "previous",
    "smooth",
    "smooth3",
    "modulo",
    "mod",
    "xidz",
    "zidz",
    "if",
    "pulse_train",
    "delay_fixed",
    "stddev",
    "rank",
];

/// Builtins not supported yet, with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "normal",
        "random functions (NORMAL) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "random",
        "random functions (RANDOM) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "uniform",
        "random functions (UNIFORM) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "exprnd",
        "random functions (EXPRND) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "poisson",
        "random functions (POISSON) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "lognormal",
        "random functions (LOGNORMAL) are not supported: uncertainty belongs in a careshift scenario",
    ),
    (
        "npv",
        "NPV inside equations is not supported: use a scenario metric",
    ),
];

const KEYWORDS: &[&str] = &["if", "then", "else", "and", "or", "not", "mod"];

/// Deepest macro-in-macro expansion.
const MAX_MACRO_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Number,
    /// A name: unquoted words (several words separated by spaces are one name) or quoted.
    Name {
        text: String,
        quoted: bool,
    },
    Op(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The translated text and each byte's file offset (plus one for the end).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    pub text: String,
    pub offsets: Vec<usize>,
}

impl Output {
    /// Append `s`, every byte pointing at `at`, then a space pointing at `end` (so that a
    /// span ending after `s` ends at `end` in the file).
    fn push(&mut self, s: &str, at: usize, end: usize) {
        self.text.push_str(s);
        self.offsets.extend(std::iter::repeat_n(at, s.len()));
        self.text.push(' ');
        self.offsets.push(end);
    }

    fn append(&mut self, other: &Output) {
        self.text.push_str(&other.text);
        self.offsets.extend_from_slice(&other.offsets);
    }

    /// Close the offset list with the end position.
    pub fn finish(mut self, end: usize) -> Output {
        self.offsets.push(end);
        self
    }
}

/// Translate one equation. `dims` are the canonical dimensions of the variable it defines;
/// `scope` is the canonical module path its names are resolved in (`""` or `"m."`).
pub fn translate(
    eqn: &Located,
    file: FileId,
    names: &Names,
    dims: &[String],
    scope: &str,
) -> Result<Output, Diagnostic> {
    let tokens = lex(eqn, file)?;
    let mut t = Translator {
        names,
        scope,
        dims,
        src: eqn,
        file,
        params: Vec::new(),
        depth: 0,
    };
    let mut out = Output::default();
    t.expr(&tokens, false, &mut out)?;
    let end = *eqn.offsets.last().unwrap_or(&0);
    Ok(out.finish(end))
}

fn lex(src: &Located, file: FileId) -> Result<Vec<Token>, Diagnostic> {
    let text = &src.text;
    let bytes = text.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    let err = |msg: String, s: usize, e: usize| Diagnostic::error(msg).at(src.location(file, s, e));
    while i < bytes.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        // A Vensim line continuation left in the text: `\` then a line end.
        if c == '\\'
            && text[i + 1..]
                .trim_start_matches([' ', '\t', '\r'])
                .starts_with('\n')
        {
            i += 1;
            continue;
        }
        if c == '{' {
            // XMILE comment.
            let close = text[i..]
                .find('}')
                .ok_or_else(|| err("unterminated comment: missing `}`".into(), i, i + 1))?;
            i += close + 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                let mut j = i + 1;
                if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                    j += 1;
                }
                if j < bytes.len() && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            tokens.push(Token {
                kind: Kind::Number,
                start,
                end: i,
            });
            continue;
        }
        if c == '"' {
            let mut name = String::new();
            let mut j = i + 1;
            let mut closed = false;
            while j < bytes.len() {
                let d = text[j..].chars().next().unwrap_or('"');
                if d == '\\'
                    && j + 1 < bytes.len()
                    && (bytes[j + 1] == b'"' || bytes[j + 1] == b'\\')
                {
                    name.push(bytes[j + 1] as char);
                    j += 2;
                    continue;
                }
                j += d.len_utf8();
                if d == '"' {
                    closed = true;
                    break;
                }
                name.push(d);
            }
            if !closed {
                return Err(err(
                    "unterminated quoted name: missing the closing `\"`".into(),
                    start,
                    j,
                )
                .help("add `\"` after the name"));
            }
            i = j;
            // `"module".var` and `"a".b` stay one name.
            let mut kind = Kind::Name {
                text: name,
                quoted: true,
            };
            extend_dotted(text, &mut i, &mut kind);
            tokens.push(Token {
                kind,
                start,
                end: i,
            });
            continue;
        }
        if is_name_char(c) {
            while i < bytes.len() {
                let d = text[i..].chars().next().unwrap_or(' ');
                if is_name_char(d)
                    || (d == '.'
                        && text[i + 1..].starts_with(|e: char| is_name_char(e) || e == '"'))
                {
                    i += d.len_utf8();
                } else {
                    break;
                }
            }
            let word = text[start..i].to_string();
            // Several words separated by spaces are one name (`EXPRESSION MACRO(...)`), as long
            // as none of them is a keyword.
            if let Some(prev) = tokens.last_mut()
                && let Kind::Name {
                    text: prev_text,
                    quoted: false,
                } = &mut prev.kind
                && !is_keyword(prev_text)
                && !is_keyword(&word)
                && text[prev.end..start].chars().all(|c| c == ' ' || c == '\t')
            {
                prev_text.push(' ');
                prev_text.push_str(&word);
                prev.end = i;
                continue;
            }
            tokens.push(Token {
                kind: Kind::Name {
                    text: word,
                    quoted: false,
                },
                start,
                end: i,
            });
            continue;
        }
        let two = text.get(i..i + 2).unwrap_or("");
        let (op, n): (&'static str, usize) = match two {
            "<=" => ("<=", 2),
            ">=" => (">=", 2),
            "<>" => ("<>", 2),
            "==" => ("=", 2),
            "!=" => ("<>", 2),
            "&&" => ("and", 2),
            "||" => ("or", 2),
            _ => match c {
                '+' => ("+", 1),
                '-' => ("-", 1),
                '*' => ("*", 1),
                '/' => ("/", 1),
                '^' => ("^", 1),
                '(' => ("(", 1),
                ')' => (")", 1),
                '[' => ("[", 1),
                ']' => ("]", 1),
                ',' => (",", 1),
                '=' => ("=", 1),
                '<' => ("<", 1),
                '>' => (">", 1),
                ':' => (":", 1),
                '!' => ("!", 1),
                _ => {
                    return Err(err(
                        format!("unexpected character `{c}` in the equation"),
                        i,
                        i + c.len_utf8(),
                    )
                    .help("quote names that contain special characters: \"my name\""));
                }
            },
        };
        i += n;
        tokens.push(Token {
            kind: Kind::Op(op),
            start,
            end: i,
        });
    }
    Ok(tokens)
}

fn extend_dotted(text: &str, i: &mut usize, kind: &mut Kind) {
    let Kind::Name { text: name, .. } = kind else {
        return;
    };
    while text[*i..].starts_with('.') && text[*i + 1..].starts_with(|c: char| is_name_char(c)) {
        name.push('.');
        *i += 1;
        while let Some(d) = text[*i..].chars().next().filter(|&d| is_name_char(d)) {
            name.push(d);
            *i += d.len_utf8();
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '\''
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Canonical form of a possibly module-qualified name (`Module.Var name` → `module.var_name`).
pub fn canonical_path(name: &str) -> String {
    name.split('.').map(canonical).collect::<Vec<_>>().join(".")
}

struct Translator<'a> {
    names: &'a Names,
    /// Canonical module path the names are resolved in.
    scope: &'a str,
    /// Dimensions of the variable being defined.
    dims: &'a [String],
    src: &'a Located,
    file: FileId,
    /// Macro parameters in scope: canonical name → translated argument.
    params: Vec<(String, Output)>,
    depth: usize,
}

impl Translator<'_> {
    /// The variable a canonical name means in this scope.
    fn lookup_var(&self, canon: &str) -> Option<&VarInfo> {
        self.names.vars.get(&format!("{}{canon}", self.scope))
    }

    /// A full identifier as written inside this scope (the compiler adds the scope back).
    fn relative(&self, full_ident: &str) -> String {
        let prefix: String = self
            .scope
            .split_terminator('.')
            .map(|p| format!("{}.", ident(p)))
            .collect();
        full_ident
            .strip_prefix(&prefix)
            .unwrap_or(full_ident)
            .to_string()
    }

    fn loc_err(&self, msg: impl Into<String>, t: &Token) -> Diagnostic {
        Diagnostic::error(msg).at(self.src.location(self.file, t.start, t.end))
    }

    fn at(&self, t: &Token) -> (usize, usize) {
        (
            self.src.offsets[t.start.min(self.src.offsets.len() - 1)],
            self.src.offsets[t.end.min(self.src.offsets.len() - 1)],
        )
    }

    fn emit(&self, out: &mut Output, s: &str, t: &Token) {
        let (a, b) = self.at(t);
        out.push(s, a, b);
    }

    fn expr(&mut self, toks: &[Token], agg: bool, out: &mut Output) -> Result<(), Diagnostic> {
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            match &t.kind {
                Kind::Number => self.emit(out, &self.src.text[t.start..t.end], t),
                Kind::Op(op) => {
                    match *op {
                        "[" | "]" | ":" => {
                            return Err(self
                                .loc_err(format!("unexpected `{op}`"), t)
                                .help("subscripts follow a variable name: `name[dim]`"));
                        }
                        "!" => {
                            return Err(self.loc_err("`!` (array transposition or dimension marker) is not supported yet", t));
                        }
                        _ => self.emit(out, op, t),
                    }
                }
                Kind::Name { text, quoted } => {
                    if !quoted && is_keyword(text) {
                        let word = text.to_ascii_lowercase();
                        let word = if word == "mod" && self.names.vensim {
                            "rem".into()
                        } else {
                            word
                        };
                        self.emit(out, &word, t);
                    } else if toks.get(i + 1).is_some_and(|n| n.kind == Kind::Op("(")) {
                        let close = matching(toks, i + 1, "(", ")").ok_or_else(|| {
                            self.loc_err("missing `)` for this call", &toks[i + 1])
                        })?;
                        self.call(t, text, &toks[i + 2..close], &toks[close], out)?;
                        i = close;
                    } else if toks.get(i + 1).is_some_and(|n| n.kind == Kind::Op("[")) {
                        let close = matching(toks, i + 1, "[", "]").ok_or_else(|| {
                            self.loc_err("missing `]` for these subscripts", &toks[i + 1])
                        })?;
                        self.variable(t, text, Some(&toks[i + 2..close]), &toks[close], agg, out)?;
                        i = close;
                    } else {
                        self.variable(t, text, None, t, agg, out)?;
                    }
                }
            }
            i += 1;
        }
        Ok(())
    }

    fn variable(
        &mut self,
        t: &Token,
        name: &str,
        subs: Option<&[Token]>,
        last: &Token,
        agg: bool,
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        let canon = canonical_path(name);
        if subs.is_none()
            && let Some((_, arg)) = self.params.iter().rev().find(|(p, _)| *p == canon)
        {
            let (a, b) = self.at(t);
            let arg = arg.clone();
            out.push("(", a, a);
            out.append(&arg);
            out.push(")", b, b);
            return Ok(());
        }
        if let Some(base) = canon.strip_suffix('\'')
            && self.lookup_var(base).is_some()
        {
            return Err(self.loc_err(
                format!("`{name}`: array transposition (`'`) is not supported"),
                t,
            ).help("write the transposed array as its own variable with its subscripts swapped: b[d2, d1] = a[d1, d2]"));
        }
        let Some(var) = self.lookup_var(&canon) else {
            if subs.is_none() {
                let builtin = match canon.as_str() {
                    "time" => Some("time".to_string()),
                    "dt" => Some("dt".to_string()),
                    // The control constants INITIAL TIME / FINAL TIME (added by the importer,
                    // set from each run's time settings); inside a module, where they are not
                    // in scope, the file's numbers.
                    "starttime" | "initial_time" if self.scope.is_empty() => {
                        Some(ident("initial_time"))
                    }
                    "stoptime" | "final_time" if self.scope.is_empty() => Some(ident("final_time")),
                    "starttime" | "initial_time" => Some(number(self.names.start)),
                    "stoptime" | "final_time" => Some(number(self.names.stop)),
                    "pi" => Some(number(std::f64::consts::PI)),
                    "inf" | "infinity" => Some("1e300".to_string()),
                    _ => None,
                };
                if let Some(b) = builtin {
                    self.emit(out, &b, t);
                    return Ok(());
                }
            }
            // Let the compiler report the unknown name (with suggestions) at this place.
            self.emit(
                out,
                &canon.split('.').map(ident).collect::<Vec<_>>().join("."),
                t,
            );
            if let Some(subs) = subs {
                self.subscripts(subs, &[], agg, out)?;
                self.emit(out, "]", last);
            }
            return Ok(());
        };
        self.emit(out, &self.relative(&var.ident), t);
        if let Some(subs) = subs {
            let dims = var.dims.clone();
            self.subscripts(subs, &dims, agg, out)?;
            self.emit(out, "]", last);
        } else if agg && !var.dims.is_empty() {
            // An array builtin's argument without subscripts is the whole array (XMILE; Stella:
            // "SUM(A)" sums every element of A, whatever the dimensions of the variable defined).
            let every = vec!["*"; var.dims.len()].join(",");
            self.emit(out, &format!("[{every}]"), t);
        }
        Ok(())
    }

    /// `[` and the subscripts of a variable over `dims` (the closing `]` is the caller's).
    fn subscripts(
        &mut self,
        subs: &[Token],
        dims: &[String],
        agg: bool,
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        let Some(first) = subs.first() else {
            return Ok(());
        };
        let (a, _) = self.at(first);
        out.push("[", a, a);
        for (k, part) in split_commas(subs).into_iter().enumerate() {
            if part.is_empty() {
                return Err(self
                    .loc_err("empty subscript", first)
                    .help("remove the extra `,`"));
            }
            if k > 0 {
                let (a, _) = self.at(&part[0]);
                out.push(",", a, a);
            }
            let dim = dims.get(k).and_then(|d| self.names.dims.get(d));
            match part {
                [t] if t.kind == Kind::Op("*") => self.emit(out, "*", t),
                // `Dim!`: every element of Dim (Vensim's notation, which PySD writes in XMILE).
                [t, bang]
                    if bang.kind == Kind::Op("!")
                        && matches!(&t.kind, Kind::Name { text, .. } if self.names.dims.contains_key(&canonical(text))) =>
                {
                    self.emit(out, "*", t)
                }
                [t] if t.kind == Kind::Number => {
                    let text = &self.src.text[t.start..t.end];
                    let pos = text
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.fract() == 0.0 && *v >= 1.0);
                    let elem = pos.and_then(|p| dim.and_then(|d| d.elements.get(p as usize - 1)));
                    match elem {
                        Some(e) => self.emit(out, &quote(e), t),
                        None => {
                            return Err(self.loc_err(
                                format!("subscript {text} is not an element position of this dimension"),
                                t,
                            )
                            .help("positions count from 1 up to the number of elements"));
                        }
                    }
                }
                [t] if matches!(t.kind, Kind::Name { .. }) => {
                    let Kind::Name { text, .. } = &t.kind else {
                        unreachable!()
                    };
                    let s = self.element_or_dim(t, text, dim, dims.get(k), agg)?;
                    self.emit(out, &s, t);
                }
                [a, colon, b]
                    if colon.kind == Kind::Op(":")
                        && matches!(a.kind, Kind::Name { .. } | Kind::Number)
                        && matches!(b.kind, Kind::Name { .. } | Kind::Number) =>
                {
                    for (n, t) in [a, b].into_iter().enumerate() {
                        let name = match &t.kind {
                            Kind::Name { text, .. } => text.clone(),
                            _ => self.src.text[t.start..t.end].to_string(),
                        };
                        // An element name, else (a number) a 1-based position.
                        let e = dim.and_then(|d| {
                            d.position(&canonical(&name))
                                .or_else(|| {
                                    (t.kind == Kind::Number)
                                        .then(|| name.parse::<usize>().ok())
                                        .flatten()
                                        .filter(|p| (1..=d.elements.len()).contains(p))
                                        .map(|p| p - 1)
                                })
                                .map(|p| d.elements[p].clone())
                        });
                        let Some(e) = e else {
                            return Err(self.loc_err(
                                format!("`{name}` is not an element of this dimension"),
                                t,
                            ));
                        };
                        if n == 1 {
                            self.emit(out, "..", colon);
                        }
                        self.emit(out, &quote(&e), t);
                    }
                }
                _ => {
                    let t = &part[0];
                    return Err(self.loc_err(
                        "this subscript is not supported: subscripts must be a dimension, an element, a position, `*` or a range `a:b`",
                        t,
                    ));
                }
            }
        }
        Ok(())
    }

    fn element_or_dim(
        &self,
        t: &Token,
        text: &str,
        dim: Option<&DimInfo>,
        dim_name: Option<&String>,
        agg: bool,
    ) -> Result<String, Diagnostic> {
        let canon = canonical_path(text);
        if let Some((d, e)) = canon.split_once('.')
            && let Some(info) = self.names.dims.get(d)
            && let Some(p) = info.position(e)
        {
            return Ok(quote(&info.elements[p]));
        }
        if let Some(info) = self.names.dims.get(&canon) {
            // Inside an aggregate, a dimension the defined variable does not have means
            // "every element" (XMILE: SUM(a[Dim])). Another dimension (a subrange of this
            // position's dimension) keeps its name: the compiler maps its elements by name.
            if agg && !self.dims.contains(&canon) && dim_name.is_none_or(|d| *d == canon) {
                return Ok("*".into());
            }
            return Ok(info.ident.clone());
        }
        if let Some(p) = dim.and_then(|d| d.position(&canon)) {
            return Ok(quote(
                &dim.map(|d| d.elements[p].clone()).unwrap_or_default(),
            ));
        }
        for info in self.names.dims.values() {
            if let Some(p) = info.position(&canon) {
                return Ok(quote(&info.elements[p]));
            }
        }
        Err(self.loc_err(
            format!("`{text}` is neither a dimension nor an element of one"),
            t,
        )
        .help("name a dimension (or a subrange: a dimension whose elements are all elements of this one), an element, or a position"))
    }

    fn call(
        &mut self,
        name_tok: &Token,
        name: &str,
        args: &[Token],
        close: &Token,
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        let f = canonical_path(name);
        let parts = if args.is_empty() {
            Vec::new()
        } else {
            split_commas(args)
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(self
                .loc_err(format!("an argument of `{name}` is empty"), name_tok)
                .help("remove the extra `,` or write the missing argument"));
        }
        if let Some(var) = self.lookup_var(&f)
            && let Some(lookup) = &var.lookup
        {
            let lookup = self.relative(lookup);
            return self.emit_call(name_tok, &lookup, &parts, close, false, out);
        }
        if let Some(m) = self.names.macros.get(&f) {
            return self.expand_macro(name_tok, name, m, &parts, out);
        }
        if f == "smthn" {
            return self.smooth_n(name_tok, &parts, out);
        }
        if f == "delay" {
            self.arity(name_tok, &parts, 2, "DELAY(input, delay_time [, initial])")?;
        }
        if f == "forcst" {
            return self.forecast(name_tok, &parts, out);
        }
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == f) {
            return Err(self.loc_err(
                format!("unsupported XMILE builtin `{name}`: {why}"),
                name_tok,
            ));
        }
        let renamed = match f.as_str() {
            "int" if self.names.vensim => "integer",
            "smth1" => "smooth",
            "delay" => "delay_fixed",
            "smth3" => "smooth3",
            "if_then_else" => "if",
            "safediv" if parts.len() == 2 => "zidz",
            "safediv" => "xidz",
            "lookup" => {
                let gf = match parts.first() {
                    Some([t]) => match &t.kind {
                        Kind::Name { text, .. } => self
                            .lookup_var(&canonical_path(text))
                            .and_then(|v| v.lookup.as_deref())
                            .map(|l| self.relative(l)),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(gf) = gf else {
                    return Err(self.loc_err(
                        "LOOKUP's first argument must name a graphical function",
                        name_tok,
                    ));
                };
                return self.emit_call(name_tok, &gf, &parts[1..], close, false, out);
            }
            "size" => {
                let n = self.size_of(name_tok, &parts)?;
                self.emit(out, &n.to_string(), name_tok);
                return Ok(());
            }
            other if SAME.contains(&other) => other,
            _ => {
                return Err(self.loc_err(format!("unknown function `{name}`"), name_tok).help(
                    "it is neither an XMILE builtin nor a graphical function or <macro> defined in this file \
                     (a Vensim macro converted to XMILE must come with its <macro> definition)",
                ));
            }
        };
        if renamed == "rank" && parts.len() != 2 {
            return Err(self.loc_err(
                "RANK takes 2 arguments here: RANK(array, rank) (a tiebreaker array is not supported; ties go to the earlier element)",
                name_tok,
            ));
        }
        if renamed == "rank" {
            // The array is iterated over; the rank is an ordinary expression.
            self.emit(out, "rank", name_tok);
            let (a, _) = self.at(name_tok);
            out.push("(", a, a);
            self.expr(parts[0], true, out)?;
            let (a, _) = self.at(&parts[1][0]);
            out.push(",", a, a);
            self.expr(parts[1], false, out)?;
            self.emit(out, ")", close);
            return Ok(());
        }
        let agg = matches!(renamed, "sum" | "mean" | "prod" | "stddev")
            || (matches!(renamed, "min" | "max") && parts.len() == 1);
        self.emit_call(name_tok, renamed, &parts, close, agg, out)
    }

    fn emit_call(
        &mut self,
        name_tok: &Token,
        name: &str,
        parts: &[&[Token]],
        close: &Token,
        agg: bool,
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        self.emit(out, name, name_tok);
        let (a, _) = self.at(name_tok);
        out.push("(", a, a);
        for (k, part) in parts.iter().enumerate() {
            if k > 0 {
                let (a, _) = self.at(&part[0]);
                out.push(",", a, a);
            }
            self.expr(part, agg, out)?;
        }
        self.emit(out, ")", close);
        Ok(())
    }

    /// `SMTHN(x, T, n [, init])`: n first-order smooths of T/n each in series (as SMTH3 is
    /// three); n must be a whole number written in the equation.
    fn smooth_n(
        &mut self,
        t: &Token,
        parts: &[&[Token]],
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        self.arity(t, parts, 3, "SMTHN(input, time, order [, initial])")?;
        let order = match parts[2] {
            [n] if n.kind == Kind::Number => self.src.text[n.start..n.end].parse::<f64>().ok(),
            _ => None,
        }
        .filter(|n| n.fract() == 0.0 && (1.0..=100.0).contains(n));
        let Some(order) = order else {
            return Err(self.loc_err(
                "SMTHN's order must be a whole number from 1 to 100 written in the equation",
                t,
            ));
        };
        let args = self.translate_args(parts)?;
        let (input, time, init) = (&args[0], &args[1], args.get(3));
        let (a, b) = self.at(t);
        let n = order as usize;
        for _ in 0..n {
            out.push("smooth(", a, a);
        }
        out.append(input);
        for _ in 0..n {
            out.push(",(", a, a);
            out.append(time);
            out.push(&format!(")/{}", number(order)), b, b);
            if let Some(init) = init {
                out.push(",", b, b);
                out.append(init);
            }
            out.push(")", b, b);
        }
        Ok(())
    }

    /// `min` or `min + 1` arguments (the last one optional), else an error showing `usage`.
    fn arity(
        &self,
        t: &Token,
        parts: &[&[Token]],
        min: usize,
        usage: &str,
    ) -> Result<(), Diagnostic> {
        if (min..=min + 1).contains(&parts.len()) {
            return Ok(());
        }
        let name = usage.split('(').next().unwrap_or(usage);
        Err(self.loc_err(
            format!("{name} takes {min} or {} arguments: {usage}", min + 1),
            t,
        ))
    }

    /// Each argument translated on its own (not inside an aggregate).
    fn translate_args(&mut self, parts: &[&[Token]]) -> Result<Vec<Output>, Diagnostic> {
        parts
            .iter()
            .map(|part| {
                let mut o = Output::default();
                self.expr(part, false, &mut o)?;
                Ok(o)
            })
            .collect()
    }

    /// `FORCST(x, T, h [, initial_trend])`: x·(1 + TREND(x, T, initial_trend)·h), the input
    /// extrapolated `h` time units ahead along its trend over `T` (XMILE 1.0, as Vensim's
    /// FORECAST).
    fn forecast(
        &mut self,
        t: &Token,
        parts: &[&[Token]],
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        self.arity(
            t,
            parts,
            3,
            "FORCST(input, averaging_time, horizon [, initial_trend])",
        )?;
        let args = self.translate_args(parts)?;
        let (a, b) = self.at(t);
        out.push("((", a, a);
        out.append(&args[0]);
        out.push(")*(1+trend(", a, a);
        out.append(&args[0]);
        out.push(",", a, a);
        out.append(&args[1]);
        if let Some(init) = args.get(3) {
            out.push(",", a, a);
            out.append(init);
        }
        out.push(")*(", a, a);
        out.append(&args[2]);
        out.push(")))", b, b);
        Ok(())
    }

    /// `SIZE(a)`: the element count of `a`; `SIZE(a[...])`: of that slice (`*` or a dimension
    /// or subrange name counts its elements, an element or position counts 1, `e1:e2` its span).
    fn size_of(&self, t: &Token, parts: &[&[Token]]) -> Result<usize, Diagnostic> {
        let bad = || {
            self.loc_err(
                "SIZE needs one arrayed variable (or a slice of one) as its argument",
                t,
            )
        };
        let [[first, rest @ ..]] = parts else {
            return Err(bad());
        };
        let Kind::Name { text, .. } = &first.kind else {
            return Err(bad());
        };
        let Some(v) = self.lookup_var(&canonical_path(text)) else {
            return Err(bad());
        };
        let dim = |k: usize| v.dims.get(k).and_then(|d| self.names.dims.get(d));
        let subs = match rest {
            [] => {
                return Ok((0..v.dims.len())
                    .filter_map(dim)
                    .map(|d| d.elements.len())
                    .product());
            }
            [open, inner @ .., close]
                if open.kind == Kind::Op("[") && close.kind == Kind::Op("]") =>
            {
                split_commas(inner)
            }
            _ => return Err(bad()),
        };
        let position = |d: &DimInfo, tok: &Token| -> Option<usize> {
            let text = &self.src.text[tok.start..tok.end];
            let name = match &tok.kind {
                Kind::Name { text, .. } => text.as_str(),
                _ => text,
            };
            d.position(&canonical(name)).or_else(|| {
                text.parse::<usize>()
                    .ok()
                    .filter(|p| (1..=d.elements.len()).contains(p))
                    .map(|p| p - 1)
            })
        };
        let mut size = 1;
        for (k, part) in subs.iter().enumerate() {
            let d = dim(k).ok_or_else(bad)?;
            size *= match part {
                [s] if s.kind == Kind::Op("*") => d.elements.len(),
                [s] if matches!(&s.kind, Kind::Name { text, .. } if self.names.dims.contains_key(&canonical(text))) =>
                {
                    let Kind::Name { text, .. } = &s.kind else {
                        unreachable!()
                    };
                    self.names.dims[&canonical(text)].elements.len()
                }
                [s] if position(d, s).is_some() => 1,
                [a, colon, b] if colon.kind == Kind::Op(":") => {
                    match (position(d, a), position(d, b)) {
                        (Some(a), Some(b)) => a.abs_diff(b) + 1,
                        _ => return Err(bad()),
                    }
                }
                _ => return Err(bad()),
            };
        }
        Ok(size)
    }

    fn expand_macro(
        &mut self,
        t: &Token,
        name: &str,
        m: &Macro,
        parts: &[&[Token]],
        out: &mut Output,
    ) -> Result<(), Diagnostic> {
        if parts.len() != m.params.len() {
            return Err(self.loc_err(
                format!(
                    "macro `{name}` takes {} arguments, not {}",
                    m.params.len(),
                    parts.len()
                ),
                t,
            ));
        }
        if self.depth >= MAX_MACRO_DEPTH {
            return Err(self.loc_err(
                format!(
                    "macros nested more than {MAX_MACRO_DEPTH} deep (a macro that calls itself?)"
                ),
                t,
            ));
        }
        let mut args = Vec::new();
        for (p, part) in m.params.iter().zip(parts) {
            let mut o = Output::default();
            self.expr(part, false, &mut o)?;
            let end = o.offsets.last().copied().unwrap_or(0);
            args.push((p.clone(), o.finish(end)));
        }
        if m.stateful {
            let (a, b) = self.at(t);
            let mut instances = self.names.instances.borrow_mut();
            let instance = format!("{}_{}", canonical(name), instances.len() + 1);
            let reference = format!("{}.{MACRO_VALUE}", ident(&instance));
            instances.push(Instance {
                macro_name: canonical(name),
                name: instance,
                caller_scope: self.scope.to_string(),
                args,
                at: (a, b),
                dims: self.dims.to_vec(),
            });
            drop(instances);
            self.emit(out, &reference, t);
            return Ok(());
        }
        // Inline expansion: the arguments' closing offset is not part of the text.
        for (_, o) in &mut args {
            o.offsets.pop();
        }
        let tokens = lex(&m.body, m.file)?;
        let mut inner = Translator {
            names: self.names,
            scope: self.scope,
            dims: self.dims,
            src: &m.body,
            file: m.file,
            params: args,
            depth: self.depth + 1,
        };
        let (a, b) = self.at(t);
        out.push("(", a, a);
        inner.expr(&tokens, false, out)?;
        out.push(")", b, b);
        Ok(())
    }
}

/// Index of the token closing the bracket opened at `open`.
fn matching(toks: &[Token], open: usize, o: &str, c: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if let Kind::Op(op) = t.kind {
            if op == o {
                depth += 1;
            } else if op == c {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
        }
    }
    None
}

/// Split at top-level commas.
fn split_commas(toks: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (k, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Op("(" | "[") => depth += 1,
            Kind::Op(")" | "]") => depth -= 1,
            Kind::Op(",") if depth == 0 => {
                parts.push(&toks[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[start..]);
    parts
}

/// An element name as a quoted subscript.
fn quote(e: &str) -> String {
    if e.contains('"') {
        format!("'{e}'")
    } else {
        format!("\"{e}\"")
    }
}

/// A number as equation text that reads back to the same value.
pub fn number(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains('e') || s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}
