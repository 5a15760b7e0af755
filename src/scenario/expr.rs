//! Expressions over metrics: `expression` metrics and assumption tests
//! (`break_even_year <= 2030 and net_saving_2030 > 0`). Written in the equation language; names
//! are resolved to metric indices when the scenario is loaded.

use crate::equation::{BinaryOp, Expr, ExprKind, Span, UnaryOp};

/// A compiled expression: every name is a metric index.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    Num(f64),
    Metric(usize),
    Neg(Box<MetricExpr>),
    Not(Box<MetricExpr>),
    Bin(BinaryOp, Box<MetricExpr>, Box<MetricExpr>),
    If(Box<MetricExpr>, Box<MetricExpr>, Box<MetricExpr>),
    Call(Func, Vec<MetricExpr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Min,
    Max,
    Exp,
    Ln,
    Sqrt,
}

/// Resolve names with `resolve` (name → metric index); Err(message, span) otherwise.
pub fn compile(
    e: &Expr,
    resolve: &dyn Fn(&str) -> Option<usize>,
) -> Result<MetricExpr, (String, Span)> {
    Ok(match &e.kind {
        ExprKind::Number(x) => MetricExpr::Num(*x),
        ExprKind::Var {
            name,
            subscripts: None,
        } => match resolve(name) {
            Some(i) => MetricExpr::Metric(i),
            None => return Err((format!("unknown metric `{name}`"), e.span)),
        },
        ExprKind::Var { name, .. } => {
            return Err((
                format!("`{name}[...]`: metrics are scalars and take no subscripts"),
                e.span,
            ));
        }
        ExprKind::Unary { op, operand } => {
            let a = compile(operand, resolve)?;
            match op {
                UnaryOp::Neg => MetricExpr::Neg(Box::new(a)),
                UnaryOp::Plus => a,
                UnaryOp::Not => MetricExpr::Not(Box::new(a)),
            }
        }
        ExprKind::Binary { op, lhs, rhs } => MetricExpr::Bin(
            *op,
            Box::new(compile(lhs, resolve)?),
            Box::new(compile(rhs, resolve)?),
        ),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => MetricExpr::If(
            Box::new(compile(cond, resolve)?),
            Box::new(compile(then, resolve)?),
            Box::new(compile(otherwise, resolve)?),
        ),
        ExprKind::Call { name, args, .. } => {
            let (f, lo, hi) = match name.as_str() {
                "abs" => (Func::Abs, 1, 1),
                "exp" => (Func::Exp, 1, 1),
                "ln" => (Func::Ln, 1, 1),
                "sqrt" => (Func::Sqrt, 1, 1),
                "min" => (Func::Min, 2, usize::MAX),
                "max" => (Func::Max, 2, usize::MAX),
                _ => {
                    return Err((
                        format!(
                            "`{name}` is not available in metric expressions (use abs, min, max, exp, ln, sqrt)"
                        ),
                        e.span,
                    ));
                }
            };
            if args.len() < lo || args.len() > hi {
                return Err((
                    format!(
                        "{name} takes {lo}{} argument(s)",
                        if hi > lo { " or more" } else { "" }
                    ),
                    e.span,
                ));
            }
            MetricExpr::Call(
                f,
                args.iter()
                    .map(|a| compile(a, resolve))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

impl MetricExpr {
    /// Evaluate with metric values `m`. Comparisons give 1 or 0. A metric that is +∞ (e.g. "no
    /// break-even within the horizon") compares as later than any year.
    pub fn eval(&self, m: &[f64]) -> f64 {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match self {
            MetricExpr::Num(x) => *x,
            MetricExpr::Metric(i) => m[*i],
            MetricExpr::Neg(a) => -a.eval(m),
            MetricExpr::Not(a) => b(a.eval(m) == 0.0),
            MetricExpr::If(c, t, f) => {
                if c.eval(m) != 0.0 {
                    t.eval(m)
                } else {
                    f.eval(m)
                }
            }
            MetricExpr::Bin(op, l, r) => {
                let (x, y) = (l.eval(m), r.eval(m));
                match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => x / y,
                    BinaryOp::Pow => x.powf(y),
                    BinaryOp::Eq => b(x == y),
                    BinaryOp::Ne => b(x != y),
                    BinaryOp::Lt => b(x < y),
                    BinaryOp::Le => b(x <= y),
                    BinaryOp::Gt => b(x > y),
                    BinaryOp::Ge => b(x >= y),
                    BinaryOp::And => b(x != 0.0 && y != 0.0),
                    BinaryOp::Or => b(x != 0.0 || y != 0.0),
                }
            }
            MetricExpr::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval(m)).collect();
                match f {
                    Func::Abs => v[0].abs(),
                    Func::Exp => v[0].exp(),
                    Func::Ln => v[0].ln(),
                    Func::Sqrt => v[0].sqrt(),
                    Func::Min => v.iter().copied().fold(f64::INFINITY, f64::min),
                    Func::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            }
        }
    }

    /// Metric indices this expression reads.
    pub fn metrics(&self, out: &mut Vec<usize>) {
        match self {
            MetricExpr::Num(_) => {}
            MetricExpr::Metric(i) => out.push(*i),
            MetricExpr::Neg(a) | MetricExpr::Not(a) => a.metrics(out),
            MetricExpr::Bin(_, a, b) => {
                a.metrics(out);
                b.metrics(out);
            }
            MetricExpr::If(c, a, b) => {
                c.metrics(out);
                a.metrics(out);
                b.metrics(out);
            }
            MetricExpr::Call(_, args) => args.iter().for_each(|a| a.metrics(out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::equation::parse;

    #[test]
    fn compiles_and_evaluates_assumption_tests() {
        let names = ["break_even_year", "net_saving_2030"];
        let resolve = |n: &str| names.iter().position(|x| *x == n);
        let e = compile(
            &parse("break_even_year <= 2030 and net_saving_2030 > 0").unwrap(),
            &resolve,
        )
        .unwrap();
        assert_eq!(e.eval(&[2029.5, 10.0]), 1.0);
        assert_eq!(e.eval(&[2031.0, 10.0]), 0.0);
        assert_eq!(e.eval(&[f64::INFINITY, 10.0]), 0.0);
        let err = compile(&parse("payback < 3").unwrap(), &resolve).unwrap_err();
        assert!(err.0.contains("unknown metric `payback`"));
        assert_eq!(err.1, Span::new(0, 7));
    }
}
