//! The compiled program and its evaluator.
//!
//! A [`Program`] is immutable (`Send + Sync`) and shared by every run; all mutable state lives
//! in a [`State`] (one slot per array element plus an operand stack sized at compile time). The
//! per-step loop is `for assignment in order { slots[a.slot] = eval(ops[a.code]) }`: no
//! allocation, no hashing, no strings. Because the program never holds state, a batch of
//! parameter sets is a batch of `State`s evaluated against one `Program` (and the bytecode can
//! be interpreted over lanes of values later without changing the compiler).

use crate::diagnostics::{Diagnostic, Location};
use crate::model::TimeSettings;

/// One instruction of the stack machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Num(f64),
    Load(u32),
    Time,
    Dt,
    Neg,
    Not,
    Add,
    Sub,
    Mul,
    /// Division; the operand is an index into `Program::op_locations` (where the divisor is
    /// written), or `u32::MAX`.
    Div(u32),
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// Pop; jump to the absolute op index when the value is 0.
    JumpIfFalse(u32),
    Jump(u32),
    F1(F1),
    F2(F2),
    F3(F3),
    PulseTrain,
    Lookup(u32),
    // Superinstructions (made by `compile::optimize` from `Load`/`Num` followed by an
    // arithmetic op): the top of the stack combined with a slot or a literal, with no push.
    AddLoad(u32),
    SubLoad(u32),
    MulLoad(u32),
    /// Divide by a slot; the second operand is as in `Div`.
    DivLoad(u32, u32),
    AddNum(f64),
    SubNum(f64),
    MulNum(f64),
    /// Divide by a non-zero literal.
    DivNum(f64),
    /// Push `slots[a] × slots[b]` (from `Load(a), MulLoad(b)`).
    MulLoads(u32, u32),
    /// `top + slots[a] × slots[b]` (from `MulLoads(a, b), Add`; the product is rounded first,
    /// as before: no fused multiply-add).
    AddMulLoads(u32, u32),
    /// `top − slots[a] × slots[b]`.
    SubMulLoads(u32, u32),
}

impl Op {
    /// The slots this op reads (none, one or two).
    pub fn slots_read(self) -> impl Iterator<Item = u32> {
        let (a, b) = match self {
            Op::Load(s) | Op::AddLoad(s) | Op::SubLoad(s) | Op::MulLoad(s) | Op::DivLoad(s, _) => {
                (Some(s), None)
            }
            Op::MulLoads(x, y) | Op::AddMulLoads(x, y) | Op::SubMulLoads(x, y) => {
                (Some(x), Some(y))
            }
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F1 {
    Abs,
    Exp,
    Ln,
    Log10,
    Sqrt,
    Int,
    /// Toward zero (Vensim INTEGER).
    Integer,
    Round,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F2 {
    Min,
    Max,
    Modulo,
    /// a − b·trunc(a/b): the sign of a (Vensim MODULO, C fmod).
    Remainder,
    Zidz,
    Step,
    Ramp,
    Pulse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F3 {
    Xidz,
    Ramp,
    Pulse,
}

/// `slots[slot] = eval(ops[start..end])`.
#[derive(Debug, Clone, Copy)]
pub struct Assign {
    pub slot: u32,
    pub start: u32,
    pub end: u32,
}

/// A stock element: where it lives and which flow slots feed and drain it.
/// `delay_fixed(input, delay_time [, initial])`: `output` is `input` from `delay_time` ago
/// (rounded to whole steps, fixed at its initial value), `initial` before that. The simulator
/// keeps a ring buffer of the input per run; `output` is written after every step, like a
/// PREVIOUS value (and holds the initial value after the initial phase).
#[derive(Debug, Clone, Copy)]
pub struct FixedDelay {
    pub output: u32,
    /// Hidden auxiliary holding the input's current value.
    pub input: u32,
    /// INIT-like slot holding the delay time at the start.
    pub delay_time: u32,
}

#[derive(Debug, Clone)]
pub struct StockSlot {
    pub slot: u32,
    /// Range into `Program::flow_slots` for inflows, then outflows.
    pub inflows: (u32, u32),
    pub outflows: (u32, u32),
    pub non_negative: bool,
    /// Clamped at zero after each step, flows unchanged (XMILE non-negative stocks).
    pub clamp_at_zero: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    pub extrapolate: bool,
    /// Step function: the y of the last point at or before x.
    pub discrete: bool,
}

impl Table {
    /// Piecewise-linear interpolation; outside the x range, hold the end value or extend the
    /// end segment.
    pub fn eval(&self, x: f64) -> f64 {
        let (xs, ys) = (&self.xs, &self.ys);
        let n = xs.len();
        if x.is_nan() {
            return f64::NAN;
        }
        if self.discrete {
            return ys[xs.partition_point(|&v| v <= x).saturating_sub(1)];
        }
        let seg = if x <= xs[0] {
            if !self.extrapolate {
                return ys[0];
            }
            0
        } else if x >= xs[n - 1] {
            if !self.extrapolate {
                return ys[n - 1];
            }
            n - 2
        } else {
            xs.partition_point(|&v| v <= x) - 1
        };
        let (x0, x1, y0, y1) = (xs[seg], xs[seg + 1], ys[seg], ys[seg + 1]);
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

/// What kind of variable an output column or slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Stock,
    Flow,
    Auxiliary,
    Constant,
}

#[derive(Debug, Clone)]
pub struct Column {
    /// `name` or `name[e1,e2]`.
    pub name: String,
    pub slot: u32,
    pub kind: ColumnKind,
    /// Declared units (`GBP/year`), for reports and chart axes.
    pub units: Option<String>,
    /// The variable's `doc`, if any.
    pub doc: Option<String>,
}

/// A constant element that can be overridden before a run (`--set`, scenarios, Monte Carlo).
#[derive(Debug, Clone)]
pub struct Param {
    /// Element name: `name` or `name[e1,e2]`.
    pub name: String,
    /// The declared variable's name.
    pub variable: String,
    pub slot: u32,
    /// Literal default, or None when the constant is defined by an equation.
    pub default: Option<f64>,
    pub range: Option<(f64, f64)>,
    pub units: Option<String>,
    pub source: Option<String>,
    /// The constant's `doc`, if any.
    pub doc: Option<String>,
    /// Its value is built into the program when compiling (the order of a DELAYN), so it
    /// cannot be overridden.
    pub fixed: bool,
}

/// Diagnostics data for a slot: its display name and where it is defined.
#[derive(Debug, Clone)]
pub struct SlotMeta {
    pub name: String,
    pub loc: Location,
}

/// Counts for `careshift check`.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub stocks: usize,
    pub flows: usize,
    pub auxiliaries: usize,
    pub constants: usize,
    pub lookups: usize,
    pub modules: usize,
    pub hidden_stocks: usize,
    pub slots: usize,
    pub dimensions: Vec<(String, usize)>,
}

/// A compiled model.
#[derive(Debug, Clone)]
pub struct Program {
    pub ops: Vec<Op>,
    /// Initial phase, in order (stock initial values, constants defined by equations, every
    /// auxiliary).
    pub initial: Vec<Assign>,
    /// Per-evaluation phase, in order (auxiliaries and flows).
    pub flows: Vec<Assign>,
    pub stocks: Vec<StockSlot>,
    pub flow_slots: Vec<u32>,
    /// (PREVIOUS slot, its source slot): after each step, `prev = source`.
    pub previous: Vec<(u32, u32)>,
    /// (slot, source): per-step copies removed from `flows` by `compile::optimize` (readers
    /// load the source instead); made only when a row is saved, so the columns stay complete.
    pub copies: Vec<(u32, u32)>,
    /// Auxiliaries that only read constants: `compile::optimize` moved them out of `flows`, so
    /// they are computed in the initial phase only (and again by a schedule that changes one
    /// of their inputs, see `simulate::schedule`).
    pub hoisted: Vec<u32>,
    /// Fixed (pipeline) delays, DELAY FIXED: each advanced once per step.
    pub fixed_delays: Vec<FixedDelay>,
    pub tables: Vec<Table>,
    /// Initial contents of every slot (literal constants; 0 elsewhere).
    pub defaults: Vec<f64>,
    pub op_locations: Vec<Location>,
    pub slot_meta: Vec<SlotMeta>,
    pub columns: Vec<Column>,
    pub params: Vec<Param>,
    pub time: TimeSettings,
    pub stack_size: usize,
    pub uses_pulse: bool,
    pub summary: Summary,
    /// Constants that stand for one of the run's time settings (an XMILE model's INITIAL TIME,
    /// FINAL TIME, TIME STEP, SAVEPER): set from the run's settings before its overrides.
    pub time_constants: Vec<(u32, crate::model::TimeField)>,
    /// Literal constants whose values are written into the per-step code as numbers
    /// (`compile::compile_specialized`), in increasing order: a run may not override or
    /// schedule them, since the code would not see the new value.
    pub built_in: Vec<u32>,
    /// Machine code for `flows` (see [`crate::native`]), made by `compile::compile` after the
    /// last change to `flows`; `None` where Cranelift does not support the CPU, or when the
    /// interpreter was asked for. Anything that changes `flows` or `ops` afterwards must drop
    /// it ([`Program::use_interpreter`]).
    pub native: Option<std::sync::Arc<crate::native::NativeCode>>,
}

/// Mutable evaluation state of one run.
#[derive(Debug, Clone)]
pub struct State {
    pub slots: Vec<f64>,
    /// The operand stack below its top value (which [`Machine`] keeps in a register); its
    /// length is the deepest the program's code goes, computed at compile time.
    stack: Vec<f64>,
}

/// The evaluator's registers: the top of the operand stack and how many values are below it
/// (in `State::stack`).
struct Machine {
    top: f64,
    below: usize,
}

impl Machine {
    const EMPTY: Machine = Machine {
        top: f64::NAN,
        below: 0,
    };

    #[inline(always)]
    fn push(&mut self, stack: &mut [f64], v: f64) {
        stack[self.below] = self.top;
        self.below += 1;
        self.top = v;
    }

    #[inline(always)]
    fn pop(&mut self, stack: &[f64]) -> f64 {
        let v = self.top;
        self.below -= 1;
        self.top = stack[self.below];
        v
    }

    /// The value below the top (for messages).
    fn second(&self, stack: &[f64]) -> Option<f64> {
        self.below.checked_sub(1).map(|i| stack[i])
    }

    /// Apply one op; `next` is the index of the op after it. Returns the index of the op to run
    /// next (a jump's target, or `next`). One `match` for every op, jumps included: the
    /// dispatch is a single indirect branch. (Inlined into the loop: the arguments are
    /// registers, not worth a struct.)
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &mut self,
        p: &Program,
        op: Op,
        next: usize,
        slots: &[f64],
        stack: &mut [f64],
        time: f64,
        dt: f64,
    ) -> usize {
        match op {
            Op::JumpIfFalse(target) => {
                if self.pop(stack) == 0.0 {
                    return target as usize;
                }
            }
            Op::Jump(target) => return target as usize,
            Op::Num(x) => self.push(stack, x),
            Op::Load(s) => self.push(stack, slots[s as usize]),
            Op::Time => self.push(stack, time),
            Op::Dt => self.push(stack, dt),
            Op::AddLoad(s) => self.top += slots[s as usize],
            Op::SubLoad(s) => self.top -= slots[s as usize],
            Op::MulLoad(s) => self.top *= slots[s as usize],
            Op::DivLoad(s, _) => self.top /= slots[s as usize],
            Op::AddNum(x) => self.top += x,
            Op::SubNum(x) => self.top -= x,
            Op::MulNum(x) => self.top *= x,
            Op::DivNum(x) => self.top /= x,
            Op::MulLoads(a, b) => self.push(stack, slots[a as usize] * slots[b as usize]),
            Op::AddMulLoads(a, b) => self.top += slots[a as usize] * slots[b as usize],
            Op::SubMulLoads(a, b) => self.top -= slots[a as usize] * slots[b as usize],
            Op::Neg => self.top = -self.top,
            Op::Not => self.top = bool_f(self.top == 0.0),
            Op::F1(f) => self.top = f1(f, self.top),
            Op::Lookup(t) => self.top = p.tables[t as usize].eval(self.top),
            Op::Add => self.binary(stack, |a, b| a + b),
            Op::Sub => self.binary(stack, |a, b| a - b),
            Op::Mul => self.binary(stack, |a, b| a * b),
            Op::Div(_) => self.binary(stack, |a, b| a / b),
            Op::Pow => self.binary(stack, f64::powf),
            Op::Eq => self.binary(stack, |a, b| bool_f(a == b)),
            Op::Ne => self.binary(stack, |a, b| bool_f(a != b)),
            Op::Lt => self.binary(stack, |a, b| bool_f(a < b)),
            Op::Le => self.binary(stack, |a, b| bool_f(a <= b)),
            Op::Gt => self.binary(stack, |a, b| bool_f(a > b)),
            Op::Ge => self.binary(stack, |a, b| bool_f(a >= b)),
            Op::And => self.binary(stack, |a, b| bool_f(a != 0.0 && b != 0.0)),
            Op::Or => self.binary(stack, |a, b| bool_f(a != 0.0 || b != 0.0)),
            Op::F2(f) => self.binary(stack, |a, b| f2(f, a, b, time, dt)),
            Op::F3(f) => {
                let c = self.pop(stack);
                self.binary(stack, |a, b| f3(f, a, b, c, time, dt))
            }
            Op::PulseTrain => {
                let end = self.pop(stack);
                let interval = self.pop(stack);
                let width = self.pop(stack);
                let start = self.top;
                self.top = pulse_train(start, width, interval, end, time, dt);
            }
        }
        next
    }

    #[inline(always)]
    fn binary(&mut self, stack: &[f64], f: impl FnOnce(f64, f64) -> f64) {
        self.below -= 1;
        self.top = f(stack[self.below], self.top);
    }
}

/// A run-time failure: which assignment produced a bad value, and why.
#[derive(Debug, Clone)]
pub struct EvalFault {
    pub slot: u32,
    /// Why, when known (division by zero, log of a negative number...).
    pub reason: String,
    pub location: Option<Location>,
}

impl Program {
    pub fn new_state(&self) -> State {
        State {
            slots: self.defaults.clone(),
            stack: vec![0.0; self.stack_size + 1],
        }
    }

    /// Evaluate the per-step assignments (`flows`): natively when the program has machine
    /// code, else in the interpreter. The same values either way, and the same fault.
    #[inline]
    pub fn eval_flows(&self, state: &mut State, time: f64, dt: f64) -> Result<(), EvalFault> {
        match &self.native {
            Some(native) => {
                if native.eval_scalar(&mut state.slots, time, dt) {
                    Ok(())
                } else {
                    // Re-run in the interpreter for the message (it stops at the same
                    // assignment).
                    self.eval_all(&self.flows, state, time, dt)
                }
            }
            None => self.eval_all(&self.flows, state, time, dt),
        }
    }

    /// Evaluate `flows` over the lanes whose bit is set in `lanes` of a batch: natively when
    /// the program has machine code, else in the interpreter. Returns the lanes that produced
    /// a non-finite value, as [`Program::eval_batch`].
    pub fn eval_flows_batch(&self, state: &mut BatchState, lanes: u32, time: f64, dt: f64) -> u32 {
        match &self.native {
            Some(native) => {
                let mut failed = 0;
                for first in (0..LANES).step_by(2).filter(|l| lanes & (3 << l) != 0) {
                    failed |= native.eval_lane_pair(&mut state.slots, first, time, dt) << first;
                }
                failed & lanes
            }
            None => self.eval_batch(&self.flows, state, time, dt) & lanes,
        }
    }

    /// Drop the machine code: every evaluation goes through the interpreter (for comparing
    /// the two, and required before changing `flows` or `ops`).
    pub fn use_interpreter(&mut self) {
        self.native = None;
    }

    /// Keep only the result columns `keep` (indices into `columns`, increasing), and drop the
    /// per-step assignments that then nothing reads: what no flow, PREVIOUS, fixed delay or
    /// kept column needs, directly or through other assignments. The kept columns' values are
    /// those of the whole program, bit for bit (every assignment they read is still made, in
    /// the same order). A dropped assignment is not evaluated, so one that would not be finite
    /// no longer fails the run. Drops the machine code ([`Program::use_interpreter`]):
    /// compile it again for the smaller program.
    ///
    /// # Panics
    ///
    /// If `keep` is not increasing or names a column that does not exist (a bug in the
    /// caller, which takes the indices from this program).
    pub fn keep_columns(&mut self, keep: &[usize]) {
        assert!(
            keep.windows(2).all(|w| w[0] < w[1]) && keep.iter().all(|&c| c < self.columns.len()),
            "columns to keep must be increasing indices of existing columns"
        );
        self.use_interpreter();
        let mut needed = vec![false; self.defaults.len()];
        let columns: Vec<Column> = keep.iter().map(|&c| self.columns[c].clone()).collect();
        for c in &columns {
            needed[c.slot as usize] = true;
        }
        // A copy feeds only its column (readers load its source).
        self.copies.retain(|&(slot, _)| needed[slot as usize]);
        let sources = self.copies.iter().map(|&(_, source)| source);
        let previous = self.previous.iter().map(|&(_, source)| source);
        let delays = self.fixed_delays.iter().map(|d| d.input);
        for slot in self
            .flow_slots
            .iter()
            .copied()
            .chain(sources)
            .chain(previous)
            .chain(delays)
        {
            needed[slot as usize] = true;
        }
        let mut kept = vec![false; self.flows.len()];
        for (i, a) in self.flows.iter().enumerate().rev() {
            if needed[a.slot as usize] {
                kept[i] = true;
                for op in &self.ops[a.start as usize..a.end as usize] {
                    for s in op.slots_read() {
                        needed[s as usize] = true;
                    }
                }
            }
        }
        let mut k = kept.iter();
        self.flows.retain(|_| *k.next().unwrap_or(&true));
        self.columns = columns;
    }

    /// Evaluate `assigns` in order. On a non-finite result, stops and explains it.
    #[inline]
    pub fn eval_all(
        &self,
        assigns: &[Assign],
        state: &mut State,
        time: f64,
        dt: f64,
    ) -> Result<(), EvalFault> {
        for a in assigns {
            let v = self.eval_code(a.start as usize, a.end as usize, state, time, dt);
            if !v.is_finite() {
                return Err(self.diagnose(a, state, time, dt));
            }
            state.slots[a.slot as usize] = v;
        }
        Ok(())
    }

    /// Evaluate one assignment's code.
    #[inline]
    pub fn eval_code(
        &self,
        start: usize,
        end: usize,
        state: &mut State,
        time: f64,
        dt: f64,
    ) -> f64 {
        let State { slots, stack } = state;
        let mut m = Machine::EMPTY;
        // `code.len() == end`, so indexing inside the loop needs no bounds check.
        let code = &self.ops[..end];
        let mut pc = start;
        while pc < code.len() {
            pc = m.exec(self, code[pc], pc + 1, slots, stack, time, dt);
        }
        m.top
    }

    /// Re-run a failed assignment op by op to find the first operation that produced a
    /// non-finite value. Runs once, on failure, so it may be slow.
    fn diagnose(&self, a: &Assign, state: &mut State, time: f64, dt: f64) -> EvalFault {
        let State { slots, stack } = state;
        let mut m = Machine::EMPTY;
        let mut pc = a.start as usize;
        while pc < a.end as usize {
            let op = self.ops[pc];
            if matches!(op, Op::JumpIfFalse(_) | Op::Jump(_)) {
                pc = m.exec(self, op, pc + 1, slots, stack, time, dt);
                continue;
            }
            // The operands: the two top values, or the top and the fused slot or literal.
            let (x, y) = match op {
                Op::AddLoad(s) | Op::SubLoad(s) | Op::MulLoad(s) | Op::DivLoad(s, _) => {
                    (Some(m.top), Some(slots[s as usize]))
                }
                Op::AddNum(v) | Op::SubNum(v) | Op::MulNum(v) | Op::DivNum(v) => {
                    (Some(m.top), Some(v))
                }
                Op::MulLoads(a, b) => (Some(slots[a as usize]), Some(slots[b as usize])),
                Op::AddMulLoads(a, b) | Op::SubMulLoads(a, b) => {
                    (Some(m.top), Some(slots[a as usize] * slots[b as usize]))
                }
                _ => (m.second(stack), Some(m.top)),
            };
            pc = m.exec(self, op, pc + 1, slots, stack, time, dt);
            if m.top.is_finite() {
                continue;
            }
            let mut location = None;
            let reason = match op {
                Op::Div(loc) | Op::DivLoad(_, loc) => {
                    location = self.op_locations.get(loc as usize).copied();
                    if y == Some(0.0) {
                        "division by zero".to_string()
                    } else {
                        format!("division overflowed ({} / {})", fmt(x), fmt(y))
                    }
                }
                Op::F1(F1::Ln) | Op::F1(F1::Log10) => format!("logarithm of {}", fmt(y)),
                Op::F1(F1::Sqrt) => format!("square root of {}", fmt(y)),
                Op::F1(F1::Exp) => format!("EXP({}) overflowed", fmt(y)),
                Op::Pow => format!("{} ^ {} is not a finite number", fmt(x), fmt(y)),
                Op::F1(F1::Arcsin) | Op::F1(F1::Arccos) => {
                    format!("inverse sine/cosine of {}", fmt(y))
                }
                Op::Load(s) => format!("`{}` is not finite", self.slot_meta[s as usize].name),
                Op::DivNum(_) => format!("division overflowed ({} / {})", fmt(x), fmt(y)),
                Op::Add
                | Op::Sub
                | Op::Mul
                | Op::AddLoad(_)
                | Op::SubLoad(_)
                | Op::MulLoad(_)
                | Op::AddNum(_)
                | Op::SubNum(_)
                | Op::MulNum(_)
                | Op::MulLoads(..)
                | Op::AddMulLoads(..)
                | Op::SubMulLoads(..) => {
                    let symbol = match op {
                        Op::Add | Op::AddLoad(_) | Op::AddNum(_) | Op::AddMulLoads(..) => "+",
                        Op::Sub | Op::SubLoad(_) | Op::SubNum(_) | Op::SubMulLoads(..) => "-",
                        _ => "*",
                    };
                    format!("{} {symbol} {} overflowed", fmt(x), fmt(y))
                }
                _ => "an arithmetic overflow".to_string(),
            };
            return EvalFault {
                slot: a.slot,
                reason,
                location,
            };
        }
        EvalFault {
            slot: a.slot,
            reason: "the result is not a finite number".into(),
            location: None,
        }
    }
}

/// Runs evaluated together in a batch ([`Program::eval_batch`], and the native code two
/// lanes at a time): wide enough for vector instructions on every op, small enough that a
/// batch's slots stay in the L1 cache. The native code (the default engine) walks every slot
/// once per lane pair and step, so the whole state must stay in L1: with the care model's 685
/// slots, 16 lanes are 87 KB, 4 are 22 KB. Measured (`careshift bench
/// scenarios/care_community_frailty_investment.toml --runs 4000 --threads 1`, 3 interleaved
/// rounds, runs/s): native 4,870 (16 lanes), 5,490 (8), 5,820 (4), 5,950 (2); the
/// interpreter (`--interpreter`, which pays its dispatch once per batch) 2,760, 2,150, 1,515,
/// 980. Four keeps nearly all of the native gain and half the interpreter's.
pub const LANES: usize = 4;
// Native code evaluates lanes in pairs.
const _: () = assert!(LANES.is_multiple_of(2));

/// One value per lane.
pub type Lanes = [f64; LANES];

/// Mutable evaluation state of [`LANES`] runs: each slot holds one value per run (structure of
/// arrays), so every op is a loop over lanes.
#[derive(Debug, Clone)]
pub struct BatchState {
    pub slots: Vec<Lanes>,
    stack: Vec<Lanes>,
}

impl BatchState {
    /// A state of no program: what is left where a state was moved out.
    pub fn empty() -> BatchState {
        BatchState {
            slots: Vec::new(),
            stack: Vec::new(),
        }
    }
}

/// [`Machine`] over lanes.
#[derive(Clone, Copy)]
struct BatchMachine {
    top: Lanes,
    below: usize,
}

#[inline(always)]
fn lanes(f: impl Fn(usize) -> f64) -> Lanes {
    std::array::from_fn(f)
}

impl BatchMachine {
    #[inline(always)]
    fn push(&mut self, stack: &mut [Lanes], v: Lanes) {
        stack[self.below] = self.top;
        self.below += 1;
        self.top = v;
    }

    #[inline(always)]
    fn pop(&mut self, stack: &[Lanes]) -> Lanes {
        let v = self.top;
        self.below -= 1;
        self.top = stack[self.below];
        v
    }

    #[inline(always)]
    fn unary(&mut self, f: impl Fn(f64) -> f64) {
        for v in &mut self.top {
            *v = f(*v);
        }
    }

    #[inline(always)]
    fn with(&mut self, operand: &Lanes, f: impl Fn(f64, f64) -> f64) {
        for (v, &b) in self.top.iter_mut().zip(operand) {
            *v = f(*v, b);
        }
    }

    #[inline(always)]
    fn binary(&mut self, stack: &[Lanes], f: impl Fn(f64, f64) -> f64) {
        self.below -= 1;
        let a = stack[self.below];
        for (v, &a) in self.top.iter_mut().zip(&a) {
            *v = f(a, *v);
        }
    }
}

impl Program {
    /// A batch state with every lane at the defaults.
    pub fn new_batch_state(&self) -> BatchState {
        BatchState {
            slots: self.defaults.iter().map(|&v| [v; LANES]).collect(),
            stack: vec![[0.0; LANES]; self.stack_size + 1],
        }
    }

    /// [`Program::eval_all`] over lanes: each lane computes exactly what a scalar evaluation
    /// would (same ops, same order; an IF whose condition differs between lanes evaluates both
    /// branches and selects per lane). Does not stop on a non-finite value: returns the lanes
    /// that produced one (bit `l` for lane `l`), to be re-run on their own for the message.
    pub fn eval_batch(
        &self,
        assigns: &[Assign],
        state: &mut BatchState,
        time: f64,
        dt: f64,
    ) -> u32 {
        let BatchState { slots, stack } = state;
        let mut failed = 0;
        for a in assigns {
            let mut m = BatchMachine {
                top: [f64::NAN; LANES],
                below: 0,
            };
            self.exec_batch(
                &mut m,
                a.start as usize,
                a.end as usize,
                slots,
                stack,
                time,
                dt,
            );
            for (l, v) in m.top.iter().enumerate() {
                if !v.is_finite() {
                    failed |= 1 << l;
                }
            }
            slots[a.slot as usize] = m.top;
        }
        failed
    }

    /// Run `ops[start..end]` on `m`.
    #[allow(clippy::too_many_arguments)]
    fn exec_batch(
        &self,
        m: &mut BatchMachine,
        start: usize,
        end: usize,
        slots: &[Lanes],
        stack: &mut [Lanes],
        time: f64,
        dt: f64,
    ) {
        let code = &self.ops[..end];
        let mut pc = start;
        while pc < code.len() {
            let op = code[pc];
            pc += 1;
            match op {
                Op::JumpIfFalse(else_start) => {
                    let cond = m.pop(stack);
                    let else_start = else_start as usize;
                    if cond.iter().all(|&c| c == 0.0) {
                        pc = else_start;
                    } else if cond.contains(&0.0) {
                        // Lanes disagree: both branches, then select. The then-branch ends
                        // with `Jump(join)` just before the else-branch.
                        let Op::Jump(join) = code[else_start - 1] else {
                            unreachable!("an IF's then-branch ends with a jump")
                        };
                        let mut other = *m;
                        self.exec_batch(m, pc, else_start - 1, slots, stack, time, dt);
                        self.exec_batch(
                            &mut other,
                            else_start,
                            join as usize,
                            slots,
                            stack,
                            time,
                            dt,
                        );
                        for (l, v) in m.top.iter_mut().enumerate() {
                            if cond[l] == 0.0 {
                                *v = other.top[l];
                            }
                        }
                        pc = join as usize;
                    }
                }
                Op::Jump(target) => pc = target as usize,
                Op::Num(x) => m.push(stack, [x; LANES]),
                Op::Load(s) => m.push(stack, slots[s as usize]),
                Op::Time => m.push(stack, [time; LANES]),
                Op::Dt => m.push(stack, [dt; LANES]),
                Op::AddLoad(s) => m.with(&slots[s as usize], |a, b| a + b),
                Op::SubLoad(s) => m.with(&slots[s as usize], |a, b| a - b),
                Op::MulLoad(s) => m.with(&slots[s as usize], |a, b| a * b),
                Op::DivLoad(s, _) => m.with(&slots[s as usize], |a, b| a / b),
                Op::AddNum(x) => m.unary(|a| a + x),
                Op::SubNum(x) => m.unary(|a| a - x),
                Op::MulNum(x) => m.unary(|a| a * x),
                Op::DivNum(x) => m.unary(|a| a / x),
                Op::MulLoads(a, b) => {
                    let (a, b) = (&slots[a as usize], &slots[b as usize]);
                    m.push(stack, lanes(|l| a[l] * b[l]))
                }
                Op::AddMulLoads(a, b) => {
                    let (a, b) = (&slots[a as usize], &slots[b as usize]);
                    for (l, v) in m.top.iter_mut().enumerate() {
                        *v += a[l] * b[l];
                    }
                }
                Op::SubMulLoads(a, b) => {
                    let (a, b) = (&slots[a as usize], &slots[b as usize]);
                    for (l, v) in m.top.iter_mut().enumerate() {
                        *v -= a[l] * b[l];
                    }
                }
                Op::Neg => m.unary(|a| -a),
                Op::Not => m.unary(|a| bool_f(a == 0.0)),
                Op::F1(f) => m.unary(|a| f1(f, a)),
                Op::Lookup(t) => {
                    let table = &self.tables[t as usize];
                    m.unary(|a| table.eval(a))
                }
                Op::Add => m.binary(stack, |a, b| a + b),
                Op::Sub => m.binary(stack, |a, b| a - b),
                Op::Mul => m.binary(stack, |a, b| a * b),
                Op::Div(_) => m.binary(stack, |a, b| a / b),
                Op::Pow => m.binary(stack, f64::powf),
                Op::Eq => m.binary(stack, |a, b| bool_f(a == b)),
                Op::Ne => m.binary(stack, |a, b| bool_f(a != b)),
                Op::Lt => m.binary(stack, |a, b| bool_f(a < b)),
                Op::Le => m.binary(stack, |a, b| bool_f(a <= b)),
                Op::Gt => m.binary(stack, |a, b| bool_f(a > b)),
                Op::Ge => m.binary(stack, |a, b| bool_f(a >= b)),
                Op::And => m.binary(stack, |a, b| bool_f(a != 0.0 && b != 0.0)),
                Op::Or => m.binary(stack, |a, b| bool_f(a != 0.0 || b != 0.0)),
                Op::F2(f) => m.binary(stack, |a, b| f2(f, a, b, time, dt)),
                Op::F3(f) => {
                    let c = m.pop(stack);
                    let b = m.pop(stack);
                    m.top = lanes(|l| f3(f, m.top[l], b[l], c[l], time, dt));
                }
                Op::PulseTrain => {
                    let end = m.pop(stack);
                    let interval = m.pop(stack);
                    let width = m.pop(stack);
                    m.top =
                        lanes(|l| pulse_train(m.top[l], width[l], interval[l], end[l], time, dt));
                }
            }
        }
    }
}

/// An operand for a message: scientific notation when it is very large or very small.
fn fmt(v: Option<f64>) -> String {
    match v {
        None => "?".into(),
        Some(v) if v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-4) => format!("{v:e}"),
        Some(v) => format!("{v}"),
    }
}

impl EvalFault {
    /// A user-facing error naming the variable, the time and the cause.
    pub fn to_diagnostic(&self, program: &Program, time: f64) -> Diagnostic {
        let meta = &program.slot_meta[self.slot as usize];
        let mut d = Diagnostic::error(format!(
            "`{}` is not a finite number at time {time}: {}",
            meta.name, self.reason
        ))
        .at(self.location.unwrap_or(meta.loc));
        if self.reason.starts_with("division by zero") {
            d = d.help(
                "if a zero denominator is expected, use ZIDZ(a, b) (0 when b = 0) or XIDZ(a, b, x)",
            );
        } else {
            d = d.help("check the inputs of this equation at that time (try `--stop` just before it and inspect the CSV)");
        }
        if self.location.is_some() {
            d = d.note(format!("`{}` is defined here", meta.name), Some(meta.loc));
        }
        d
    }
}

#[inline(always)]
fn bool_f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

pub(crate) fn f1(f: F1, a: f64) -> f64 {
    match f {
        F1::Abs => a.abs(),
        F1::Exp => a.exp(),
        F1::Ln => a.ln(),
        F1::Log10 => a.log10(),
        F1::Sqrt => a.sqrt(),
        F1::Int => a.floor(),
        F1::Integer => a.trunc(),
        F1::Round => a.round(),
        F1::Sin => a.sin(),
        F1::Cos => a.cos(),
        F1::Tan => a.tan(),
        F1::Arcsin => a.asin(),
        F1::Arccos => a.acos(),
        F1::Arctan => a.atan(),
    }
}

/// Tolerance for comparing simulation times (which are computed as start + k·dt).
#[inline(always)]
fn eps(dt: f64) -> f64 {
    dt * 1e-6
}

/// MIN: `b` when `b < a` or `a` is NaN, else `a` (so a NaN operand gives the other one, as
/// `f64::min` does, and a tie, −0 against +0 included, gives `a`: unlike `f64::min`, every
/// case is specified, so the native code computes the same bits).
#[inline(always)]
pub fn min(a: f64, b: f64) -> f64 {
    if b < a || a.is_nan() { b } else { a }
}

/// MAX: `b` when `b > a` or `a` is NaN, else `a` (see [`min`]).
#[inline(always)]
pub fn max(a: f64, b: f64) -> f64 {
    if b > a || a.is_nan() { b } else { a }
}

pub(crate) fn f2(f: F2, a: f64, b: f64, time: f64, dt: f64) -> f64 {
    match f {
        F2::Min => min(a, b),
        F2::Max => max(a, b),
        F2::Modulo => a - b * (a / b).floor(),
        F2::Remainder => a % b,
        F2::Zidz => {
            if b == 0.0 {
                0.0
            } else {
                a / b
            }
        }
        F2::Step => {
            if time >= b - eps(dt) {
                a
            } else {
                0.0
            }
        }
        F2::Ramp => ramp(a, b, f64::INFINITY, time),
        F2::Pulse => pulse(a, b, 0.0, time, dt),
    }
}

pub(crate) fn f3(f: F3, a: f64, b: f64, c: f64, time: f64, dt: f64) -> f64 {
    match f {
        F3::Xidz => {
            if b == 0.0 {
                c
            } else {
                a / b
            }
        }
        F3::Ramp => ramp(a, b, c, time),
        F3::Pulse => pulse(a, b, c, time, dt),
    }
}

fn ramp(slope: f64, start: f64, end: f64, time: f64) -> f64 {
    if time <= start {
        0.0
    } else {
        slope * (time.min(end) - start)
    }
}

/// `magnitude / dt` during the step that starts at `first` (and every `interval` after, when
/// `interval > 0`), else 0: a pulse that moves `magnitude` in total through a flow.
fn pulse(magnitude: f64, first: f64, interval: f64, time: f64, dt: f64) -> f64 {
    let e = eps(dt);
    let elapsed = time - first;
    if elapsed < -e {
        return 0.0;
    }
    let phase = if interval > 0.0 {
        elapsed - interval * ((elapsed + e) / interval).floor()
    } else {
        elapsed
    };
    if phase < dt - e { magnitude / dt } else { 0.0 }
}

/// 1 from `start` for `width` time units, repeating every `interval`, until `end`; else 0.
pub(crate) fn pulse_train(
    start: f64,
    width: f64,
    interval: f64,
    end: f64,
    time: f64,
    dt: f64,
) -> f64 {
    let e = eps(dt);
    if time < start - e || time > end + e {
        return 0.0;
    }
    let elapsed = time - start;
    let phase = if interval > 0.0 {
        elapsed - interval * ((elapsed + e) / interval).floor()
    } else {
        elapsed
    };
    bool_f(phase < width - e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many runs (threads, parameter batches) share one compiled program: it must stay free of
    /// interior mutability.
    #[test]
    fn program_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Program>();
    }

    /// MIN and MAX specify every case, so that native code can compute the same bits.
    #[test]
    fn min_and_max_give_the_other_operand_for_nan_and_the_first_for_a_tie() {
        assert_eq!(min(2.0, 1.0), 1.0);
        assert_eq!(max(2.0, 1.0), 2.0);
        assert_eq!(min(f64::NAN, 1.0), 1.0);
        assert_eq!(min(1.0, f64::NAN), 1.0);
        assert_eq!(max(f64::NAN, 1.0), 1.0);
        assert_eq!(max(1.0, f64::NAN), 1.0);
        assert!(min(f64::NAN, f64::NAN).is_nan());
        assert!(min(-0.0, 0.0).is_sign_negative());
        assert!(min(0.0, -0.0).is_sign_positive());
        assert!(max(-0.0, 0.0).is_sign_negative());
        assert!(max(0.0, -0.0).is_sign_positive());
    }

    #[test]
    fn discrete_table_steps() {
        let t = Table {
            xs: vec![0.0, 1.0, 2.0],
            ys: vec![5.0, 10.0, 20.0],
            extrapolate: false,
            discrete: true,
        };
        let at: Vec<f64> = [-1.0, 0.0, 0.5, 1.0, 1.99, 2.0, 9.0]
            .iter()
            .map(|&x| t.eval(x))
            .collect();
        assert_eq!(at, [5.0, 5.0, 5.0, 10.0, 10.0, 20.0, 20.0]);
    }

    #[test]
    fn table_clamps_and_extrapolates() {
        let mut t = Table {
            xs: vec![0.0, 1.0, 2.0],
            ys: vec![0.0, 10.0, 0.0],
            extrapolate: false,
            discrete: false,
        };
        assert_eq!(t.eval(0.5), 5.0);
        assert_eq!(t.eval(1.5), 5.0);
        assert_eq!(t.eval(1.0), 10.0);
        assert_eq!(t.eval(-1.0), 0.0);
        assert_eq!(t.eval(3.0), 0.0);
        t.extrapolate = true;
        assert_eq!(t.eval(-1.0), -10.0);
        assert_eq!(t.eval(3.0), -10.0);
    }

    #[test]
    fn pulse_moves_its_magnitude_in_one_step() {
        let dt = 0.25;
        let total: f64 = (0..40)
            .map(|k| pulse(10.0, 2.0, 0.0, k as f64 * dt, dt) * dt)
            .sum();
        assert_eq!(total, 10.0);
        let repeated: f64 = (0..40)
            .map(|k| pulse(1.0, 1.0, 3.0, k as f64 * dt, dt) * dt)
            .sum();
        assert_eq!(repeated, 3.0); // at t = 1, 4, 7 within [0, 10)
        assert_eq!(pulse(1.0, 1.0, 0.0, 1.25, dt), 0.0);
    }

    #[test]
    fn pulse_train_ramp_step() {
        assert_eq!(pulse_train(1.0, 0.5, 2.0, 10.0, 3.25, 0.25), 1.0);
        assert_eq!(pulse_train(1.0, 0.5, 2.0, 10.0, 3.5, 0.25), 0.0);
        assert_eq!(pulse_train(1.0, 0.5, 2.0, 4.0, 5.0, 0.25), 0.0);
        assert_eq!(ramp(2.0, 1.0, 3.0, 0.5), 0.0);
        assert_eq!(ramp(2.0, 1.0, 3.0, 2.0), 2.0);
        assert_eq!(ramp(2.0, 1.0, 3.0, 9.0), 4.0);
        assert_eq!(f2(F2::Step, 5.0, 2.0, 1.75, 0.25), 0.0);
        assert_eq!(f2(F2::Step, 5.0, 2.0, 2.0, 0.25), 5.0);
        assert_eq!(f2(F2::Modulo, -7.0, 3.0, 0.0, 1.0), 2.0);
        assert_eq!(f2(F2::Remainder, -7.0, 3.0, 0.0, 1.0), -1.0);
        assert_eq!(f1(F1::Integer, -9.9), -9.0);
        assert_eq!(f1(F1::Int, -9.9), -10.0);
    }
}
