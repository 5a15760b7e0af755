//! Dimensional analysis of equations.
//!
//! Units are inferred bottom-up over the AST: a variable has its declared units, a bare number
//! adopts whatever units its context needs (`Inferred::Any`), `+ - < = ...` require equal units,
//! `* /` combine them, and each builtin has its rule (see docs/EQUATIONS.md). The result is
//! compared with the declared units of the variable. Variables without declared units are
//! skipped (and warned about elsewhere).

use super::Builder;
use super::lower::Ctx;
use crate::diagnostics::{Diagnostic, Location};
use crate::equation::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::model::{Definition, Text, VarKind};
use crate::units::{Inferred, Unit, mismatch_hint};

type UResult = Result<Inferred, Diagnostic>;

impl Builder<'_> {
    /// Check one equation of `var_id` against its declared units.
    pub(crate) fn check_units(
        &self,
        var_id: usize,
        expr: &Expr,
        text: &Text,
    ) -> Result<(), Diagnostic> {
        if self.model.dialect.units_unchecked {
            return Ok(());
        }
        let v = &self.vars[var_id];
        let ctx = Ctx {
            scope: &self.model.vars[v.decl].scope,
            text,
            elems: Vec::new(),
            owner: v.name.clone(),
        };
        let inferred = self.infer(expr, &ctx)?;
        if let (Some(declared), Inferred::Known(got)) = (&v.units, inferred)
            && *declared != got
        {
            let what = if v.kind == VarKind::Stock {
                "initial value"
            } else {
                "equation"
            };
            let mut d = Diagnostic::error(format!(
                "units mismatch: `{}` is declared in `{declared}` but its {what} gives `{got}`",
                v.name
            ))
            .at(ctx.loc(expr.span));
            if let Some(h) = mismatch_hint(declared, &got) {
                d = d.help(h);
            }
            return Err(d);
        }
        Ok(())
    }

    /// A flow attached to a stock must be in stock units per time unit.
    pub(crate) fn check_flow_units(
        &self,
        stock_id: usize,
        flow_id: usize,
        loc: Location,
    ) -> Result<(), Diagnostic> {
        if self.model.dialect.units_unchecked {
            return Ok(());
        }
        let (stock, flow) = (&self.vars[stock_id], &self.vars[flow_id]);
        if let (Some(s), Some(f)) = (&stock.units, &flow.units) {
            let expected = s.div(&self.time_unit);
            if *f != expected {
                let mut d = Diagnostic::error(format!(
                    "units mismatch: flow `{}` is in `{f}`, but a flow of stock `{}` (in `{s}`) must be in `{expected}`",
                    flow.name, stock.name
                ))
                .at(loc);
                if let Some(h) = mismatch_hint(&expected, f) {
                    d = d.help(h);
                }
                return Err(d);
            }
        }
        Ok(())
    }

    fn infer(&self, e: &Expr, ctx: &Ctx) -> UResult {
        match &e.kind {
            ExprKind::Number(_) => Ok(Inferred::Any),
            ExprKind::Var { name, .. } => {
                let lower = name.to_ascii_lowercase();
                if lower == "time" || lower == "dt" {
                    return Ok(Inferred::Known(self.time_unit.clone()));
                }
                Ok(match self.resolve(name, e.span, ctx) {
                    Ok(i) => self.vars[i]
                        .units
                        .clone()
                        .map_or(Inferred::Any, Inferred::Known),
                    Err(_) => Inferred::Any, // reported by lowering
                })
            }
            ExprKind::Unary { op, operand } => {
                let u = self.infer(operand, ctx)?;
                match op {
                    UnaryOp::Not => Ok(Inferred::Known(Unit::dimensionless())),
                    _ => Ok(u),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.infer(lhs, ctx)?, self.infer(rhs, ctx)?);
                match op {
                    BinaryOp::Mul => Ok(a.mul(&b)),
                    BinaryOp::Div => Ok(a.div(&b)),
                    BinaryOp::Pow => self.power(a, b, rhs, e, ctx),
                    BinaryOp::Add | BinaryOp::Sub => {
                        self.same(e, op.symbol(), (lhs, a), (rhs, b), ctx)
                    }
                    BinaryOp::And | BinaryOp::Or => Ok(Inferred::Known(Unit::dimensionless())),
                    _ => {
                        self.same(e, op.symbol(), (lhs, a), (rhs, b), ctx)?;
                        Ok(Inferred::Known(Unit::dimensionless()))
                    }
                }
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.infer(cond, ctx)?;
                let (a, b) = (self.infer(then, ctx)?, self.infer(otherwise, ctx)?);
                self.same(e, "IF THEN ELSE", (then, a), (otherwise, b), ctx)
            }
            ExprKind::Call {
                name,
                raw_name,
                args,
                ..
            } => self.infer_call(e, name, raw_name, args, ctx),
        }
    }

    fn power(
        &self,
        base: Inferred,
        exponent: Inferred,
        rhs: &Expr,
        e: &Expr,
        ctx: &Ctx,
    ) -> UResult {
        let Inferred::Known(b) = base else {
            return Ok(Inferred::Any);
        };
        if b.is_dimensionless() {
            return Ok(Inferred::Known(b));
        }
        if let Some(n) = literal(rhs)
            && n.fract() == 0.0
            && n.abs() <= 64.0
        {
            return Ok(Inferred::Known(b.powi(n as i32)));
        }
        let _ = exponent;
        Err(Diagnostic::error(format!(
            "units: `{}` raises `{b}` to a power that is not a whole number written in the equation",
            ctx.text.text.get(e.span.start..e.span.end).unwrap_or("?")
        ))
        .at(ctx.loc(e.span))
        .help("only a dimensionless value can be raised to a computed or fractional power; divide it by a reference value first"))
    }

    /// Both operands must have the same units; returns them.
    fn same(
        &self,
        e: &Expr,
        what: &str,
        (l, a): (&Expr, Inferred),
        (r, b): (&Expr, Inferred),
        ctx: &Ctx,
    ) -> UResult {
        a.unify(&b).map_err(|()| {
            let (Inferred::Known(ua), Inferred::Known(ub)) = (&a, &b) else { unreachable_units() };
            let snippet = |x: &Expr| ctx.text.text.get(x.span.start..x.span.end).unwrap_or("?").to_string();
            let mut d = Diagnostic::error(format!(
                "units mismatch in `{}`: `{}` is in `{ua}` but `{}` is in `{ub}`; both sides of `{what}` need the same units",
                snippet(e),
                snippet(l),
                snippet(r)
            ))
            .at(ctx.loc(e.span));
            if let Some(h) = mismatch_hint(ua, ub) {
                d = d.help(h);
            }
            d
        })
    }

    fn expect(
        &self,
        arg: &Expr,
        got: &Inferred,
        want: &Unit,
        role: &str,
        fname: &str,
        ctx: &Ctx,
    ) -> Result<(), Diagnostic> {
        if let Inferred::Known(u) = got
            && u != want
        {
            let mut d = Diagnostic::error(format!(
                "units mismatch: the {role} of {} is in `{u}` but must be in `{want}`",
                fname.to_uppercase()
            ))
            .at(ctx.loc(arg.span));
            if let Some(h) = mismatch_hint(want, u) {
                d = d.help(h);
            }
            return Err(d);
        }
        Ok(())
    }

    fn infer_call(
        &self,
        e: &Expr,
        name: &str,
        raw_name: &str,
        args: &[Expr],
        ctx: &Ctx,
    ) -> UResult {
        let units: Vec<Inferred> = args
            .iter()
            .map(|a| self.infer(a, ctx))
            .collect::<Result<_, _>>()?;
        let one = Unit::dimensionless();
        let time = self.time_unit.clone();
        let arg = |i: usize| units.get(i).cloned().unwrap_or(Inferred::Any);
        let dimless = Inferred::Known(one.clone());
        match name {
            "abs" | "int" | "integer" | "round" | "sum" | "mean" | "prod" | "stddev"
                if args.len() == 1 =>
            {
                Ok(arg(0))
            }
            "exp" | "ln" | "log10" | "sin" | "cos" | "tan" | "arcsin" | "arccos" | "arctan"
                if args.len() == 1 =>
            {
                self.expect(&args[0], &arg(0), &one, "argument", name, ctx)?;
                Ok(dimless)
            }
            "sqrt" if args.len() == 1 => match arg(0) {
                Inferred::Known(u) => u.root(2).map(Inferred::Known).ok_or_else(|| {
                    Diagnostic::error(format!(
                        "units: the square root of `{u}` has no whole-number units"
                    ))
                    .at(ctx.loc(args[0].span))
                    .help("every unit exponent inside SQRT must be even")
                }),
                Inferred::Any => Ok(Inferred::Any),
            },
            "min" | "max" | "modulo" | "mod" | "remainder" if !args.is_empty() => {
                let mut acc = arg(0);
                for (i, a) in args.iter().enumerate().skip(1) {
                    acc = self.same(e, name, (&args[0], acc), (a, arg(i)), ctx)?;
                }
                Ok(acc)
            }
            "xidz" if args.len() == 3 => {
                let q = arg(0).div(&arg(1));
                self.same(e, "XIDZ", (e, q), (&args[2], arg(2)), ctx)
            }
            "zidz" if args.len() == 2 => Ok(arg(0).div(&arg(1))),
            "step" if args.len() == 2 => {
                self.expect(&args[1], &arg(1), &time, "start time", name, ctx)?;
                Ok(arg(0))
            }
            "ramp" if (2..=3).contains(&args.len()) => {
                for (i, a) in args.iter().enumerate().skip(1) {
                    self.expect(a, &arg(i), &time, "start/end time", name, ctx)?;
                }
                Ok(arg(0).mul(&Inferred::Known(time)))
            }
            "pulse" if (2..=3).contains(&args.len()) => {
                for (i, a) in args.iter().enumerate().skip(1) {
                    self.expect(a, &arg(i), &time, "time argument", name, ctx)?;
                }
                Ok(arg(0).div(&Inferred::Known(time)))
            }
            "pulse_train" if args.len() == 4 => {
                for (i, a) in args.iter().enumerate() {
                    self.expect(a, &arg(i), &time, "time argument", name, ctx)?;
                }
                Ok(dimless)
            }
            "smooth" | "smooth1" | "smooth3" | "delay1" | "delay3" | "delayn" | "trend"
                if args.len() >= 2 =>
            {
                self.expect(
                    &args[1],
                    &arg(1),
                    &time,
                    "delay or averaging time",
                    name,
                    ctx,
                )?;
                let init_index = if name == "delayn" { 3 } else { 2 };
                if let (true, Some(order)) = (name == "delayn", args.get(2)) {
                    self.expect(order, &arg(2), &one, "order", name, ctx)?;
                }
                if name == "trend" {
                    return Ok(Inferred::Known(one.div(&time)));
                }
                if let Some(init) = args.get(init_index) {
                    self.same(e, name, (&args[0], arg(0)), (init, arg(init_index)), ctx)
                } else {
                    Ok(arg(0))
                }
            }
            "init" if args.len() == 1 => Ok(arg(0)),
            "rank" if args.len() == 2 => Ok(dimless),
            "delay_fixed" if args.len() >= 2 => {
                self.expect(&args[1], &arg(1), &time, "delay time", name, ctx)?;
                match args.get(2) {
                    Some(init) => {
                        self.same(e, "DELAY FIXED", (&args[0], arg(0)), (init, arg(2)), ctx)
                    }
                    None => Ok(arg(0)),
                }
            }
            "previous" if !args.is_empty() => match args.get(1) {
                Some(init) => self.same(e, "PREVIOUS", (&args[0], arg(0)), (init, arg(1)), ctx),
                None => Ok(arg(0)),
            },
            _ => {
                // A lookup call (arity errors are reported by lowering).
                let qualified = format!("{}{raw_name}", ctx.scope);
                let Some(&var) = self.var_index.get(&qualified) else {
                    return Ok(Inferred::Any);
                };
                let v = &self.vars[var];
                if let (Definition::Lookup(data), Some(a)) =
                    (&self.model.vars[v.decl].def, args.first())
                    && let Some(x_units) = data
                        .x_units
                        .as_ref()
                        .and_then(|t| Unit::parse(&t.text).ok())
                {
                    self.expect(a, &arg(0), &x_units, "input", raw_name, ctx)?;
                }
                Ok(v.units.clone().map_or(Inferred::Any, Inferred::Known))
            }
        }
    }
}

/// The value of a literal number (possibly negated).
fn literal(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Number(x) => Some(*x),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => literal(operand).map(|x| -x),
        _ => None,
    }
}

fn unreachable_units() -> ! {
    // `unify` only fails for two different known units.
    panic!("unit unification failed without two known units")
}
