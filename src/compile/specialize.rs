//! Specialisation of the per-step code to the constants a job leaves at their model values.
//!
//! A Monte Carlo job, a sweep or `careshift bench` changes a few constants from run to run;
//! the rest keep the number written in the model for every run. A constant that no run
//! changes is, for that job, a number: [`fold`] writes it into the per-step equations as a
//! literal and simplifies what that makes constant, as a person writing the model by hand
//! would. Selector constants are the main beneficiary: in the care model,
//! `state_fit[frailty] * (recovery[age] - onset[age]) + state_mild[frailty] * (...) + ...`
//! with `state_fit = [1, 0, 0, 0]` becomes `recovery[age] - onset[age]` for the `fit`
//! element, and `1 - at_risk[age, frailty] * avoidable_effect[age]` becomes `1` where
//! `at_risk` is 0.
//!
//! **Exactness.** Replacing a constant by its value and folding an operation on two numbers
//! computes the same bits. So do `x × 1`, `x ÷ 1`, `x + (−0)` and `x − 0`, which are dropped.
//! Two rules are exact for every finite, non-zero `x` only, and are the documented
//! semantics of a constant 0 in a specialised program (docs/EQUATIONS.md):
//! - `x × 0` and `0 × x` are 0: where `x` is negative the unspecialised code gives −0, and
//!   where `x` is not finite (an overflow inside one equation) it gives NaN and fails the run;
//! - `x + 0` and `0 + x` are `x` (a sum of zeros gives +0 where the unspecialised code may
//!   give −0).
//!
//! A fold that would make a number that is not finite (`1 / 0`, `0 ^ −1`) is not made: the
//! operation stays, so the run still reports it where it did before.
//!
//! The initial phase is not specialised: it still stores every constant's value in its slot,
//! so every column is reported as before. The slots built into the code are recorded
//! (`Program::built_in`); a run that overrides or schedules one of them is refused
//! (`simulate`), since the code would ignore the new value.

use crate::equation::BinaryOp;

use super::ir::{Func, Ir};

/// `ir` with every slot that `known` gives a value for replaced by that value, and the
/// operations on numbers that this makes folded (see the module docs for the rules).
pub(crate) fn fold(ir: &Ir, known: &dyn Fn(u32) -> Option<f64>) -> Ir {
    match ir {
        Ir::Num(_) | Ir::Time | Ir::Dt => ir.clone(),
        Ir::Slot(s) => match known(*s) {
            Some(v) => Ir::Num(v),
            None => ir.clone(),
        },
        Ir::Neg(a) => match fold(a, known) {
            Ir::Num(x) => Ir::Num(-x),
            a => Ir::Neg(Box::new(a)),
        },
        Ir::Not(a) => match fold(a, known) {
            Ir::Num(x) => Ir::Num(truth(x == 0.0)),
            a => Ir::Not(Box::new(a)),
        },
        Ir::Bin(op, a, b, loc) => binary(*op, fold(a, known), fold(b, known), *loc),
        Ir::If(c, a, b) => match fold(c, known) {
            // As the evaluators' `JumpIfFalse`: only 0 takes the ELSE branch.
            Ir::Num(c) => fold(if c != 0.0 { a } else { b }, known),
            c => Ir::If(
                Box::new(c),
                Box::new(fold(a, known)),
                Box::new(fold(b, known)),
            ),
        },
        Ir::Call(f, args) => {
            let args: Vec<Ir> = args.iter().map(|a| fold(a, known)).collect();
            match (f, args.as_slice()) {
                (Func::Min, [Ir::Num(x), Ir::Num(y)]) => Ir::Num(crate::vm::min(*x, *y)),
                (Func::Max, [Ir::Num(x), Ir::Num(y)]) => Ir::Num(crate::vm::max(*x, *y)),
                _ => Ir::Call(*f, args),
            }
        }
        Ir::Sum(args) => {
            // −0 is the sum's neutral value (`Sum` starts from it), so dropping exact
            // zeros changes nothing but the sign of an all-zero sum.
            let kept: Vec<Ir> = args
                .iter()
                .map(|a| fold(a, known))
                .filter(|a| !matches!(a, Ir::Num(x) if *x == 0.0))
                .collect();
            match kept.len() {
                0 => Ir::Num(0.0),
                1 => kept.into_iter().next().expect("one term"),
                _ => Ir::Sum(kept),
            }
        }
        Ir::Prod(args) => {
            let folded: Vec<Ir> = args.iter().map(|a| fold(a, known)).collect();
            if folded.iter().any(|a| matches!(a, Ir::Num(x) if *x == 0.0)) {
                return Ir::Num(0.0);
            }
            let kept: Vec<Ir> = folded
                .into_iter()
                .filter(|a| !matches!(a, Ir::Num(x) if *x == 1.0))
                .collect();
            match kept.len() {
                0 => Ir::Num(1.0),
                1 => kept.into_iter().next().expect("one factor"),
                _ => Ir::Prod(kept),
            }
        }
        Ir::Lookup(t, a) => Ir::Lookup(*t, Box::new(fold(a, known))),
    }
}

fn truth(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `a op b` on folded operands.
fn binary(op: BinaryOp, a: Ir, b: Ir, loc: Option<crate::diagnostics::Location>) -> Ir {
    use BinaryOp::*;
    if let (Ir::Num(x), Ir::Num(y)) = (&a, &b) {
        let (x, y) = (*x, *y);
        let v = match op {
            Add => x + y,
            Sub => x - y,
            Mul => x * y,
            Div => x / y,
            Pow => x.powf(y),
            Eq => truth(x == y),
            Ne => truth(x != y),
            Lt => truth(x < y),
            Le => truth(x <= y),
            Gt => truth(x > y),
            Ge => truth(x >= y),
            And => truth(x != 0.0 && y != 0.0),
            Or => truth(x != 0.0 || y != 0.0),
        };
        if v.is_finite() {
            return Ir::Num(v);
        }
    }
    let is = |ir: &Ir, n: f64| matches!(ir, Ir::Num(x) if *x == n);
    let zero = |ir: &Ir| matches!(ir, Ir::Num(x) if *x == 0.0);
    match op {
        Mul if zero(&a) || zero(&b) => Ir::Num(0.0),
        Mul if is(&a, 1.0) => b,
        Mul | Div if is(&b, 1.0) => a,
        Add if zero(&a) => b,
        Add | Sub if zero(&b) => a,
        _ => Ir::Bin(op, Box::new(a), Box::new(b), loc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(s: u32) -> Ir {
        Ir::Slot(s)
    }
    fn bin(op: BinaryOp, a: Ir, b: Ir) -> Ir {
        Ir::bin(op, a, b)
    }
    /// Slots 0 and 1 vary; slot 2 is 1, slot 3 is 0, slot 4 is 2.5.
    fn known(s: u32) -> Option<f64> {
        match s {
            2 => Some(1.0),
            3 => Some(0.0),
            4 => Some(2.5),
            _ => None,
        }
    }

    #[test]
    fn selector_sums_keep_only_the_selected_term() {
        use BinaryOp::*;
        // s2 * (v0 - v1) + s3 * (v1 - v0) + s3 * v1   →   v0 - v1
        let ir = bin(
            Add,
            bin(
                Add,
                bin(Mul, slot(2), bin(Sub, slot(0), slot(1))),
                bin(Mul, slot(3), bin(Sub, slot(1), slot(0))),
            ),
            bin(Mul, slot(3), slot(1)),
        );
        assert_eq!(fold(&ir, &known), bin(Sub, slot(0), slot(1)));
        // v0 * (1 - s3 * v1) * s4   →   v0 * 2.5
        let ir = bin(
            Mul,
            bin(
                Mul,
                slot(0),
                bin(Sub, Ir::Num(1.0), bin(Mul, slot(3), slot(1))),
            ),
            slot(4),
        );
        assert_eq!(fold(&ir, &known), bin(Mul, slot(0), Ir::Num(2.5)));
    }

    #[test]
    fn numbers_fold_with_the_evaluators_operations_but_never_to_a_non_finite_value() {
        use BinaryOp::*;
        assert_eq!(fold(&bin(Div, slot(4), slot(2)), &known), Ir::Num(2.5));
        assert_eq!(fold(&bin(Gt, slot(4), slot(2)), &known), Ir::Num(1.0));
        let by_zero = bin(Div, slot(2), slot(3));
        assert_eq!(fold(&by_zero, &known), bin(Div, Ir::Num(1.0), Ir::Num(0.0)));
        let call = Ir::Call(Func::Min, vec![slot(4), slot(2)]);
        assert_eq!(fold(&call, &known), Ir::Num(1.0));
        let chosen = Ir::If(Box::new(slot(3)), Box::new(slot(0)), Box::new(slot(1)));
        assert_eq!(fold(&chosen, &known), slot(1));
        // −0 is not 1's neighbour: `x × −1` stays a product.
        let negated = bin(Mul, slot(0), Ir::Num(-1.0));
        assert_eq!(fold(&negated, &known), negated);
    }

    #[test]
    fn sums_and_products_drop_their_neutral_terms() {
        let sum = Ir::Sum(vec![bin(BinaryOp::Mul, slot(3), slot(0)), slot(1), slot(3)]);
        assert_eq!(fold(&sum, &known), slot(1));
        let prod = Ir::Prod(vec![slot(2), slot(0), slot(4)]);
        assert_eq!(fold(&prod, &known), Ir::Prod(vec![slot(0), Ir::Num(2.5)]));
        let zero = Ir::Prod(vec![slot(0), slot(3)]);
        assert_eq!(fold(&zero, &known), Ir::Num(0.0));
        // Nothing known: unchanged.
        let free = bin(BinaryOp::Add, slot(0), slot(1));
        assert_eq!(fold(&free, &|_| None), free);
    }
}
