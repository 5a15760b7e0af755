//! Constant factors of the per-step equations, combined once per run.
//!
//! SD equations multiply a varying quantity by chains of parameters:
//! `people * admission_rate[age] * (1 - readmission_fraction[age]) / risk_norm[age] * hr[frailty]`
//! evaluates five multiplications or divisions per element at every step, four of them between
//! numbers that do not change during the run. This pass rewrites the per-step code (and only
//! it) so that such parameters are combined once:
//!
//! - a product/quotient chain with two or more constant factors becomes
//!   `varying factors × K / varying divisors`, with `K` = the constant factors (numerators
//!   multiplied in order, then divided by the constant divisors in order) in a new hidden slot;
//! - any other constant subexpression of more than one operation becomes a hidden slot.
//!
//! The hidden slots are computed at the end of the initial phase and recorded as hoisted
//! (`Program::hoisted`), so a schedule that changes one of their inputs recomputes them
//! (`simulate::schedule`). "Constant" means: a number, a constant or INIT value, or an
//! auxiliary that only reads those (not TIME, DT or a time function; flows never, since
//! non-negative limiting scales them).
//!
//! **Exactness.** Regrouping a product changes rounding: results differ from the unregrouped
//! order in the last bits (about 1e-16 relative per regrouped chain). Both evaluators (the
//! interpreter and native code) run the same rewritten code, so they still agree bit for bit,
//! and a run is still reproducible. Chains with fewer than two constant factors are left
//! exactly as written.
//!
//! **Where.** Only where a non-finite constant part would make the whole value non-finite
//! anyway, so a hoisted part cannot turn a run that used to succeed into a failure: through
//! `+ − × ÷`, unary minus and SUM/PROD, never inside IF, a function's arguments, a lookup's
//! input, comparisons or logic (where, say, `IF c = 0 THEN 0 ELSE x / c` must not evaluate
//! `x / c` when `c = 0`).

use crate::diagnostics::Location;
use crate::equation::BinaryOp;

use super::ir::{Func, Ir};

/// A hidden slot holding a constant part of a per-step equation.
pub(crate) struct ConstantPart {
    pub slot: u32,
    pub ir: Ir,
    /// The equation it was taken from (for its name in messages and its location).
    pub owner: u32,
}

/// Rewrites per-step equations, handing out new slots from `next_slot` on.
pub(crate) struct FactorHoister {
    /// `constant[slot]`, for every slot including the new ones.
    constant: Vec<bool>,
    next_slot: u32,
    pub parts: Vec<ConstantPart>,
}

impl FactorHoister {
    /// `constant[slot]`: the slot cannot change during a run (see the module docs).
    pub fn new(constant: Vec<bool>) -> FactorHoister {
        let next_slot = constant.len() as u32;
        FactorHoister {
            constant,
            next_slot,
            parts: Vec::new(),
        }
    }

    pub fn is_constant(&self, ir: &Ir) -> bool {
        match ir {
            Ir::Num(_) => true,
            Ir::Slot(s) => self.constant[*s as usize],
            Ir::Time | Ir::Dt => false,
            Ir::Neg(a) | Ir::Not(a) | Ir::Lookup(_, a) => self.is_constant(a),
            Ir::Bin(_, a, b, _) => self.is_constant(a) && self.is_constant(b),
            Ir::If(c, a, b) => self.is_constant(c) && self.is_constant(a) && self.is_constant(b),
            Ir::Call(f, args) => {
                !matches!(f, Func::Step | Func::Ramp | Func::Pulse | Func::PulseTrain)
                    && args.iter().all(|a| self.is_constant(a))
            }
            Ir::Sum(args) | Ir::Prod(args) => args.iter().all(|a| self.is_constant(a)),
        }
    }

    /// Mark an auxiliary's slot constant when its equation is (call in evaluation order).
    pub fn note_auxiliary(&mut self, slot: u32, ir: &Ir) {
        if self.is_constant(ir) {
            self.constant[slot as usize] = true;
        }
    }

    /// The per-step form of `owner`'s equation `ir`.
    pub fn rewrite_equation(&mut self, owner: u32, ir: &Ir) -> Ir {
        if self.is_constant(ir) {
            // Hoisted whole by `optimize` (or a flow, computed as written).
            return ir.clone();
        }
        self.rewrite(owner, ir)
    }

    fn hoist(&mut self, owner: u32, ir: Ir) -> Ir {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.constant.push(true);
        self.parts.push(ConstantPart { slot, ir, owner });
        Ir::Slot(slot)
    }

    fn rewrite(&mut self, owner: u32, ir: &Ir) -> Ir {
        if self.is_constant(ir) {
            return match ir {
                Ir::Num(_) | Ir::Slot(_) => ir.clone(),
                _ => self.hoist(owner, ir.clone()),
            };
        }
        match ir {
            Ir::Bin(BinaryOp::Mul | BinaryOp::Div, ..) => self.rewrite_product(owner, ir),
            Ir::Bin(op @ (BinaryOp::Add | BinaryOp::Sub), a, b, loc) => Ir::Bin(
                *op,
                Box::new(self.rewrite(owner, a)),
                Box::new(self.rewrite(owner, b)),
                *loc,
            ),
            Ir::Neg(a) => Ir::Neg(Box::new(self.rewrite(owner, a))),
            Ir::Sum(args) => Ir::Sum(args.iter().map(|a| self.rewrite(owner, a)).collect()),
            Ir::Prod(args) => Ir::Prod(args.iter().map(|a| self.rewrite(owner, a)).collect()),
            _ => ir.clone(),
        }
    }

    fn rewrite_product(&mut self, owner: u32, ir: &Ir) -> Ir {
        let mut factors = Vec::new();
        collect_factors(ir, false, None, &mut factors);
        let constants = factors.iter().filter(|f| self.is_constant(&f.ir)).count();
        if constants < 2 {
            // Nothing to combine: keep the order as written, rewrite the operands.
            let Ir::Bin(op, a, b, loc) = ir else {
                unreachable!("rewrite_product is called on a product or quotient")
            };
            return Ir::Bin(
                *op,
                Box::new(self.rewrite(owner, a)),
                Box::new(self.rewrite(owner, b)),
                *loc,
            );
        }
        let (constant, varying): (Vec<Factor>, Vec<Factor>) =
            factors.into_iter().partition(|f| self.is_constant(&f.ir));
        let combined = self.hoist(owner, build(Vec::new(), constant));
        let varying = varying
            .into_iter()
            .map(|f| Factor {
                ir: self.rewrite(owner, &f.ir),
                ..f
            })
            .collect();
        build(vec![combined], varying)
    }
}

/// One operand of a product/quotient chain.
struct Factor {
    ir: Ir,
    divisor: bool,
    /// For a divisor: where the division is written.
    loc: Option<Location>,
}

fn collect_factors(ir: &Ir, divisor: bool, loc: Option<Location>, out: &mut Vec<Factor>) {
    match ir {
        Ir::Bin(BinaryOp::Mul, a, b, _) => {
            collect_factors(a, divisor, loc, out);
            collect_factors(b, divisor, loc, out);
        }
        Ir::Bin(BinaryOp::Div, a, b, div_loc) => {
            collect_factors(a, divisor, loc, out);
            collect_factors(b, !divisor, div_loc.or(loc), out);
        }
        _ => out.push(Factor {
            ir: ir.clone(),
            divisor,
            loc,
        }),
    }
}

/// `numerators in order × extra... / divisors in order`, where `first` (if any) is multiplied
/// in after the other numerators.
fn build(first: Vec<Ir>, factors: Vec<Factor>) -> Ir {
    let (divisors, numerators): (Vec<Factor>, Vec<Factor>) =
        factors.into_iter().partition(|f| f.divisor);
    let mut terms = numerators.into_iter().map(|f| f.ir).chain(first);
    let mut acc = terms.next().unwrap_or(Ir::Num(1.0));
    for t in terms {
        acc = Ir::bin(BinaryOp::Mul, acc, t);
    }
    for d in divisors {
        acc = Ir::Bin(BinaryOp::Div, Box::new(acc), Box::new(d.ir), d.loc);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(s: u32) -> Ir {
        Ir::Slot(s)
    }
    fn mul(a: Ir, b: Ir) -> Ir {
        Ir::bin(BinaryOp::Mul, a, b)
    }
    fn div(a: Ir, b: Ir) -> Ir {
        Ir::bin(BinaryOp::Div, a, b)
    }

    /// Slots 0 and 1 vary; 2, 3 and 4 are constants.
    fn hoister() -> FactorHoister {
        FactorHoister::new(vec![false, false, true, true, true])
    }

    #[test]
    fn constant_factors_of_a_chain_are_combined_once() {
        let mut h = hoister();
        // v0 * c2 / c3 * v1 * c4  →  v0 * v1 * K,  K = c2 * c4 / c3
        let ir = mul(mul(div(mul(slot(0), slot(2)), slot(3)), slot(1)), slot(4));
        let got = h.rewrite_equation(9, &ir);
        assert_eq!(got, mul(mul(slot(0), slot(1)), slot(5)));
        assert_eq!(h.parts.len(), 1);
        assert_eq!(h.parts[0].ir, div(mul(slot(2), slot(4)), slot(3)));
    }

    #[test]
    fn varying_divisors_stay_divisors_and_single_constants_stay_in_place() {
        let mut h = hoister();
        // c2 * c3 / v0  →  K / v0
        let got = h.rewrite_equation(9, &div(mul(slot(2), slot(3)), slot(0)));
        assert_eq!(got, div(slot(5), slot(0)));
        // v0 * c2 / v1: one constant, left exactly as written
        let as_written = div(mul(slot(0), slot(2)), slot(1));
        assert_eq!(h.rewrite_equation(9, &as_written), as_written);
        assert_eq!(h.parts.len(), 1);
    }

    #[test]
    fn nothing_is_hoisted_out_of_an_if_or_a_function() {
        let mut h = hoister();
        let guarded = Ir::If(
            Box::new(Ir::bin(BinaryOp::Eq, slot(3), Ir::Num(0.0))),
            Box::new(Ir::Num(0.0)),
            Box::new(mul(slot(0), div(slot(2), slot(3)))),
        );
        assert_eq!(h.rewrite_equation(9, &guarded), guarded);
        let call = Ir::Call(
            Func::Zidz,
            vec![mul(mul(slot(0), slot(2)), slot(3)), slot(1)],
        );
        assert_eq!(h.rewrite_equation(9, &call), call);
        assert!(h.parts.is_empty());
    }

    #[test]
    fn constant_subexpressions_of_sums_are_hoisted_and_constant_auxiliaries_count() {
        let mut h = hoister();
        // v0 + (1 - c2)  →  v0 + K
        let sum = Ir::bin(
            BinaryOp::Add,
            slot(0),
            Ir::bin(BinaryOp::Sub, Ir::Num(1.0), slot(2)),
        );
        assert_eq!(
            h.rewrite_equation(9, &sum),
            Ir::bin(BinaryOp::Add, slot(0), slot(5))
        );
        // An auxiliary reading only constants is a constant; TIME is not.
        h.note_auxiliary(1, &mul(slot(2), slot(3)));
        assert!(h.is_constant(&slot(1)));
        h.note_auxiliary(0, &mul(slot(2), Ir::Time));
        assert!(!h.is_constant(&slot(0)));
    }
}
