//! [`ModelDecl`] → XMILE 1.0 text that Stella, PySD and Simlin can run.
//!
//! Modules are flattened (`frailty.onset_rate` → `frailty_onset_rate`, with a numeric suffix
//! on a clash); element names that are not identifiers are made so (`0-64` → `age_0_64`,
//! `85+` → `age_85plus`); builtins are mapped to XMILE's (smooth → SMTH1, zidz/xidz → SAFEDIV,
//! modulo → MOD, ...) or written out as equivalent expressions (round, ramp with an end,
//! pulse_train, element ranges inside aggregates). Each equation is parsed and printed fully
//! parenthesised, so precedence never depends on the reader. [`Export::columns`] maps every
//! careshift output column to the column the exported model gives, for comparisons.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::equation::number;
use super::names::canonical;
use crate::diagnostics::Diagnostic;
use crate::equation::{self, BinaryOp, Expr, ExprKind, Subscript, UnaryOp};
use crate::model::{Definition, Method, ModelDecl, VarDecl, VarKind};
use crate::output::escape_markup as escape;

/// Namespace of careshift's vendor attributes (other tools ignore them).
pub const CARESHIFT_NS: &str = "https://careshift.invalid/xmile";

/// An exported model.
pub struct Export {
    pub xml: String,
    /// careshift output column → the exported model's column (only where they differ).
    pub columns: HashMap<String, String>,
    /// Things a reader of the export should know (renamed elements, approximations).
    pub notes: Vec<Diagnostic>,
}

/// Which readers the file is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// XMILE 1.0 as the specification, Stella and Simlin read it.
    Standard,
    /// PySD's XMILE reader, which writes "every element of Dim" as `Dim!` instead of `*`.
    Pysd,
}

struct Exporter<'m> {
    flavor: Flavor,
    model: &'m ModelDecl,
    /// Full careshift name → XMILE name.
    names: HashMap<String, String>,
    vars: HashMap<&'m str, &'m VarDecl>,
    /// Dimension → (element as in careshift → element in XMILE), in order.
    elements: HashMap<String, Vec<(String, String)>>,
}

/// Write `model` as XMILE.
pub fn export(model: &ModelDecl) -> Result<Export, Diagnostic> {
    export_for(model, Flavor::Standard)
}

/// [`export`] for a given reader.
pub fn export_for(model: &ModelDecl, flavor: Flavor) -> Result<Export, Diagnostic> {
    let mut names = HashMap::new();
    let mut taken: HashSet<String> = HashSet::new();
    for v in &model.vars {
        // A name imported from XMILE keeps the modeller's spelling.
        // (Flattened: a `.` would mean a module in XMILE.)
        let base = match model.dialect.labels.get(&v.name) {
            Some(label) => label.replace('.', "_"),
            None => v.name.replace('.', "_"),
        };
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(canonical(&name)) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.insert(v.name.clone(), name);
    }
    let mut elements = HashMap::new();
    let mut notes = Vec::new();
    for d in &model.dimensions {
        let mut seen = HashSet::new();
        let mut list = Vec::new();
        for e in &d.elements {
            let safe = safe_element(&d.name, e);
            let mut x = safe.clone();
            let mut n = 2;
            while !seen.insert(canonical(&x)) {
                x = format!("{safe} {n}");
                n += 1;
            }
            list.push((e.clone(), x));
        }
        let renamed: Vec<String> = list
            .iter()
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{a} → {b}"))
            .collect();
        if !renamed.is_empty() {
            notes.push(Diagnostic::warning(format!(
                "dimension `{}`: element names that are not identifiers are renamed in the XMILE file: {}",
                d.name,
                renamed.join(", ")
            )));
        }
        elements.insert(d.name.clone(), list);
    }
    let ex = Exporter {
        flavor,
        model,
        names,
        vars: model.vars.iter().map(|v| (v.name.as_str(), v)).collect(),
        elements,
    };
    let xml = ex.document(&mut notes)?;
    let columns = ex.columns();
    Ok(Export {
        xml,
        columns,
        notes,
    })
}

/// An element name that XMILE equations can refer to unquoted: kept if it is letters, digits,
/// spaces and `_` starting with a letter or `_`; else `{dim} {name}` with `+` as `plus` and other
/// characters as spaces (`85+` → `age 85plus`). Equations write spaces as `_` (XMILE treats them
/// alike; PySD reads elements that way).
fn safe_element(dim: &str, e: &str) -> String {
    let usable = e.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ');
    if usable {
        return e.to_string();
    }
    let mut s = String::new();
    for c in e.chars() {
        match c {
            '+' => s.push_str("plus"),
            c if c.is_ascii_alphanumeric() => s.push(c),
            _ => s.push(' '),
        }
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    format!("{dim} {}", words.join(" "))
}

impl Exporter<'_> {
    fn columns(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for v in &self.model.vars {
            if v.kind == VarKind::Lookup {
                continue;
            }
            let x = &self.names[&v.name];
            for (ours, theirs) in self.element_keys(&v.dims) {
                let a = if ours.is_empty() {
                    v.name.clone()
                } else {
                    format!("{}[{ours}]", v.name)
                };
                let b = if theirs.is_empty() {
                    x.clone()
                } else {
                    format!("{x}[{theirs}]")
                };
                if a != b {
                    out.insert(a, b);
                }
            }
        }
        out
    }

    /// Every element of an array over `dims`, row-major: (careshift key, XMILE key).
    fn element_keys(&self, dims: &[String]) -> Vec<(String, String)> {
        let mut keys = vec![(Vec::<String>::new(), Vec::<String>::new())];
        for d in dims {
            let list = &self.elements[d];
            keys = keys
                .into_iter()
                .flat_map(|(a, b)| {
                    list.iter().map(move |(e, x)| {
                        let mut a = a.clone();
                        let mut b = b.clone();
                        a.push(e.clone());
                        b.push(x.clone());
                        (a, b)
                    })
                })
                .collect();
        }
        keys.into_iter()
            .map(|(a, b)| (a.join(","), b.join(",")))
            .collect()
    }

    fn document(&self, notes: &mut Vec<Diagnostic>) -> Result<String, Diagnostic> {
        let m = self.model;
        let t = &m.time;
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        let _ = writeln!(
            x,
            "<xmile version=\"1.0\" xmlns=\"http://docs.oasis-open.org/xmile/ns/XMILE/v1.0\" xmlns:careshift=\"{CARESHIFT_NS}\">"
        );
        x.push_str("    <header>\n");
        let _ = writeln!(x, "        <name>{}</name>", escape(&m.name));
        x.push_str("        <vendor>careshift</vendor>\n");
        let _ = writeln!(
            x,
            "        <product version=\"{}\">careshift</product>",
            env!("CARGO_PKG_VERSION")
        );
        x.push_str("    </header>\n");
        let method = match t.method {
            Method::Euler => "Euler",
            Method::Rk4 => "RK4",
            Method::Dopri5 => {
                notes.push(Diagnostic::warning(
                    "method dopri5 is written as RK45 (an adaptive method); other tools may use a different one",
                ));
                "RK45"
            }
        };
        let _ = writeln!(
            x,
            "    <sim_specs method=\"{method}\" time_units=\"{}\" careshift:save_step=\"{}\">",
            escape(&t.units),
            number(t.save_step)
        );
        let _ = writeln!(x, "        <start>{}</start>", number(t.start));
        let _ = writeln!(x, "        <stop>{}</stop>", number(t.stop));
        let _ = writeln!(x, "        <dt>{}</dt>", number(t.dt));
        x.push_str("    </sim_specs>\n");
        if !m.dimensions.is_empty() {
            x.push_str("    <dimensions>\n");
            for d in &m.dimensions {
                let _ = writeln!(x, "        <dim name=\"{}\">", escape(&d.name));
                for (_, e) in &self.elements[&d.name] {
                    let _ = writeln!(x, "            <elem name=\"{}\"/>", escape(e));
                }
                x.push_str("        </dim>\n");
            }
            x.push_str("    </dimensions>\n");
        }
        x.push_str("    <model>\n        <variables>\n");
        for v in &m.vars {
            self.variable(v, &mut x)?;
        }
        x.push_str("        </variables>\n    </model>\n</xmile>\n");
        Ok(x)
    }

    fn variable(&self, v: &VarDecl, x: &mut String) -> Result<(), Diagnostic> {
        let name = escape(&self.names[&v.name]);
        let ind = "            ";
        if let Definition::Lookup(l) = &v.def {
            let kind = if l.discrete {
                "discrete"
            } else if l.extrapolate {
                "extrapolate"
            } else {
                "continuous"
            };
            let _ = writeln!(x, "{ind}<gf name=\"{name}\" type=\"{kind}\">");
            self.doc_units(v, x);
            let join = |v: &[f64]| v.iter().map(|n| number(*n)).collect::<Vec<_>>().join(",");
            let _ = writeln!(x, "{ind}    <xpts>{}</xpts>", join(&l.xs));
            let _ = writeln!(x, "{ind}    <ypts>{}</ypts>", join(&l.ys));
            let _ = writeln!(x, "{ind}</gf>");
            return Ok(());
        }
        // A module input bound to a flow is listed by a stock: it is a flow in XMILE.
        let listed = self.model.vars.iter().any(|s| {
            s.inflows
                .iter()
                .chain(&s.outflows)
                .any(|(f, _)| *f == v.name || full(&s.scope, f) == v.name)
        });
        let tag = match v.kind {
            VarKind::Stock => "stock",
            VarKind::Flow => "flow",
            _ if listed => "flow",
            _ => "aux",
        };
        let extra = if v.kind == VarKind::Stock && v.non_negative {
            " careshift:non_negative=\"scale_outflows\""
        } else {
            ""
        };
        let _ = writeln!(x, "{ind}<{tag} name=\"{name}\"{extra}>");
        self.doc_units(v, x);
        if !v.dims.is_empty() {
            let _ = writeln!(x, "{ind}    <dimensions>");
            for d in &v.dims {
                let _ = writeln!(x, "{ind}        <dim name=\"{}\"/>", escape(d));
            }
            let _ = writeln!(x, "{ind}    </dimensions>");
        }
        match &v.def {
            Definition::Equation(text) => {
                let eqn = self.equation(&text.text, v)?;
                let _ = writeln!(x, "{ind}    <eqn>{}</eqn>", escape(&eqn));
            }
            Definition::Values(values, _) if values.len() == 1 => {
                let _ = writeln!(x, "{ind}    <eqn>{}</eqn>", number(values[0]));
            }
            Definition::Values(values, _) => {
                for ((_, key), value) in self.element_keys(&v.dims).iter().zip(values) {
                    let _ = writeln!(
                        x,
                        "{ind}    <element subscript=\"{}\"><eqn>{}</eqn></element>",
                        escape(key),
                        number(*value)
                    );
                }
            }
            Definition::PerElement(list) => {
                for (key, _, text) in list {
                    let eqn = self.equation(&text.text, v)?;
                    let xkey: Vec<String> = key
                        .iter()
                        .zip(&v.dims)
                        .map(|(e, d)| self.element_name(d, e))
                        .collect();
                    let _ = writeln!(
                        x,
                        "{ind}    <element subscript=\"{}\"><eqn>{}</eqn></element>",
                        escape(&xkey.join(", ")),
                        escape(&eqn)
                    );
                }
            }
            Definition::Lookup(_) => unreachable!("handled above"),
        }
        for (f, _) in &v.inflows {
            let _ = writeln!(
                x,
                "{ind}    <inflow>{}</inflow>",
                escape(&self.flow_name(f, v))
            );
        }
        for (f, _) in &v.outflows {
            let _ = writeln!(
                x,
                "{ind}    <outflow>{}</outflow>",
                escape(&self.flow_name(f, v))
            );
        }
        // careshift's own non-negative stocks (marked above) and XMILE ones read from a file.
        let clamped = self.model.dialect.clamped_stocks.contains(&v.name);
        if v.kind == VarKind::Stock && (v.non_negative || clamped) {
            let _ = writeln!(x, "{ind}    <non_negative/>");
        }
        let _ = writeln!(x, "{ind}</{tag}>");
        Ok(())
    }

    /// A stock's flow, listed by its qualified name.
    fn flow_name(&self, f: &str, v: &VarDecl) -> String {
        self.names
            .get(f)
            .or_else(|| self.names.get(&full(&v.scope, f)))
            .cloned()
            .unwrap_or_else(|| f.replace('.', "_"))
    }

    fn doc_units(&self, v: &VarDecl, x: &mut String) {
        let mut doc = v.doc.clone().unwrap_or_default();
        if let Some(s) = &v.source {
            if !doc.is_empty() {
                doc.push('\n');
            }
            doc.push_str("Source: ");
            doc.push_str(s);
        }
        if !doc.is_empty() {
            let _ = writeln!(x, "                <doc>{}</doc>", escape(&doc));
        }
        if let Some(u) = &v.units {
            let _ = writeln!(x, "                <units>{}</units>", escape(&u.text));
        }
    }

    /// Every element of `dim`, iterated by an aggregate: `*` in XMILE 1.0 (Stella, Simlin);
    /// `Dim!` for PySD, whose XMILE reader takes Vensim's notation.
    fn all_of(&self, dim: &str) -> String {
        match self.flavor {
            Flavor::Standard => "*".into(),
            Flavor::Pysd => format!("{dim}!"),
        }
    }

    /// The XMILE name of element `e` of `dim`.
    fn element_name(&self, dim: &str, e: &str) -> String {
        self.elements
            .get(dim)
            .and_then(|l| l.iter().find(|(a, _)| a == e))
            .map_or_else(|| e.to_string(), |(_, b)| b.clone())
    }

    /// Element `e` of `dim` as written in an equation.
    fn element(&self, dim: &str, e: &str) -> String {
        self.element_name(dim, e).replace(' ', "_")
    }

    fn equation(&self, text: &str, v: &VarDecl) -> Result<String, Diagnostic> {
        let e = equation::parse(text)
            .map_err(|e| Diagnostic::error(format!("cannot export `{}`: {}", v.name, e.message)))?;
        let mut out = String::new();
        self.expr(&e, v, false, &mut out)?;
        Ok(out)
    }

    fn unsupported(&self, v: &VarDecl, what: &str) -> Diagnostic {
        Diagnostic::error(format!(
            "cannot export `{}`: {what} has no XMILE equivalent",
            v.name
        ))
        .at(v.loc)
    }

    fn expr(&self, e: &Expr, v: &VarDecl, agg: bool, out: &mut String) -> Result<(), Diagnostic> {
        match &e.kind {
            ExprKind::Number(n) => out.push_str(&number(*n)),
            ExprKind::Var { name, subscripts } => {
                self.var_ref(name, subscripts.as_deref(), v, agg, out)?
            }
            ExprKind::Unary { op, operand } => {
                out.push_str(match op {
                    UnaryOp::Neg => "-(",
                    UnaryOp::Plus => "(",
                    UnaryOp::Not => "NOT (",
                });
                self.expr(operand, v, agg, out)?;
                out.push(')');
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let sym = match op {
                    BinaryOp::And => "AND",
                    BinaryOp::Or => "OR",
                    other => other.symbol(),
                };
                out.push('(');
                self.expr(lhs, v, agg, out)?;
                let _ = write!(out, " {sym} ");
                self.expr(rhs, v, agg, out)?;
                out.push(')');
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                out.push_str("(IF ");
                self.expr(cond, v, agg, out)?;
                out.push_str(" THEN ");
                self.expr(then, v, agg, out)?;
                out.push_str(" ELSE ");
                self.expr(otherwise, v, agg, out)?;
                out.push(')');
            }
            ExprKind::Call { name, args, .. } => self.call(name, args, v, out)?,
        }
        Ok(())
    }

    fn var_ref(
        &self,
        name: &str,
        subs: Option<&[Subscript]>,
        v: &VarDecl,
        agg: bool,
        out: &mut String,
    ) -> Result<(), Diagnostic> {
        let lower = name.to_ascii_lowercase();
        if subs.is_none() && (lower == "time" || lower == "dt") {
            out.push_str(if lower == "time" { "TIME" } else { "DT" });
            return Ok(());
        }
        let full_name = full(&v.scope, name);
        let Some(target) = self.vars.get(full_name.as_str()) else {
            return Err(self.unsupported(v, &format!("the reference `{name}`")));
        };
        out.push_str(&reference(&self.names[&full_name]));
        match subs {
            Some(subs) => {
                out.push('[');
                for (k, s) in subs.iter().enumerate() {
                    if k > 0 {
                        out.push_str(", ");
                    }
                    let dim = target.dims.get(k).map(String::as_str).unwrap_or("");
                    match s {
                        Subscript::Wildcard { .. } => out.push_str(&self.all_of(dim)),
                        Subscript::Name { name, quoted, .. } => {
                            if !quoted && self.elements.contains_key(name) {
                                // Inside an aggregate, a dimension the defined variable lacks
                                // is iterated over: XMILE writes that `*`.
                                // A subrange of `dim` keeps its name (it selects its elements).
                                if agg && !v.dims.contains(name) && name == dim {
                                    out.push_str(&self.all_of(name));
                                } else {
                                    out.push_str(name);
                                }
                            } else {
                                out.push_str(&self.element(dim, name));
                            }
                        }
                        Subscript::Range { .. } => {
                            return Err(
                                self.unsupported(v, "an element range outside an aggregate")
                            );
                        }
                    }
                }
                out.push(']');
            }
            // An arrayed variable without subscripts: its subscripts spelt out. Outside an
            // aggregate every dimension is one of the defined variable's (matched by name);
            // inside, the others are iterated over: `*` (XMILE 1.0, as Stella and Simlin read it).
            None if !target.dims.is_empty() => {
                let subs: Vec<String> = target
                    .dims
                    .iter()
                    .map(|d| {
                        if !agg || v.dims.contains(d) {
                            d.clone()
                        } else {
                            self.all_of(d)
                        }
                    })
                    .collect();
                let _ = write!(out, "[{}]", subs.join(", "));
            }
            None => {}
        }
        Ok(())
    }

    fn args(&self, args: &[Expr], v: &VarDecl, agg: bool) -> Result<Vec<String>, Diagnostic> {
        args.iter()
            .map(|a| {
                let mut s = String::new();
                self.expr(a, v, agg, &mut s)?;
                Ok(s)
            })
            .collect()
    }

    fn call(
        &self,
        name: &str,
        args: &[Expr],
        v: &VarDecl,
        out: &mut String,
    ) -> Result<(), Diagnostic> {
        let full_name = full(&v.scope, name);
        if let Some(t) = self.vars.get(full_name.as_str())
            && t.kind == VarKind::Lookup
        {
            let a = self.args(args, v, false)?;
            let _ = write!(
                out,
                "{}({})",
                reference(&self.names[&full_name]),
                a.join(", ")
            );
            return Ok(());
        }
        let lower = name.to_ascii_lowercase();
        let aggregate = matches!(lower.as_str(), "sum" | "mean" | "prod")
            || (matches!(lower.as_str(), "min" | "max") && args.len() == 1);
        if aggregate {
            return self.aggregate(&lower, &args[0], v, out);
        }
        if matches!(lower.as_str(), "stddev" | "rank") && !args.is_empty() {
            // No element-by-element form: the array must be portable as written.
            if has_range(&args[0]) {
                return Err(self.unsupported(v, &format!("`{lower}` over an element range")));
            }
            let mut s = String::new();
            self.expr(&args[0], v, true, &mut s)?;
            for a in self.args(&args[1..], v, false)? {
                let _ = write!(s, ", {a}");
            }
            let _ = write!(out, "{}({s})", lower.to_ascii_uppercase());
            return Ok(());
        }
        let a = self.args(args, v, false)?;
        let simple = |f: &str| format!("{f}({})", a.join(", "));
        let text = match lower.as_str() {
            "abs" | "exp" | "ln" | "log10" | "sqrt" | "sin" | "cos" | "tan" | "arcsin"
            | "arccos" | "arctan" | "int" | "step" | "pulse" | "init" | "previous" | "trend"
            | "delay1" | "delay3" | "delayn" => simple(&lower.to_ascii_uppercase()),
            "smooth" | "smooth1" => simple("SMTH1"),
            "smooth3" => simple("SMTH3"),
            "delay_fixed" => simple("DELAY"),
            "xidz" | "zidz" => simple("SAFEDIV"),
            "modulo" | "mod" => format!("(({}) MOD ({}))", a[0], a[1]),
            "remainder" => format!(
                "(({a}) - ({b}) * (IF ({a}) / ({b}) < 0 THEN -INT(-({a}) / ({b})) ELSE INT(({a}) / ({b}))))",
                a = a[0],
                b = a[1]
            ),
            "integer" => format!("(IF ({x}) < 0 THEN -INT(-({x})) ELSE INT({x}))", x = a[0]),
            "round" => format!(
                "(IF ({x}) >= 0 THEN INT(({x}) + 0.5) ELSE -INT(0.5 - ({x})))",
                x = a[0]
            ),
            "min" | "max" => {
                let f = lower.to_ascii_uppercase();
                let mut acc = a[0].clone();
                for b in &a[1..] {
                    acc = format!("{f}({acc}, {b})");
                }
                acc
            }
            "ramp" if a.len() == 3 => format!(
                "(RAMP({s}, {t0}) - RAMP({s}, {t1}))",
                s = a[0],
                t0 = a[1],
                t1 = a[2]
            ),
            "ramp" => simple("RAMP"),
            "pulse_train" => format!(
                "(IF TIME >= ({s}) AND TIME <= ({e}) AND (IF ({i}) > 0 THEN (TIME - ({s})) MOD ({i}) ELSE TIME - ({s})) < ({w}) THEN 1 ELSE 0)",
                s = a[0],
                w = a[1],
                i = a[2],
                e = a[3]
            ),
            "if" | "if_then_else" => format!("(IF {} THEN {} ELSE {})", a[0], a[1], a[2]),
            other => return Err(self.unsupported(v, &format!("`{other}(...)`"))),
        };
        out.push_str(&text);
        Ok(())
    }

    /// SUM/MEAN/PROD/MIN/MAX of one argument. Element ranges (`a..b`) are not portable XMILE,
    /// so an aggregate over a range is written out element by element, in row-major order (the
    /// order careshift accumulates in, so results stay bit-identical).
    fn aggregate(
        &self,
        f: &str,
        arg: &Expr,
        v: &VarDecl,
        out: &mut String,
    ) -> Result<(), Diagnostic> {
        if !has_range(arg) {
            let mut s = String::new();
            self.expr(arg, v, true, &mut s)?;
            let _ = write!(out, "{}({s})", f.to_ascii_uppercase());
            return Ok(());
        }
        let mut parts = Vec::new();
        for e in self.expand(arg, v)? {
            let mut s = String::new();
            self.expr(&e, v, true, &mut s)?;
            parts.push(s);
        }
        let count = parts.len();
        let text = match f {
            "sum" => format!("({})", parts.join(" + ")),
            "mean" => format!("(({}) / {count})", parts.join(" + ")),
            "prod" => format!("({})", parts.join(" * ")),
            _ => {
                let g = f.to_ascii_uppercase();
                let mut acc = parts[0].clone();
                for p in &parts[1..] {
                    acc = format!("{g}({acc}, {p})");
                }
                acc
            }
        };
        out.push_str(&text);
        Ok(())
    }

    /// One copy of `e` per element combination of its ranges and wildcards, row-major. Every
    /// reference over the same dimension takes the same element.
    fn expand(&self, e: &Expr, v: &VarDecl) -> Result<Vec<Expr>, Diagnostic> {
        let mut variants = vec![e.clone()];
        let mut pos = 0;
        while pos < variants.len() {
            let Some((dim, sel)) = self.first_multi(&variants[pos], v) else {
                pos += 1;
                continue;
            };
            let list = &self.elements[&dim];
            let span = match &sel {
                Some((from, to)) => {
                    let i = list.iter().position(|(a, _)| a == from);
                    let j = list.iter().position(|(a, _)| a == to);
                    let (Some(i), Some(j)) = (i, j) else {
                        return Err(self.unsupported(v, "a range with unknown elements"));
                    };
                    i.min(j)..i.max(j) + 1
                }
                None => 0..list.len(),
            };
            let item = variants.remove(pos);
            for (k, (elem, _)) in list[span].iter().enumerate() {
                let mut copy = item.clone();
                self.substitute(&mut copy, v, &dim, &sel, elem);
                variants.insert(pos + k, copy);
            }
        }
        Ok(variants)
    }

    /// The dimension of the first range or wildcard subscript in `e`, and the range.
    fn first_multi(&self, e: &Expr, v: &VarDecl) -> Option<(String, Option<(String, String)>)> {
        match &e.kind {
            ExprKind::Var {
                name,
                subscripts: Some(subs),
            } => {
                let target = self.vars.get(full(&v.scope, name).as_str())?;
                subs.iter().enumerate().find_map(|(k, s)| {
                    let dim = target.dims.get(k)?.clone();
                    match s {
                        Subscript::Range { from, to, .. } => {
                            Some((dim, Some((from.clone(), to.clone()))))
                        }
                        Subscript::Wildcard { .. } => Some((dim, None)),
                        Subscript::Name { .. } => None,
                    }
                })
            }
            ExprKind::Unary { operand, .. } => self.first_multi(operand, v),
            ExprKind::Binary { lhs, rhs, .. } => self
                .first_multi(lhs, v)
                .or_else(|| self.first_multi(rhs, v)),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => self
                .first_multi(cond, v)
                .or_else(|| self.first_multi(then, v))
                .or_else(|| self.first_multi(otherwise, v)),
            ExprKind::Call { args, .. } => args.iter().find_map(|a| self.first_multi(a, v)),
            ExprKind::Number(_) | ExprKind::Var { .. } => None,
        }
    }

    /// Replace, in every reference, the subscripts over `dim` that match `sel` (that range, or
    /// a wildcard) by `elem`.
    fn substitute(
        &self,
        e: &mut Expr,
        v: &VarDecl,
        dim: &str,
        sel: &Option<(String, String)>,
        elem: &str,
    ) {
        match &mut e.kind {
            ExprKind::Var {
                name,
                subscripts: Some(subs),
            } => {
                let Some(target) = self.vars.get(full(&v.scope, name).as_str()) else {
                    return;
                };
                for (k, s) in subs.iter_mut().enumerate() {
                    if target.dims.get(k).map(String::as_str) != Some(dim) {
                        continue;
                    }
                    let hit = match (&*s, sel) {
                        (Subscript::Range { from, to, .. }, Some((f, t))) => from == f && to == t,
                        (Subscript::Wildcard { .. }, None) => true,
                        _ => false,
                    };
                    if hit {
                        *s = Subscript::Name {
                            name: elem.to_string(),
                            quoted: true,
                            span: Default::default(),
                        };
                    }
                }
            }
            ExprKind::Unary { operand, .. } => self.substitute(operand, v, dim, sel, elem),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.substitute(lhs, v, dim, sel, elem);
                self.substitute(rhs, v, dim, sel, elem);
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.substitute(cond, v, dim, sel, elem);
                self.substitute(then, v, dim, sel, elem);
                self.substitute(otherwise, v, dim, sel, elem);
            }
            ExprKind::Call { args, .. } => {
                for a in args {
                    self.substitute(a, v, dim, sel, elem);
                }
            }
            ExprKind::Number(_) | ExprKind::Var { .. } => {}
        }
    }
}

fn has_range(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Var {
            subscripts: Some(subs),
            ..
        } => subs.iter().any(|s| matches!(s, Subscript::Range { .. })),
        ExprKind::Unary { operand, .. } => has_range(operand),
        ExprKind::Binary { lhs, rhs, .. } => has_range(lhs) || has_range(rhs),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => has_range(cond) || has_range(then) || has_range(otherwise),
        ExprKind::Call { args, .. } => args.iter().any(has_range),
        _ => false,
    }
}

/// A variable's name as written in an equation: quoted unless it is an identifier.
fn reference(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn full(scope: &str, name: &str) -> String {
    format!("{scope}{name}")
}
