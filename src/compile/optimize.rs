//! Optimisation of the per-step code, after code generation. Three passes, each measured with
//! callgrind on the care model (docs/design/engine-performance.md):
//!
//! 1. **hoisting**: an auxiliary that reads only constants (literal or defined by equations,
//!    INIT values, other hoisted auxiliaries) and not TIME cannot change during a run. It is
//!    already computed in the initial phase, so it leaves the per-step list (`Program::hoisted`
//!    records it; a schedule that changes one of its inputs recomputes it, see
//!    `simulate::schedule`). Flows stay (non-negative limiting scales them in place).
//! 2. **copy forwarding**: an assignment `a = b` (module inputs, `discharges = admissions`)
//!    leaves the per-step list; later code loads `b` directly. The copy is made only when a row
//!    is saved (`Program::copies`), so every column is still reported. Flows, sources of flows
//!    and PREVIOUS sources are left alone (their values must be current at every step).
//! 3. **superinstructions**: `Load(s)` or `Num(x)` followed by `+ − × ÷` becomes one op that
//!    combines the top of the stack with the slot or literal (`MulLoad(s)`...), which halves the
//!    dispatches of typical SD equations (sums of products of variables); then a product of two
//!    slots `Load(a), MulLoad(b)` becomes `MulLoads(a, b)`, and adding or subtracting it from the
//!    value below becomes `AddMulLoads(a, b)` / `SubMulLoads(a, b)`.
//!
//! Only `Program::flows` changes; the initial phase keeps the generated code. Results are
//! bit-identical: every pass keeps each operation and its operand order.

use crate::vm::{Assign, Op, Program};

pub(crate) fn optimize(p: &mut Program) {
    hoist_constant_auxiliaries(p);
    forward_copies(p);
    fuse_superinstructions(p);
}

/// Does `op` read the time (directly or through a time-dependent builtin)?
fn reads_time(op: &Op) -> bool {
    use crate::vm::{F2, F3};
    matches!(
        op,
        Op::Time
            | Op::PulseTrain
            | Op::F2(F2::Step | F2::Ramp | F2::Pulse)
            | Op::F3(F3::Ramp | F3::Pulse)
    )
}

/// Slots whose value may change during a run: written by the per-step list, stocks, PREVIOUS
/// values, fixed-delay outputs. Everything else is fixed once the initial phase has run.
fn varying_slots(p: &Program) -> Vec<bool> {
    let mut varying = vec![false; p.defaults.len()];
    for a in &p.flows {
        varying[a.slot as usize] = true;
    }
    for s in &p.stocks {
        varying[s.slot as usize] = true;
    }
    for &(prev, _) in &p.previous {
        varying[prev as usize] = true;
    }
    for d in &p.fixed_delays {
        varying[d.output as usize] = true;
    }
    varying
}

fn flow_slot_flags(p: &Program) -> Vec<bool> {
    let mut is_flow = vec![false; p.defaults.len()];
    for &f in &p.flow_slots {
        is_flow[f as usize] = true;
    }
    is_flow
}

fn hoist_constant_auxiliaries(p: &mut Program) {
    let mut varying = varying_slots(p);
    let is_flow = flow_slot_flags(p);
    let mut kept = Vec::with_capacity(p.flows.len());
    for a in &p.flows {
        let code = &p.ops[a.start as usize..a.end as usize];
        let constant = !is_flow[a.slot as usize]
            && !code.iter().any(reads_time)
            && code
                .iter()
                .flat_map(|op| op.slots_read())
                .all(|s| s != a.slot && !varying[s as usize]);
        if constant {
            varying[a.slot as usize] = false;
            p.hoisted.push(a.slot);
        } else {
            kept.push(*a);
        }
    }
    p.flows = kept;
}

fn forward_copies(p: &mut Program) {
    let is_flow = flow_slot_flags(p);
    let mut pinned = is_flow.clone();
    for &(_, src) in &p.previous {
        pinned[src as usize] = true;
    }
    // A fixed delay reads its input's slot after the step's evaluation, as PREVIOUS does.
    for d in &p.fixed_delays {
        pinned[d.input as usize] = true;
    }
    // source[s]: the slot that holds s's value during a step.
    let mut source: Vec<u32> = (0..p.defaults.len() as u32).collect();
    let mut kept = Vec::with_capacity(p.flows.len());
    for a in p.flows.clone() {
        for op in &mut p.ops[a.start as usize..a.end as usize] {
            if let Op::Load(s) = op {
                *s = source[*s as usize];
            }
        }
        let code = &p.ops[a.start as usize..a.end as usize];
        match code {
            [Op::Load(src)] if !pinned[a.slot as usize] && !is_flow[*src as usize] => {
                source[a.slot as usize] = *src;
                p.copies.push((a.slot, *src));
            }
            _ => kept.push(a),
        }
    }
    p.flows = kept;
}

fn fuse_superinstructions(p: &mut Program) {
    let flows = std::mem::take(&mut p.flows);
    p.flows = flows
        .into_iter()
        .map(|a| {
            let code = &p.ops[a.start as usize..a.end as usize];
            if code
                .iter()
                .any(|op| matches!(op, Op::Jump(_) | Op::JumpIfFalse(_)))
            {
                return a; // absolute jump targets: left as generated
            }
            let fused = fuse_products(&fuse(code));
            let start = p.ops.len() as u32;
            p.ops.extend(fused);
            Assign {
                slot: a.slot,
                start,
                end: p.ops.len() as u32,
            }
        })
        .collect();
}

/// Fuse `Load`/`Num` with the arithmetic op that follows it.
fn fuse(code: &[Op]) -> Vec<Op> {
    let mut out = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let fused = match (code[i], code.get(i + 1)) {
            (Op::Load(s), Some(Op::Add)) => Some(Op::AddLoad(s)),
            (Op::Load(s), Some(Op::Sub)) => Some(Op::SubLoad(s)),
            (Op::Load(s), Some(Op::Mul)) => Some(Op::MulLoad(s)),
            (Op::Load(s), Some(Op::Div(loc))) => Some(Op::DivLoad(s, *loc)),
            (Op::Num(x), Some(Op::Add)) => Some(Op::AddNum(x)),
            (Op::Num(x), Some(Op::Sub)) => Some(Op::SubNum(x)),
            (Op::Num(x), Some(Op::Mul)) => Some(Op::MulNum(x)),
            (Op::Num(x), Some(Op::Div(_))) if x != 0.0 => Some(Op::DivNum(x)),
            _ => None,
        };
        // A fused op needs a value already on the stack: never the first op.
        match fused {
            Some(op) if !out.is_empty() => {
                out.push(op);
                i += 2;
            }
            _ => {
                out.push(code[i]);
                i += 1;
            }
        }
    }
    out
}

/// Fuse products of two slots, and their addition to (subtraction from) the value below.
fn fuse_products(code: &[Op]) -> Vec<Op> {
    let mut products = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        match (code[i], code.get(i + 1)) {
            (Op::Load(a), Some(Op::MulLoad(b))) => {
                products.push(Op::MulLoads(a, *b));
                i += 2;
            }
            (op, _) => {
                products.push(op);
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(products.len());
    let mut i = 0;
    while i < products.len() {
        match (products[i], products.get(i + 1)) {
            // Needs a value below the product: not at the start.
            (Op::MulLoads(a, b), Some(Op::Add)) if i > 0 => {
                out.push(Op::AddMulLoads(a, b));
                i += 2;
            }
            (Op::MulLoads(a, b), Some(Op::Sub)) if i > 0 => {
                out.push(Op::SubMulLoads(a, b));
                i += 2;
            }
            (op, _) => {
                out.push(op);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuses_products_of_slots_and_their_sums() {
        // a·b + c·d − e·f
        let code = fuse(&[
            Op::Load(1),
            Op::Load(2),
            Op::Mul,
            Op::Load(3),
            Op::Load(4),
            Op::Mul,
            Op::Add,
            Op::Load(5),
            Op::Load(6),
            Op::Mul,
            Op::Sub,
        ]);
        assert_eq!(
            fuse_products(&code),
            [
                Op::MulLoads(1, 2),
                Op::AddMulLoads(3, 4),
                Op::SubMulLoads(5, 6)
            ]
        );
    }

    #[test]
    fn fuses_loads_and_literals_into_the_following_op() {
        let code = [
            Op::Load(1),
            Op::Load(2),
            Op::Mul,
            Op::Num(2.0),
            Op::Div(7),
            Op::Num(0.0),
            Op::Div(8),
            Op::Load(3),
            Op::Neg,
            Op::Add,
        ];
        assert_eq!(
            fuse(&code),
            [
                Op::Load(1),
                Op::MulLoad(2),
                Op::DivNum(2.0),
                Op::Num(0.0),
                Op::Div(8),
                Op::Load(3),
                Op::Neg,
                Op::Add,
            ]
        );
    }
}
