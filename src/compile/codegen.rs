//! Code generation: ordered [`Ir`] assignments → the flat bytecode of a [`Program`].

use super::factors::FactorHoister;
use super::ir::{Func, Ir};
use super::order::Orders;
use super::specialize;
use super::{Builder, SlotKind};
use crate::equation::BinaryOp;
use crate::model::VarKind;
use crate::vm::{
    Assign, Column, ColumnKind, F1, F2, F3, Op, Param, Program, SlotMeta, StockSlot, Summary, Table,
};

/// `built_in[slot]`: a literal constant whose value is written into the per-step code as a
/// number (`compile::compile_specialized`; all false otherwise).
pub(crate) fn generate(b: &Builder, orders: &Orders, built_in: &[bool]) -> Program {
    let mut g = Gen {
        ops: Vec::new(),
        op_locations: Vec::new(),
        depth: 0,
        max_depth: 0,
        uses_pulse: false,
    };
    let n_runtime = b.runtime.len();
    // The per-step code combines constant factors once per run (compile::factors); the
    // initial phase evaluates the equations as written.
    let mut is_flow = vec![false; b.slots.len()];
    for s in &b.stocks {
        for &f in s.inflows.iter().chain(&s.outflows) {
            is_flow[f as usize] = true;
        }
    }
    let mut hoister = FactorHoister::new(
        b.slots
            .iter()
            .map(|s| matches!(s.kind, SlotKind::Constant | SlotKind::InitValue))
            .collect(),
    );
    let flows: Vec<Assign> = orders
        .runtime
        .iter()
        .map(|&i| {
            let a = &b.runtime[i];
            let known = |s: u32| {
                if built_in.get(s as usize).copied().unwrap_or(false) {
                    b.literal_values[s as usize]
                } else {
                    None
                }
            };
            let ir = specialize::fold(&a.ir, &known);
            if ir == Ir::Num(0.0) && is_flow[a.slot as usize] {
                // A flow that is 0 at every step moves nothing: it leaves its stocks' lists
                // and is computed once, in the initial phase, for its column.
                is_flow[a.slot as usize] = false;
            }
            let per_step = hoister.rewrite_equation(a.slot, &ir);
            if !is_flow[a.slot as usize] {
                hoister.note_auxiliary(a.slot, &ir);
            }
            g.assignment(a.slot, &per_step)
        })
        .collect();
    let mut initial: Vec<Assign> = orders
        .initial
        .iter()
        .map(|&n| {
            let a = if n < n_runtime {
                &b.runtime[n]
            } else {
                &b.init_only[n - n_runtime]
            };
            g.assignment(a.slot, &a.ir)
        })
        .collect();
    // The constant parts read only constants, all computed by now.
    initial.extend(
        hoister
            .parts
            .iter()
            .map(|part| g.assignment(part.slot, &part.ir)),
    );

    let mut flow_slots = Vec::new();
    let stocks = b
        .stocks
        .iter()
        .map(|s| {
            let i0 = flow_slots.len() as u32;
            flow_slots.extend(s.inflows.iter().filter(|&&f| is_flow[f as usize]));
            let i1 = flow_slots.len() as u32;
            flow_slots.extend(s.outflows.iter().filter(|&&f| is_flow[f as usize]));
            let i2 = flow_slots.len() as u32;
            StockSlot {
                slot: s.slot,
                inflows: (i0, i1),
                outflows: (i1, i2),
                non_negative: s.non_negative,
                clamp_at_zero: s.clamp_at_zero,
            }
        })
        .collect();

    let mut defaults: Vec<f64> = b.literal_values.iter().map(|v| v.unwrap_or(0.0)).collect();
    defaults.resize(defaults.len() + hoister.parts.len(), 0.0);
    let mut slot_meta: Vec<SlotMeta> = b
        .slots
        .iter()
        .map(|s| SlotMeta {
            name: s.name.clone(),
            loc: s.loc,
        })
        .collect();
    slot_meta.extend(hoister.parts.iter().map(|part| {
        let owner = &b.slots[part.owner as usize];
        SlotMeta {
            name: format!("{} (its constant factors)", owner.name),
            loc: owner.loc,
        }
    }));

    let mut columns = Vec::new();
    let mut params = Vec::new();
    let mut summary = Summary {
        slots: b.slots.len(),
        ..Summary::default()
    };
    for v in &b.vars {
        let decl = &b.model.vars[v.decl];
        let kind = match v.kind {
            VarKind::Stock => {
                summary.stocks += 1;
                ColumnKind::Stock
            }
            VarKind::Flow => {
                summary.flows += 1;
                ColumnKind::Flow
            }
            VarKind::Auxiliary | VarKind::Input => {
                summary.auxiliaries += 1;
                ColumnKind::Auxiliary
            }
            VarKind::Constant => {
                summary.constants += 1;
                ColumnKind::Constant
            }
            VarKind::Lookup => {
                summary.lookups += 1;
                continue;
            }
        };
        for e in 0..v.size {
            let slot = v.slot + e as u32;
            let name = b.slots[slot as usize].name.clone();
            if v.kind == VarKind::Constant {
                params.push(Param {
                    name: name.clone(),
                    variable: v.name.clone(),
                    slot,
                    default: b.literal_values[slot as usize],
                    fixed: b.fixed.contains(&slot),
                    range: decl.range,
                    units: decl.units.as_ref().map(|u| u.text.clone()),
                    source: decl.source.clone(),
                    doc: decl.doc.clone(),
                });
            }
            columns.push(Column {
                name,
                slot,
                kind,
                units: decl.units.as_ref().map(|u| u.text.clone()),
                doc: decl.doc.clone(),
            });
        }
    }
    // Stocks first, then flows, auxiliaries and constants; declaration order within each.
    columns.sort_by_key(|c| match c.kind {
        ColumnKind::Stock => 0,
        ColumnKind::Flow => 1,
        ColumnKind::Auxiliary => 2,
        ColumnKind::Constant => 3,
    });
    summary.hidden_stocks = b
        .slots
        .iter()
        .filter(|s| s.var.is_none() && s.kind == SlotKind::Stock)
        .count();
    summary.modules = count_modules(b);
    summary.dimensions = b
        .dims
        .iter()
        .map(|d| (d.name.clone(), d.elements.len()))
        .collect();
    let tables = b
        .tables
        .iter()
        .map(|t| Table {
            xs: t.xs.clone(),
            ys: t.ys.clone(),
            extrapolate: t.extrapolate,
            discrete: t.discrete,
        })
        .collect();

    Program {
        ops: g.ops,
        initial,
        flows,
        stocks,
        flow_slots,
        previous: b.previous.clone(),
        copies: Vec::new(),
        hoisted: hoister.parts.iter().map(|part| part.slot).collect(),
        fixed_delays: b.fixed_delays.clone(),
        tables,
        defaults,
        op_locations: g.op_locations,
        slot_meta,
        columns,
        params,
        time: b.model.time.clone(),
        stack_size: g.max_depth,
        uses_pulse: g.uses_pulse,
        summary,
        time_constants: Vec::new(),
        built_in: (0..built_in.len() as u32)
            .filter(|&s| built_in[s as usize])
            .collect(),
        native: None,
    }
}

fn count_modules(b: &Builder) -> usize {
    let mut prefixes: Vec<&str> = b
        .model
        .vars
        .iter()
        .filter(|v| v.kind != VarKind::Input)
        .map(|v| v.scope.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    prefixes.len()
}

struct Gen {
    ops: Vec<Op>,
    op_locations: Vec<crate::diagnostics::Location>,
    depth: usize,
    max_depth: usize,
    uses_pulse: bool,
}

impl Gen {
    fn assignment(&mut self, slot: u32, ir: &Ir) -> Assign {
        let start = self.ops.len() as u32;
        self.depth = 0;
        self.expr(ir);
        Assign {
            slot,
            start,
            end: self.ops.len() as u32,
        }
    }

    /// Emit an op and track the stack depth (`delta` = pushes − pops).
    fn emit(&mut self, op: Op, delta: isize) {
        self.ops.push(op);
        self.depth = (self.depth as isize + delta).max(0) as usize;
        self.max_depth = self.max_depth.max(self.depth);
    }

    fn expr(&mut self, ir: &Ir) {
        match ir {
            Ir::Num(x) => self.emit(Op::Num(*x), 1),
            Ir::Slot(s) => self.emit(Op::Load(*s), 1),
            Ir::Time => self.emit(Op::Time, 1),
            Ir::Dt => self.emit(Op::Dt, 1),
            Ir::Neg(a) => {
                self.expr(a);
                self.emit(Op::Neg, 0);
            }
            Ir::Not(a) => {
                self.expr(a);
                self.emit(Op::Not, 0);
            }
            Ir::Bin(op, a, b, loc) => {
                self.expr(a);
                self.expr(b);
                let op = match op {
                    BinaryOp::Add => Op::Add,
                    BinaryOp::Sub => Op::Sub,
                    BinaryOp::Mul => Op::Mul,
                    BinaryOp::Div => {
                        let index = match loc {
                            Some(l) => {
                                self.op_locations.push(*l);
                                self.op_locations.len() as u32 - 1
                            }
                            None => u32::MAX,
                        };
                        Op::Div(index)
                    }
                    BinaryOp::Pow => Op::Pow,
                    BinaryOp::Eq => Op::Eq,
                    BinaryOp::Ne => Op::Ne,
                    BinaryOp::Lt => Op::Lt,
                    BinaryOp::Le => Op::Le,
                    BinaryOp::Gt => Op::Gt,
                    BinaryOp::Ge => Op::Ge,
                    BinaryOp::And => Op::And,
                    BinaryOp::Or => Op::Or,
                };
                self.emit(op, -1);
            }
            Ir::If(c, a, b) => {
                self.expr(c);
                let jump_false = self.ops.len();
                self.emit(Op::JumpIfFalse(0), -1);
                let depth = self.depth;
                self.expr(a);
                let jump_end = self.ops.len();
                self.emit(Op::Jump(0), 0);
                self.depth = depth;
                let else_start = self.ops.len() as u32;
                self.expr(b);
                let end = self.ops.len() as u32;
                self.ops[jump_false] = Op::JumpIfFalse(else_start);
                self.ops[jump_end] = Op::Jump(end);
            }
            Ir::Lookup(t, x) => {
                self.expr(x);
                self.emit(Op::Lookup(*t), 0);
            }
            Ir::Sum(items) => self.fold(items, Op::Add, 0.0),
            Ir::Prod(items) => self.fold(items, Op::Mul, 1.0),
            Ir::Call(f, args) => self.call(*f, args),
        }
    }

    fn fold(&mut self, items: &[Ir], op: Op, empty: f64) {
        let Some((first, rest)) = items.split_first() else {
            self.emit(Op::Num(empty), 1);
            return;
        };
        self.expr(first);
        for item in rest {
            self.expr(item);
            self.emit(op, -1);
        }
    }

    fn call(&mut self, f: Func, args: &[Ir]) {
        if matches!(f, Func::Min | Func::Max) {
            let op = Op::F2(if f == Func::Min { F2::Min } else { F2::Max });
            self.fold(args, op, f64::NAN);
            return;
        }
        for a in args {
            self.expr(a);
        }
        let n = args.len() as isize;
        let f1 = |op: F1| (Op::F1(op), 0);
        let (op, delta) = match f {
            Func::Abs => f1(F1::Abs),
            Func::Exp => f1(F1::Exp),
            Func::Ln => f1(F1::Ln),
            Func::Log10 => f1(F1::Log10),
            Func::Sqrt => f1(F1::Sqrt),
            Func::Int => f1(F1::Int),
            Func::Integer => f1(F1::Integer),
            Func::Round => f1(F1::Round),
            Func::Sin => f1(F1::Sin),
            Func::Cos => f1(F1::Cos),
            Func::Tan => f1(F1::Tan),
            Func::Arcsin => f1(F1::Arcsin),
            Func::Arccos => f1(F1::Arccos),
            Func::Arctan => f1(F1::Arctan),
            Func::Modulo => (Op::F2(F2::Modulo), -1),
            Func::Remainder => (Op::F2(F2::Remainder), -1),
            Func::Zidz => (Op::F2(F2::Zidz), -1),
            Func::Step => (Op::F2(F2::Step), -1),
            Func::Xidz => (Op::F3(F3::Xidz), -2),
            Func::Ramp if n == 2 => (Op::F2(F2::Ramp), -1),
            Func::Ramp => (Op::F3(F3::Ramp), -2),
            Func::Pulse => {
                self.uses_pulse = true;
                if n == 2 {
                    (Op::F2(F2::Pulse), -1)
                } else {
                    (Op::F3(F3::Pulse), -2)
                }
            }
            Func::PulseTrain => (Op::PulseTrain, -3),
            Func::Min | Func::Max => unreachable_minmax(),
        };
        self.emit(op, delta);
    }
}

fn unreachable_minmax() -> ! {
    panic!("MIN/MAX are folded before dispatch")
}
