//! The scalar intermediate representation: one expression per array element, every variable
//! reference already resolved to a slot number. Produced by [`super::lower`], turned into
//! bytecode by [`super::codegen`].

use crate::diagnostics::Location;
use crate::equation::BinaryOp;

/// A pure builtin function (stateful builtins never reach the IR: lowering replaces them by
/// hidden stocks and auxiliaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Int,
    Integer,
    Round,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Modulo,
    Remainder,
    /// Two or more arguments (n-ary min/max are chained).
    Min,
    Max,
    Step,
    /// `ramp(slope, start)` or `ramp(slope, start, end)`.
    Ramp,
    /// `pulse(magnitude, first)` or `pulse(magnitude, first, interval)`.
    Pulse,
    PulseTrain,
    Xidz,
    Zidz,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ir {
    Num(f64),
    Slot(u32),
    Time,
    Dt,
    Neg(Box<Ir>),
    Not(Box<Ir>),
    /// `loc` is where the right operand is written (for "division by zero" reports).
    Bin(BinaryOp, Box<Ir>, Box<Ir>, Option<Location>),
    If(Box<Ir>, Box<Ir>, Box<Ir>),
    Call(Func, Vec<Ir>),
    /// An aggregate over array elements, already expanded.
    Sum(Vec<Ir>),
    Prod(Vec<Ir>),
    Lookup(u32, Box<Ir>),
}

impl Ir {
    pub fn bin(op: BinaryOp, a: Ir, b: Ir) -> Ir {
        Ir::Bin(op, Box::new(a), Box::new(b), None)
    }

    /// Every slot this expression reads.
    pub fn slots(&self, out: &mut Vec<u32>) {
        match self {
            Ir::Num(_) | Ir::Time | Ir::Dt => {}
            Ir::Slot(s) => out.push(*s),
            Ir::Neg(a) | Ir::Not(a) | Ir::Lookup(_, a) => a.slots(out),
            Ir::Bin(_, a, b, _) => {
                a.slots(out);
                b.slots(out);
            }
            Ir::If(c, a, b) => {
                c.slots(out);
                a.slots(out);
                b.slots(out);
            }
            Ir::Call(_, args) | Ir::Sum(args) | Ir::Prod(args) => {
                args.iter().for_each(|a| a.slots(out))
            }
        }
    }
}
