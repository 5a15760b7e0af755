//! Lowering: one equation AST, in the context of one array element, to scalar [`Ir`].
//!
//! This is where names are resolved (module scope first), array references are matched to the
//! element being defined (by dimension name), subscripts and aggregates are expanded, and
//! stateful builtins (SMOOTH, DELAY, TREND, INIT, PREVIOUS...) are replaced by hidden stocks,
//! flows and auxiliaries that the integrator treats like any other.

use super::ir::{Func, Ir};
use super::{Builder, SlotKind};
use crate::diagnostics::{Diagnostic, Location, did_you_mean};
use crate::equation::{BinaryOp, Expr, ExprKind, Subscript, UnaryOp};
use crate::model::{Text, VarKind};

/// The element being defined: its scope and, for each of its dimensions, the element index.
#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    pub scope: &'a str,
    pub text: &'a Text,
    /// (dimension id, element index) pairs in scope.
    pub elems: Vec<(usize, usize)>,
    /// Display name of the element being defined, e.g. `population[85+]`.
    pub owner: String,
}

impl Ctx<'_> {
    pub fn loc(&self, span: crate::equation::Span) -> Location {
        self.text.locate(span.start, span.end)
    }

    fn elem_of(&self, dim: usize) -> Option<usize> {
        self.elems
            .iter()
            .rev()
            .find(|(d, _)| *d == dim)
            .map(|(_, e)| *e)
    }

    fn snippet(&self, span: crate::equation::Span) -> &str {
        self.text.text.get(span.start..span.end).unwrap_or("?")
    }
}

type LResult = Result<Ir, Diagnostic>;

/// Names of the builtins, for "did you mean" and for telling users what exists.
pub(crate) const BUILTINS: &[&str] = &[
    "abs",
    "exp",
    "ln",
    "log10",
    "sqrt",
    "int",
    "integer",
    "round",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "modulo",
    "remainder",
    "min",
    "max",
    "sum",
    "mean",
    "prod",
    "stddev",
    "rank",
    "step",
    "ramp",
    "pulse",
    "pulse_train",
    "xidz",
    "zidz",
    "smooth",
    "smooth3",
    "delay1",
    "delay3",
    "delayn",
    "trend",
    "init",
    "previous",
    "delay_fixed",
];

impl Builder<'_> {
    pub(crate) fn lower(&mut self, e: &Expr, ctx: &Ctx) -> LResult {
        match &e.kind {
            ExprKind::Number(x) => Ok(Ir::Num(*x)),
            ExprKind::Var { name, subscripts } => {
                self.lower_var(e, name, subscripts.as_deref(), ctx)
            }
            ExprKind::Unary { op, operand } => {
                let a = self.lower(operand, ctx)?;
                Ok(match op {
                    UnaryOp::Neg => Ir::Neg(Box::new(a)),
                    UnaryOp::Plus => a,
                    UnaryOp::Not => Ir::Not(Box::new(a)),
                })
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.lower(lhs, ctx)?;
                let b = self.lower(rhs, ctx)?;
                let loc = (*op == BinaryOp::Div).then(|| ctx.loc(rhs.span));
                Ok(Ir::Bin(*op, Box::new(a), Box::new(b), loc))
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => Ok(Ir::If(
                Box::new(self.lower(cond, ctx)?),
                Box::new(self.lower(then, ctx)?),
                Box::new(self.lower(otherwise, ctx)?),
            )),
            ExprKind::Call {
                name,
                raw_name,
                name_span,
                args,
            } => self.lower_call(e, name, raw_name, *name_span, args, ctx),
        }
    }

    fn lower_var(
        &mut self,
        e: &Expr,
        name: &str,
        subs: Option<&[Subscript]>,
        ctx: &Ctx,
    ) -> LResult {
        let lower = name.to_ascii_lowercase();
        if (lower == "time" || lower == "dt") && subs.is_none() {
            return Ok(if lower == "time" { Ir::Time } else { Ir::Dt });
        }
        let var = self.resolve(name, e.span, ctx)?;
        let v = &self.vars[var];
        if v.kind == VarKind::Lookup {
            return Err(Diagnostic::error(format!(
                "lookup table `{name}` is used without an argument"
            ))
            .at(ctx.loc(e.span))
            .help(format!("call it with the input value, e.g. {name}(x)")));
        }
        let mut slots = self.element_slots(var, subs, e, ctx)?;
        if slots.len() != 1 {
            return Err(Diagnostic::error(format!(
                "`{}` stands for {} values here, but one is needed",
                ctx.snippet(e.span),
                slots.len()
            ))
            .at(ctx.loc(e.span))
            .help(
                "use it inside SUM, MEAN, MIN, MAX or PROD, or pick one element, e.g. x[\"85+\"]",
            ));
        }
        Ok(Ir::Slot(slots.pop().unwrap_or_default()))
    }

    /// Find the variable a name refers to from `ctx.scope`.
    pub(crate) fn resolve(
        &self,
        name: &str,
        span: crate::equation::Span,
        ctx: &Ctx,
    ) -> Result<usize, Diagnostic> {
        let qualified = format!("{}{}", ctx.scope, name);
        if let Some(&i) = self.var_index.get(&qualified) {
            return Ok(i);
        }
        let in_scope: Vec<&str> = self
            .vars
            .iter()
            .filter_map(|v| v.name.strip_prefix(ctx.scope))
            .filter(|n| !n.starts_with('#'))
            .collect();
        let mut d = Diagnostic::error(format!("unknown variable `{name}`")).at(ctx.loc(span));
        d = match did_you_mean(name, in_scope.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if !ctx.scope.is_empty() => d.help(format!(
                "inside module `{}` only its own variables are visible; pass others in through [inputs]",
                ctx.scope.trim_end_matches('.')
            )),
            None => d.help("declare it under [constants], [auxiliaries], [flows] or [stocks]"),
        };
        Err(d)
    }

    /// The slots a (possibly subscripted) reference picks in this context. Dimensions of the
    /// variable are matched to the context by name; `*` and ranges pick several elements.
    fn element_slots(
        &self,
        var: usize,
        subs: Option<&[Subscript]>,
        e: &Expr,
        ctx: &Ctx,
    ) -> Result<Vec<u32>, Diagnostic> {
        let v = &self.vars[var];
        let per_dim: Vec<Vec<usize>> = match subs {
            None => {
                let mut out = Vec::new();
                for &d in &v.dims {
                    match ctx.elem_of(d).or_else(|| self.subrange_element(ctx, d)) {
                        Some(i) => out.push(vec![i]),
                        None => {
                            let dim = &self.dims[d].name;
                            return Err(Diagnostic::error(format!(
                                "`{}` is arrayed over `{dim}`, which `{}` is not",
                                v.name, ctx.owner
                            ))
                            .at(ctx.loc(e.span))
                            .help(format!(
                                "pick an element, e.g. {}[\"{}\"], or aggregate, e.g. SUM({}[*])",
                                v.display(),
                                self.dims[d].elements[0],
                                v.display()
                            )));
                        }
                    }
                }
                out
            }
            Some(subs) => {
                if subs.len() != v.dims.len() {
                    let dims: Vec<&str> =
                        v.dims.iter().map(|&d| self.dims[d].name.as_str()).collect();
                    return Err(Diagnostic::error(format!(
                        "`{}` has {} dimension(s) [{}] but {} subscript(s) were given",
                        v.display(),
                        v.dims.len(),
                        dims.join(", "),
                        subs.len()
                    ))
                    .at(ctx.loc(e.span))
                    .help("give one subscript per dimension, in declaration order"));
                }
                let mut out = Vec::new();
                for (s, &d) in subs.iter().zip(&v.dims) {
                    out.push(self.subscript_elements(s, d, v.display(), ctx)?);
                }
                out
            }
        };
        // Cartesian product, row-major.
        let mut offsets = vec![0usize];
        for (k, choices) in per_dim.iter().enumerate() {
            let stride: usize = v.dims[k + 1..]
                .iter()
                .map(|&d| self.dims[d].elements.len())
                .product();
            offsets = offsets
                .iter()
                .flat_map(|o| choices.iter().map(move |c| o + c * stride))
                .collect();
        }
        Ok(offsets.into_iter().map(|o| v.slot + o as u32).collect())
    }

    fn subscript_elements(
        &self,
        s: &Subscript,
        d: usize,
        var: &str,
        ctx: &Ctx,
    ) -> Result<Vec<usize>, Diagnostic> {
        let dim = &self.dims[d];
        let find = |name: &str, span| {
            dim.elements.iter().position(|x| x == name).ok_or_else(|| {
                let mut diag = Diagnostic::error(format!(
                    "`{name}` is not an element of dimension `{}` (subscript of `{var}`)",
                    dim.name
                ))
                .at(ctx.loc(span));
                diag = match did_you_mean(name, dim.elements.iter().map(String::as_str)) {
                    Some(s) => diag.help(format!("did you mean \"{s}\"?")),
                    None => diag.help(format!("its elements are: {}", dim.elements.join(", "))),
                };
                diag
            })
        };
        match s {
            Subscript::Name { name, quoted: false, span } if *name == dim.name => match ctx.elem_of(d).or_else(|| self.subrange_element(ctx, d)) {
                Some(i) => Ok(vec![i]),
                None => Err(Diagnostic::error(format!(
                    "`{var}[{name}]`: `{}` is not arrayed over `{name}`, so there is no current `{name}` element",
                    ctx.owner
                ))
                .at(ctx.loc(*span))
                .help(format!("name an element, e.g. {var}[\"{}\"], or aggregate with SUM({var}[*])", dim.elements[0]))),
            },
            Subscript::Name { name, quoted: false, span }
                if !dim.elements.contains(name)
                    && let Some(sub) = self.subrange_of(name, d) =>
            {
                match ctx.elem_of(sub) {
                    Some(i) => Ok(vec![self.parent_position(sub, d, i)]),
                    None => Err(Diagnostic::error(format!(
                        "`{var}[{name}]`: `{}` is not arrayed over `{name}`, so there is no current `{name}` element",
                        ctx.owner
                    ))
                    .at(ctx.loc(*span))
                    .help(format!("aggregate over the subrange with SUM({var}[{name}])"))),
                }
            }
            Subscript::Name { name, quoted: false, span }
                if !dim.elements.contains(name) && self.dim_index.contains_key(name) =>
            {
                Err(Diagnostic::error(format!(
                    "`{name}` is a dimension, but not a subrange of `{}` (subscript of `{var}`): some of its elements are not elements of `{}`",
                    dim.name, dim.name
                ))
                .at(ctx.loc(*span))
                .help(format!("dimension mappings are not supported: subscript with `{}`, one of its elements, or a dimension whose elements are all elements of `{}`", dim.name, dim.name)))
            }
            Subscript::Name { name, span, .. } => Ok(vec![find(name, *span)?]),
            Subscript::Wildcard { .. } => Ok((0..dim.elements.len()).collect()),
            Subscript::Range { from, to, span } => {
                let (a, b) = (find(from, *span)?, find(to, *span)?);
                if a > b {
                    return Err(Diagnostic::error(format!("range `{from}..{to}` runs backwards in dimension `{}`", dim.name))
                        .at(ctx.loc(*span))
                        .help(format!("write it as `{to}..{from}`")));
                }
                Ok((a..=b).collect())
            }
        }
    }

    fn lower_call(
        &mut self,
        e: &Expr,
        name: &str,
        raw_name: &str,
        name_span: crate::equation::Span,
        args: &[Expr],
        ctx: &Ctx,
    ) -> LResult {
        let arity = |lo: usize, hi: usize, usage: &str| -> Result<(), Diagnostic> {
            if args.len() < lo || args.len() > hi {
                Err(Diagnostic::error(format!(
                    "{} takes {} argument(s), but {} were given",
                    name.to_uppercase(),
                    arity_text(lo, hi),
                    args.len()
                ))
                .at(ctx.loc(e.span))
                .help(format!("usage: {usage}")))
            } else {
                Ok(())
            }
        };
        let simple = |f: Func| Some(f);
        let pure = match name {
            "abs" => simple(Func::Abs),
            "exp" => simple(Func::Exp),
            "ln" => simple(Func::Ln),
            "log10" => simple(Func::Log10),
            "sqrt" => simple(Func::Sqrt),
            "int" => simple(Func::Int),
            "integer" => simple(Func::Integer),
            "round" => simple(Func::Round),
            "sin" => simple(Func::Sin),
            "cos" => simple(Func::Cos),
            "tan" => simple(Func::Tan),
            "arcsin" => simple(Func::Arcsin),
            "arccos" => simple(Func::Arccos),
            "arctan" => simple(Func::Arctan),
            _ => None,
        };
        if let Some(f) = pure {
            arity(1, 1, &format!("{name}(x)"))?;
            return Ok(Ir::Call(f, vec![self.lower(&args[0], ctx)?]));
        }
        match name {
            "modulo" | "mod" => {
                arity(
                    2,
                    2,
                    "modulo(a, b) — the remainder of a / b, with the sign of b",
                )?;
                self.pure_call(Func::Modulo, args, ctx)
            }
            "remainder" => {
                arity(
                    2,
                    2,
                    "remainder(a, b) — the remainder of a / b, with the sign of a",
                )?;
                self.pure_call(Func::Remainder, args, ctx)
            }
            "xidz" => {
                arity(3, 3, "xidz(a, b, x) — a / b, or x when b is 0")?;
                self.pure_call(Func::Xidz, args, ctx)
            }
            "zidz" => {
                arity(2, 2, "zidz(a, b) — a / b, or 0 when b is 0")?;
                self.pure_call(Func::Zidz, args, ctx)
            }
            "step" => {
                arity(2, 2, "step(height, start_time)")?;
                self.pure_call(Func::Step, args, ctx)
            }
            "ramp" => {
                arity(2, 3, "ramp(slope, start_time [, end_time])")?;
                self.pure_call(Func::Ramp, args, ctx)
            }
            "pulse" => {
                arity(
                    2,
                    3,
                    "pulse(magnitude, first_time [, interval]) — magnitude/DT for one DT",
                )?;
                self.pure_call(Func::Pulse, args, ctx)
            }
            "pulse_train" => {
                arity(
                    4,
                    4,
                    "pulse_train(start, width, interval, end) — 1 during each pulse, else 0",
                )?;
                self.pure_call(Func::PulseTrain, args, ctx)
            }
            "min" | "max" => {
                arity(
                    1,
                    usize::MAX,
                    &format!("{name}(a, b, ...) or {name}(array[*])"),
                )?;
                let f = if name == "min" { Func::Min } else { Func::Max };
                let items = if args.len() == 1 {
                    self.aggregate_items(&args[0], ctx)?
                } else {
                    self.lower_all(args, ctx)?
                };
                Ok(if items.len() == 1 {
                    items.into_iter().next().unwrap_or(Ir::Num(0.0))
                } else {
                    Ir::Call(f, items)
                })
            }
            "sum" | "prod" | "mean" => {
                arity(
                    1,
                    1,
                    &format!("{name}(array[*]) — over every element, or a range: x[\"a\"..\"c\"]"),
                )?;
                let items = self.aggregate_items(&args[0], ctx)?;
                let n = items.len() as f64;
                Ok(match name {
                    "sum" => Ir::Sum(items),
                    "prod" => Ir::Prod(items),
                    _ => Ir::bin(BinaryOp::Div, Ir::Sum(items), Ir::Num(n)),
                })
            }
            "stddev" => {
                arity(
                    1,
                    1,
                    "stddev(array[*]) — population standard deviation of the elements",
                )?;
                let items = self.aggregate_items(&args[0], ctx)?;
                self.standard_deviation(items, ctx.loc(e.span), &ctx.owner)
            }
            "rank" => {
                arity(
                    2,
                    2,
                    "rank(array[*], n) — position of the n-th smallest element (1 = smallest)",
                )?;
                let items = self.aggregate_items(&args[0], ctx)?;
                let n = self.lower(&args[1], ctx)?;
                rank(items, n).map_err(|limit| {
                    Diagnostic::error(format!(
                        "rank over more than {limit} elements is not supported"
                    ))
                    .at(ctx.loc(e.span))
                })
            }
            "smooth" | "smooth1" | "smooth3" => {
                arity(
                    2,
                    3,
                    &format!("{name}(input, averaging_time [, initial_value])"),
                )?;
                let order = if name == "smooth3" { 3 } else { 1 };
                self.smooth(order, args, ctx)
            }
            "delay1" | "delay3" => {
                arity(
                    2,
                    3,
                    &format!("{name}(input, delay_time [, initial_value])"),
                )?;
                let order = if name == "delay3" { 3 } else { 1 };
                self.delay(order, &args[0], &args[1], args.get(2), ctx)
            }
            "delayn" => {
                arity(3, 4, "delayn(input, delay_time, order [, initial_value])")?;
                let order = self.constant_integer(&args[2], ctx)?;
                self.delay(order, &args[0], &args[1], args.get(3), ctx)
            }
            "trend" => {
                arity(2, 3, "trend(input, averaging_time [, initial_trend])")?;
                self.trend(args, ctx)
            }
            "init" => {
                arity(1, 1, "init(x) — the value of x at the initial time")?;
                let x = self.lower(&args[0], ctx)?;
                let slot = self.hidden_slot(
                    SlotKind::InitValue,
                    format!("INIT in {}", ctx.owner),
                    ctx.loc(e.span),
                );
                self.init_only.push(super::Assignment {
                    slot,
                    ir: x,
                    loc: ctx.loc(e.span),
                });
                Ok(Ir::Slot(slot))
            }
            "previous" => {
                arity(
                    1,
                    2,
                    "previous(x [, initial_value]) — the value of x one DT ago",
                )?;
                let x = self.lower(&args[0], ctx)?;
                let init = match args.get(1) {
                    Some(a) => self.lower(a, ctx)?,
                    None => x.clone(),
                };
                let loc = ctx.loc(e.span);
                let prev = self.hidden_slot(
                    SlotKind::Previous,
                    format!("PREVIOUS in {}", ctx.owner),
                    loc,
                );
                let src = self.hidden_aux(format!("PREVIOUS input in {}", ctx.owner), x, loc);
                self.init_only.push(super::Assignment {
                    slot: prev,
                    ir: init,
                    loc,
                });
                self.previous.push((prev, src));
                Ok(Ir::Slot(prev))
            }
            "delay_fixed" => {
                arity(
                    2,
                    3,
                    "delay_fixed(input, delay_time [, initial_value]) — input from delay_time ago",
                )?;
                self.delay_fixed(args, ctx, ctx.loc(e.span))
            }
            "if" | "if_then_else" => unreachable_if(e, ctx),
            _ => self.lower_lookup_call(e, raw_name, name_span, args, ctx),
        }
    }

    fn pure_call(&mut self, f: Func, args: &[Expr], ctx: &Ctx) -> LResult {
        Ok(Ir::Call(f, self.lower_all(args, ctx)?))
    }

    fn lower_all(&mut self, args: &[Expr], ctx: &Ctx) -> Result<Vec<Ir>, Diagnostic> {
        args.iter().map(|a| self.lower(a, ctx)).collect()
    }

    fn lower_lookup_call(
        &mut self,
        e: &Expr,
        raw_name: &str,
        name_span: crate::equation::Span,
        args: &[Expr],
        ctx: &Ctx,
    ) -> LResult {
        let qualified = format!("{}{}", ctx.scope, raw_name);
        let Some(&var) = self.var_index.get(&qualified) else {
            let d =
                Diagnostic::error(format!("unknown function `{raw_name}`")).at(ctx.loc(name_span));
            let lookups: Vec<&str> = self
                .vars
                .iter()
                .filter(|v| v.kind == VarKind::Lookup)
                .filter_map(|v| v.name.strip_prefix(ctx.scope))
                .collect();
            let candidates = BUILTINS.iter().copied().chain(lookups);
            return Err(match did_you_mean(raw_name, candidates) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("see docs/EQUATIONS.md for the builtin functions; lookup tables are declared under [lookups]"),
            });
        };
        let Some(table) = self.vars[var].lookup else {
            return Err(Diagnostic::error(format!(
                "`{raw_name}` is {}, not a function or lookup table",
                self.vars[var].kind.with_article()
            ))
            .at(ctx.loc(name_span))
            .help("only lookup tables (declared under [lookups]) and builtins can be called"));
        };
        if args.len() != 1 {
            return Err(Diagnostic::error(format!(
                "lookup `{raw_name}` takes one argument, but {} were given",
                args.len()
            ))
            .at(ctx.loc(e.span))
            .help(format!("usage: {raw_name}(x)")));
        }
        let x = self.lower(&args[0], ctx)?;
        Ok(Ir::Lookup(table, Box::new(x)))
    }

    /// The expanded elements of an aggregate's argument. Dimensions that the argument iterates
    /// over (`x[*]`, `x[a..b]`, or an arrayed variable whose dimensions the context lacks) are
    /// bound one element at a time and the argument is lowered once per combination.
    fn aggregate_items(&mut self, arg: &Expr, ctx: &Ctx) -> Result<Vec<Ir>, Diagnostic> {
        let mut free: Vec<(usize, Vec<usize>)> = Vec::new();
        self.free_dims(arg, ctx, &mut free)?;
        let mut combos: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
        for (d, elems) in &free {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    elems.iter().map(move |&e| {
                        let mut c = c.clone();
                        c.push((*d, e));
                        c
                    })
                })
                .collect();
        }
        let mut out = Vec::with_capacity(combos.len());
        for combo in combos {
            let mut inner = ctx.clone();
            inner.elems.extend(combo);
            out.push(self.lower_bound(arg, &inner)?);
        }
        Ok(out)
    }

    /// Lower with every `*`/range subscript replaced by the element bound in `ctx`.
    fn lower_bound(&mut self, e: &Expr, ctx: &Ctx) -> LResult {
        let rebuilt = self.bind_expr(e, ctx)?;
        self.lower(&rebuilt, ctx)
    }

    /// Rewrite `*` and range subscripts (outside nested aggregates) to dimension names.
    fn bind_expr(&self, e: &Expr, ctx: &Ctx) -> Result<Expr, Diagnostic> {
        let kind = match &e.kind {
            ExprKind::Var {
                name,
                subscripts: Some(subs),
            } if subs.iter().any(|s| !matches!(s, Subscript::Name { .. })) => {
                let var = self.resolve(name, e.span, ctx)?;
                let bound = subs
                    .iter()
                    .zip(&self.vars[var].dims)
                    .map(|(s, &d)| match s {
                        Subscript::Name { .. } => s.clone(),
                        Subscript::Wildcard { span } | Subscript::Range { span, .. } => {
                            Subscript::Name {
                                name: self.dims[d].name.clone(),
                                quoted: false,
                                span: *span,
                            }
                        }
                    })
                    .collect();
                ExprKind::Var {
                    name: name.clone(),
                    subscripts: Some(bound),
                }
            }
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(self.bind_expr(operand, ctx)?),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(self.bind_expr(lhs, ctx)?),
                rhs: Box::new(self.bind_expr(rhs, ctx)?),
            },
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => ExprKind::If {
                cond: Box::new(self.bind_expr(cond, ctx)?),
                then: Box::new(self.bind_expr(then, ctx)?),
                otherwise: Box::new(self.bind_expr(otherwise, ctx)?),
            },
            ExprKind::Call { name, args, .. } if is_aggregate(name, args.len()) => e.kind.clone(),
            ExprKind::Call {
                name,
                raw_name,
                name_span,
                args,
            } => ExprKind::Call {
                name: name.clone(),
                raw_name: raw_name.clone(),
                name_span: *name_span,
                args: args
                    .iter()
                    .map(|a| self.bind_expr(a, ctx))
                    .collect::<Result<_, _>>()?,
            },
            other => other.clone(),
        };
        Ok(Expr { kind, span: e.span })
    }

    /// Dimensions an aggregate argument iterates over, with the elements of each.
    fn free_dims(
        &self,
        e: &Expr,
        ctx: &Ctx,
        free: &mut Vec<(usize, Vec<usize>)>,
    ) -> Result<(), Diagnostic> {
        let mut add = |d: usize, elems: Vec<usize>, span| -> Result<(), Diagnostic> {
            match free.iter().find(|(fd, _)| *fd == d) {
                Some((_, existing)) if *existing != elems => Err(Diagnostic::error(format!(
                    "dimension `{}` is iterated over two different sets of elements in one aggregate",
                    self.dims[d].name
                ))
                .at(ctx.loc(span))
                .help("use the same range everywhere inside one SUM/MEAN/MIN/MAX/PROD")),
                Some(_) => Ok(()),
                None => {
                    free.push((d, elems));
                    Ok(())
                }
            }
        };
        match &e.kind {
            ExprKind::Var { name, subscripts } => {
                let lower = name.to_ascii_lowercase();
                if subscripts.is_none() && (lower == "time" || lower == "dt") {
                    return Ok(());
                }
                let var = self.resolve(name, e.span, ctx)?;
                let v = &self.vars[var];
                match subscripts {
                    None => {
                        for &d in &v.dims {
                            if ctx.elem_of(d).is_none() {
                                add(d, (0..self.dims[d].elements.len()).collect(), e.span)?;
                            }
                        }
                    }
                    Some(subs) => {
                        for (s, &d) in subs.iter().zip(&v.dims) {
                            if let Subscript::Name {
                                name,
                                quoted: false,
                                ..
                            } = s
                                && !self.dims[d].elements.contains(name)
                                && let Some(sub) = self.subrange_of(name, d)
                                && ctx.elem_of(sub).is_none()
                            {
                                add(sub, (0..self.dims[sub].elements.len()).collect(), e.span)?;
                                continue;
                            }
                            if !matches!(s, Subscript::Name { .. }) {
                                let elems = self.subscript_elements(s, d, v.display(), ctx)?;
                                add(d, elems, e.span)?;
                            }
                        }
                    }
                }
                Ok(())
            }
            ExprKind::Number(_) => Ok(()),
            ExprKind::Unary { operand, .. } => self.free_dims(operand, ctx, free),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.free_dims(lhs, ctx, free)?;
                self.free_dims(rhs, ctx, free)
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.free_dims(cond, ctx, free)?;
                self.free_dims(then, ctx, free)?;
                self.free_dims(otherwise, ctx, free)
            }
            ExprKind::Call { name, args, .. } if is_aggregate(name, args.len()) => Ok(()),
            ExprKind::Call { args, .. } => {
                args.iter().try_for_each(|a| self.free_dims(a, ctx, free))
            }
        }
    }

    /// The dimension named `name` if it is a subrange of dimension `parent`: another dimension
    /// whose elements are all elements of `parent` (Vensim subranges, as XMILE files converted
    /// from Vensim declare them). Its elements map to the parent's by name.
    fn subrange_of(&self, name: &str, parent: usize) -> Option<usize> {
        let &sub = self.dim_index.get(name)?;
        let parent_elems = &self.dims[parent].elements;
        (sub != parent
            && self.dims[sub]
                .elements
                .iter()
                .all(|e| parent_elems.contains(e)))
        .then_some(sub)
    }

    /// Position in `parent` of element `i` of its subrange `sub`.
    fn parent_position(&self, sub: usize, parent: usize, i: usize) -> usize {
        let name = &self.dims[sub].elements[i];
        self.dims[parent]
            .elements
            .iter()
            .position(|e| e == name)
            .unwrap_or(0)
    }

    /// For a reference without subscripts to a variable over `parent` in a context that has no
    /// `parent` element: the element of a subrange of `parent` the context has, mapped to
    /// `parent` (the first such subrange, innermost binding first).
    fn subrange_element(&self, ctx: &Ctx, parent: usize) -> Option<usize> {
        ctx.elems.iter().rev().find_map(|&(d, i)| {
            self.subrange_of(&self.dims[d].name, parent)
                .map(|sub| self.parent_position(sub, parent, i))
        })
    }

    /// Population standard deviation (divide by the count) of aggregate items: the mean is a
    /// hidden auxiliary, so each item is read twice, not once per item.
    fn standard_deviation(&mut self, items: Vec<Ir>, loc: Location, owner: &str) -> LResult {
        let n = items.len() as f64;
        let mean = self.hidden_aux(
            format!("STDDEV mean in {owner}"),
            Ir::bin(BinaryOp::Div, Ir::Sum(items.clone()), Ir::Num(n)),
            loc,
        );
        let squares = items
            .into_iter()
            .map(|x| {
                let d = Ir::bin(BinaryOp::Sub, x, Ir::Slot(mean));
                Ir::bin(BinaryOp::Mul, d.clone(), d)
            })
            .collect();
        Ok(Ir::Call(
            Func::Sqrt,
            vec![Ir::bin(BinaryOp::Div, Ir::Sum(squares), Ir::Num(n))],
        ))
    }

    /// SMOOTH (order 1) and SMOOTH3: a chain of first-order exponential averages.
    fn smooth(&mut self, order: usize, args: &[Expr], ctx: &Ctx) -> LResult {
        let input = self.lower(&args[0], ctx)?;
        let time = self.lower(&args[1], ctx)?;
        let init = match args.get(2) {
            Some(a) => self.lower(a, ctx)?,
            None => input.clone(),
        };
        let loc = ctx.loc(args[0].span);
        let label = if order == 1 { "SMOOTH" } else { "SMOOTH3" };
        let stage_time = self.hidden_aux(
            format!("{label} stage time in {}", ctx.owner),
            Ir::bin(BinaryOp::Div, time, Ir::Num(order as f64)),
            loc,
        );
        let mut upstream = input;
        let mut last = 0;
        for k in 0..order {
            let stock = self.hidden_stock(
                format!("{label} stage {} in {}", k + 1, ctx.owner),
                init.clone(),
                loc,
            );
            let rate = Ir::Bin(
                BinaryOp::Div,
                Box::new(Ir::bin(BinaryOp::Sub, upstream, Ir::Slot(stock))),
                Box::new(Ir::Slot(stage_time)),
                Some(ctx.loc(args[1].span)),
            );
            let flow = self.hidden_aux(
                format!("{label} stage {} rate in {}", k + 1, ctx.owner),
                rate,
                loc,
            );
            self.attach_inflow(stock, flow);
            upstream = Ir::Slot(stock);
            last = stock;
        }
        Ok(Ir::Slot(last))
    }

    /// DELAY1, DELAY3, DELAYN: a chain of `order` first-order material delays. Each stage holds
    /// `stage_time = delay / order`; its outflow is `stage / stage_time`.
    fn delay(
        &mut self,
        order: usize,
        input: &Expr,
        delay: &Expr,
        init: Option<&Expr>,
        ctx: &Ctx,
    ) -> LResult {
        let x = self.lower(input, ctx)?;
        let t = self.lower(delay, ctx)?;
        let init = match init {
            Some(a) => self.lower(a, ctx)?,
            None => x.clone(),
        };
        let loc = ctx.loc(input.span);
        let label = format!("DELAY{order}");
        let stage_time = self.hidden_aux(
            format!("{label} stage time in {}", ctx.owner),
            Ir::bin(BinaryOp::Div, t, Ir::Num(order as f64)),
            loc,
        );
        let mut inflow_value = x;
        let mut out = 0;
        for k in 0..order {
            let stock = self.hidden_stock(
                format!("{label} stage {} in {}", k + 1, ctx.owner),
                Ir::bin(BinaryOp::Mul, init.clone(), Ir::Slot(stage_time)),
                loc,
            );
            let outflow = self.hidden_aux(
                format!("{label} stage {} outflow in {}", k + 1, ctx.owner),
                Ir::Bin(
                    BinaryOp::Div,
                    Box::new(Ir::Slot(stock)),
                    Box::new(Ir::Slot(stage_time)),
                    Some(ctx.loc(delay.span)),
                ),
                loc,
            );
            let net = self.hidden_aux(
                format!("{label} stage {} net flow in {}", k + 1, ctx.owner),
                Ir::bin(BinaryOp::Sub, inflow_value, Ir::Slot(outflow)),
                loc,
            );
            self.attach_inflow(stock, net);
            inflow_value = Ir::Slot(outflow);
            out = outflow;
        }
        Ok(Ir::Slot(out))
    }

    /// DELAY FIXED (XMILE's pipeline DELAY): the output is a PREVIOUS-like slot that the
    /// simulator moves along a ring buffer of the input once per step (see
    /// [`crate::vm::FixedDelay`]); the delay time is captured in the initial phase.
    fn delay_fixed(&mut self, args: &[Expr], ctx: &Ctx, loc: Location) -> LResult {
        let x = self.lower(&args[0], ctx)?;
        let delay_time = self.lower(&args[1], ctx)?;
        let init = match args.get(2) {
            Some(a) => self.lower(a, ctx)?,
            None => x.clone(),
        };
        let output = self.hidden_slot(
            SlotKind::Previous,
            format!("DELAY FIXED in {}", ctx.owner),
            loc,
        );
        let input = self.hidden_aux(format!("DELAY FIXED input in {}", ctx.owner), x, loc);
        let time_slot = self.hidden_slot(
            SlotKind::InitValue,
            format!("DELAY FIXED delay time in {}", ctx.owner),
            ctx.loc(args[1].span),
        );
        self.init_only.push(super::Assignment {
            slot: time_slot,
            ir: delay_time,
            loc: ctx.loc(args[1].span),
        });
        self.init_only.push(super::Assignment {
            slot: output,
            ir: init,
            loc,
        });
        self.fixed_delays.push(crate::vm::FixedDelay {
            output,
            input,
            delay_time: time_slot,
        });
        Ok(Ir::Slot(output))
    }

    /// TREND: fractional rate of change of the input relative to its exponential average.
    fn trend(&mut self, args: &[Expr], ctx: &Ctx) -> LResult {
        let x = self.lower(&args[0], ctx)?;
        let t = self.lower(&args[1], ctx)?;
        let initial_trend = match args.get(2) {
            Some(a) => self.lower(a, ctx)?,
            None => Ir::Num(0.0),
        };
        let loc = ctx.loc(args[0].span);
        let init = Ir::bin(
            BinaryOp::Div,
            x.clone(),
            Ir::bin(
                BinaryOp::Add,
                Ir::Num(1.0),
                Ir::bin(BinaryOp::Mul, initial_trend, t.clone()),
            ),
        );
        let average = self.hidden_stock(format!("TREND average in {}", ctx.owner), init, loc);
        let rate = Ir::Bin(
            BinaryOp::Div,
            Box::new(Ir::bin(BinaryOp::Sub, x.clone(), Ir::Slot(average))),
            Box::new(t.clone()),
            Some(ctx.loc(args[1].span)),
        );
        let flow = self.hidden_aux(format!("TREND averaging rate in {}", ctx.owner), rate, loc);
        self.attach_inflow(average, flow);
        Ok(Ir::Call(
            Func::Zidz,
            vec![
                Ir::bin(BinaryOp::Sub, x, Ir::Slot(average)),
                Ir::bin(
                    BinaryOp::Mul,
                    t,
                    Ir::Call(Func::Abs, vec![Ir::Slot(average)]),
                ),
            ],
        ))
    }

    /// The order of DELAYN must be known when compiling: a number or a literal constant.
    fn constant_integer(&mut self, e: &Expr, ctx: &Ctx) -> Result<usize, Diagnostic> {
        let ir = self.lower(e, ctx)?;
        let value = match ir {
            Ir::Num(x) => Some(x),
            Ir::Slot(s) if self.slots[s as usize].kind == SlotKind::Constant => {
                if !self.fixed.contains(&s) {
                    self.fixed.push(s);
                }
                self.literal_values[s as usize]
            }
            _ => None,
        };
        match value {
            Some(x) if x.fract() == 0.0 && (1.0..=1000.0).contains(&x) => Ok(x as usize),
            _ => Err(Diagnostic::error(
                "the order of DELAYN must be a whole number from 1 to 1000 known before the run",
            )
            .at(ctx.loc(e.span))
            .help("write a number, e.g. delayn(x, 5, 4), or a constant with a literal value")),
        }
    }
}

fn is_aggregate(name: &str, nargs: usize) -> bool {
    matches!(name, "sum" | "prod" | "mean" | "stddev" | "rank")
        || (matches!(name, "min" | "max") && nargs == 1)
}

/// Largest array RANK accepts (its expression grows with the square of the size).
const RANK_LIMIT: usize = 1000;

/// RANK(items, n): the 1-based position of the n-th smallest item; ties go to the earlier
/// position; 0 when n is not a rank (not a whole number from 1 to the count). Built from
/// comparisons: the rank of item i is 1 + #{j: x_j < x_i} + #{j < i: x_j = x_i}.
fn rank(items: Vec<Ir>, n: Ir) -> Result<Ir, usize> {
    if items.len() > RANK_LIMIT {
        return Err(RANK_LIMIT);
    }
    let indicator = |op, a: &Ir, b: &Ir| Ir::bin(op, a.clone(), b.clone());
    let mut terms = Vec::with_capacity(items.len());
    for (i, xi) in items.iter().enumerate() {
        let mut count = vec![Ir::Num(1.0)];
        for (j, xj) in items.iter().enumerate() {
            if j < i {
                count.push(indicator(BinaryOp::Le, xj, xi));
            } else if j > i {
                count.push(indicator(BinaryOp::Lt, xj, xi));
            }
        }
        let is_nth = Ir::bin(BinaryOp::Eq, Ir::Sum(count), n.clone());
        terms.push(Ir::bin(BinaryOp::Mul, Ir::Num((i + 1) as f64), is_nth));
    }
    Ok(Ir::Sum(terms))
}

fn arity_text(lo: usize, hi: usize) -> String {
    if lo == hi {
        lo.to_string()
    } else if hi == usize::MAX {
        format!("at least {lo}")
    } else {
        format!("{lo} to {hi}")
    }
}

fn unreachable_if(e: &Expr, ctx: &Ctx) -> LResult {
    // The parser turns if(...) into ExprKind::If; reaching here means a wrong argument count.
    Err(
        Diagnostic::error("IF needs a condition, a THEN value and an ELSE value")
            .at(ctx.loc(e.span))
            .help("write if(condition, value_if_true, value_if_false)"),
    )
}
