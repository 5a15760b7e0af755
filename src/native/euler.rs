//! A whole Euler step in native code: the per-step assignments (translated inline, as in
//! the flows function), the limiting of non-negative stocks' outflows, the net rates, the
//! stability condition, saving a row, the update `stock += dt · rate`, the clamp at zero and
//! the finite check — what `simulate::fixed::run` does per step for Euler, as one call; and,
//! for single runs, a loop of such steps ([`StepLoop`]).
//!
//! **Same numbers as the Rust step.** Every operation is the one `simulate` does, in the same
//! order: sums folded from `Sum`'s neutral value (−0, which leaves the first term's bits),
//! `x > 0 ? x : 0` for the level and the available flow (`simulate::network::at_least_zero`),
//! `stock + dt·rate`, the clamp `stock < 0 ? 0 : stock`. tests/native.rs compares every saved
//! value bit for bit with the interpreter, which runs the Rust step.
//!
//! **What it leaves to the caller.** The function returns early, with every stock as it was,
//! when the flows were not finite ([`FLOWS_NOT_FINITE`]; with many stocks the one-pass step
//! ([`Step::one_pass_rest`]) puts back the levels it wrote, and a row it wrote is past the saved
//! ones, not counted) or
//! when some stock may meet the stability condition (a test without division that never
//! misses it; [`UNSTABLE`]: the outflows are limited and the rates written to `rates`,
//! exactly the state after `Sim::derivatives`); the caller finishes that step in Rust, which
//! writes the warning. A stock that is not finite after the update gives
//! [`STOCK_NOT_FINITE`] (the step is complete; the caller reports the error). PREVIOUS, fixed
//! delays and schedules stay in Rust: a program with the first two does not use this
//! function, and schedules are applied before it is called (so the loop is used only without
//! them).
//!
//! The lane-pair variant does the same for two lanes of a batch (no stability check: batches
//! report no warnings) and returns the lanes that failed, flows or stocks.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, Signature, Type, Value, types,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::{Maker, Translator, Unavailable, slot_offset};
use crate::vm::{Program, StockSlot};

/// `fn(slots, time, dt, bound, row, rates) -> outcome`. Scalar layout: `row` is where the
/// saved row goes (null: no row this step), `rates` receives the net rates on [`UNSTABLE`].
/// Pair layout: `row` points at two row pointers (lane `l`, lane `l + 1`), `bound` is
/// unused, `rates` is scratch room (16 bytes per stock: the one-pass step's old levels), and
/// the outcome has bit `l` set for each failed lane.
pub(super) type EulerFn = unsafe extern "C" fn(*mut f64, f64, f64, f64, *mut f64, *mut f64) -> i32;

/// The step is done.
pub const STEPPED: i32 = 0;
/// A per-step assignment was not finite: nothing else was done.
pub const FLOWS_NOT_FINITE: i32 = 1;
/// Some stock meets the stability condition: outflows limited, rates written, no stock
/// changed and no row saved.
pub const UNSTABLE: i32 = 2;
/// The step is done, and some stock is no longer finite.
pub const STOCK_NOT_FINITE: i32 = 3;

pub(super) fn signature(module: &JITModule) -> Signature {
    let pointer = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(pointer));
    for _ in 0..3 {
        sig.params.push(AbiParam::new(types::F64));
    }
    sig.params.push(AbiParam::new(pointer));
    sig.params.push(AbiParam::new(pointer));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Define the Euler step function `name` for the layout with `stride` bytes between slots
/// (two lanes per value when `pair`): the flows' assignments translated inline (as in the
/// flows function of that layout), then the rest of the step.
pub(super) fn define(
    maker: &mut Maker,
    name: &str,
    stride: i64,
    pair: bool,
) -> Result<FuncId, Unavailable> {
    let sig = signature(&maker.module);
    let id = maker.declare(name, sig)?;
    let target = maker.module.target_config();
    {
        let mut flows = maker.translator(stride, pair);
        let entry = flows.b.create_block();
        flows.b.append_block_params_for_function_params(entry);
        flows.b.switch_to_block(entry);
        let params = flows.b.block_params(entry).to_vec();
        let args = StepArgs {
            slots: params[0],
            time: params[1],
            dt: params[2],
            bound: params[3],
            row: params[4],
            rates: params[5],
        };
        let (mut b, result, _) = build_step(flows, stride, pair, args, &Exit::Return)?;
        b.ins().return_(&[result]);
        b.seal_all_blocks();
        b.finalize(target);
    }
    maker.define(id)?;
    Ok(id)
}

/// The values a step works with: the arguments of the step function.
#[derive(Clone, Copy)]
struct StepArgs {
    slots: Value,
    time: Value,
    dt: Value,
    bound: Value,
    /// Where the row goes, or null.
    row: Value,
    /// Where the rates go on [`UNSTABLE`].
    rates: Value,
}

/// Where a step that stops early goes: returned from the step function, or, in the fused
/// loop ([`define_fused_loop`]), a jump to the loop's exit with `args` and the outcome.
enum Exit {
    Return,
    Jump(Block, Vec<Value>),
}

impl Exit {
    fn leave(&self, b: &mut FunctionBuilder, code: Value) {
        match self {
            Exit::Return => {
                b.ins().return_(&[code]);
            }
            Exit::Jump(block, args) => {
                let args: Vec<BlockArg> = args.iter().chain([&code]).map(|&v| v.into()).collect();
                b.ins().jump(*block, &args);
            }
        }
    }
}

/// Build one Euler step into `flows`' function, from its current block: the assignments
/// (translated inline), then the rest of the step (see [`Step`]). Returns the builder, the
/// step's outcome (scalar: [`STEPPED`] or [`STOCK_NOT_FINITE`]; early outcomes leave through
/// `exit`; pair: the failed lanes) and the stocks' new values, in `Program::stocks` order.
fn build_step<'a>(
    mut flows: Translator<'a>,
    stride: i64,
    pair: bool,
    args: StepArgs,
    exit: &Exit,
) -> Result<(FunctionBuilder<'a>, Value, Vec<Value>), Unavailable> {
    let (program, slot_count) = (flows.p, flows.slot_count);
    flows.set_arguments(args.slots, args.time, args.dt);
    // The assignments the step needs, then (only when a row is saved) those only the
    // row needs.
    let for_row_only = for_row_only(program);
    // A flow attached to a stock reaches its net rate, so checking the rates (below)
    // checks the flows, and what they read transparently: done when that leaves more
    // checks out than it adds.
    let mut attached = vec![false; program.defaults.len()];
    for &f in &program.flow_slots {
        attached[f as usize] = true;
    }
    let main: Vec<bool> = for_row_only.iter().map(|&r| !r).collect();
    let checks = |later: &[bool]| {
        let covered = super::covered_by_later(program, &main, later);
        (0..main.len()).filter(|&i| main[i] && !covered[i]).count()
    };
    let check_rates = checks(&attached) + program.stocks.len() < checks(&[]);
    if !check_rates {
        attached.clear();
    }
    let not_finite = flows.assignments_checked(|i| main[i], &attached)?;
    let mut flows_result = flows.lanes_not_finite(not_finite);
    if !pair {
        flows_result = exit_if(&mut flows.b, exit, flows_result, FLOWS_NOT_FINITE);
    }
    if for_row_only.iter().any(|&r| r) {
        let (row_values, join) = (flows.b.create_block(), flows.b.create_block());
        flows.b.append_block_param(join, types::I32);
        flows
            .b
            .ins()
            .brif(args.row, row_values, &[], join, &[flows_result.into()]);
        flows.b.switch_to_block(row_values);
        // Values made in this block do not dominate the code after it.
        let (known, memo) = (flows.known.clone(), flows.memo.clone());
        let not_finite = flows.assignments_where(|i| for_row_only[i])?;
        (flows.known, flows.memo) = (known, memo);
        let mut row_result = flows.lanes_not_finite(not_finite);
        if !pair {
            row_result = exit_if(&mut flows.b, exit, row_result, FLOWS_NOT_FINITE);
        }
        let both = flows.b.ins().bor(flows_result, row_result);
        flows.b.ins().jump(join, &[both.into()]);
        flows.b.switch_to_block(join);
        flows_result = flows.b.block_params(join)[0];
    }
    // The values the last few assignments made (or loaded) are still in registers: the
    // code after the flows uses them instead of reading them back.
    let last = program.flows.len();
    let recent: Vec<Option<Value>> = flows
        .known
        .iter()
        .map(|k| k.and_then(|(v, made)| (made + REMEMBER_AFTER_FLOWS >= last).then_some(v)))
        .collect();
    let b = flows.b;
    let ty = if pair { types::F64X2 } else { types::F64 };
    let mut step = Step {
        recent,
        use_recent: true,
        b,
        p: program,
        slot_count,
        stride,
        pair,
        ty,
        slots: args.slots,
        dt: args.dt,
        neutral: Value::from_u32(0),
    };
    step.dt = step.splat(args.dt);
    step.neutral = step.num(NEUTRAL);
    if program.stocks.len() > SINGLE_PASS_MIN_STOCKS {
        let (result, kept) = step.one_pass_rest(&args, exit, check_rates)?;
        let result = if pair {
            step.b.ins().bor(flows_result, result)
        } else {
            result
        };
        return Ok((step.b, result, kept));
    }
    let rates = step.limit_and_rates()?;
    let changes = step.changes(&rates);
    // Past the limiting's join, a flow's value is the one in memory.
    step.use_recent = false;
    // The flows left unchecked above: each reaches a net rate (limiting keeps a value
    // that is not finite so: `x > available` is false for NaN, and a scaled ∞ is NaN).
    let flows_result = if !check_rates {
        flows_result
    } else if pair {
        let rates_not_finite = step.not_finite(rates.iter().map(|r| r.rate))?;
        step.b.ins().bor(flows_result, rates_not_finite)
    } else {
        let rates_not_finite = step.not_finite(rates.iter().map(|r| r.rate))?;
        exit_if(&mut step.b, exit, rates_not_finite, FLOWS_NOT_FINITE)
    };
    if !pair {
        step.exit_if_unstable(&rates, &changes, &args, exit)?;
    }
    step.save_row(args.row)?;
    let (stock_failures, kept) = step.update(&rates, &changes)?;
    let result = if pair {
        step.b.ins().bor(flows_result, stock_failures)
    } else {
        let code = step.b.ins().iconst(types::I32, STOCK_NOT_FINITE as i64);
        let stepped = step.b.ins().iconst(types::I32, STEPPED as i64);
        step.b.ins().select(stock_failures, code, stepped)
    };
    Ok((step.b, result, kept))
}

/// With more stocks than this, the step does the work after the flows in one pass over the
/// stocks ([`Step::one_pass_rest`]): with phases (test all, then check all, then update all),
/// each stock's rate, outflow and level stay live from the first phase to the last and are
/// spilled (the care model's 24 stocks, scalar: 0.588 M → 0.555 M instructions per run,
/// 35.6 → 32.1 µs; the lane pairs of a Monte Carlo: see docs/design/engine-performance.md).
/// With few stocks nothing is spilled, and the phases keep a small model's chain of
/// dependent steps shorter (SIR: 54 µs with phases, 59 µs in one pass).
const SINGLE_PASS_MIN_STOCKS: usize = 8;

/// The state of a run of Euler steps in native code ([`define_loop`]): the steps `k..end`,
/// each one call of the step function, stopping early at the first step that does not
/// return [`STEPPED`] (that step's `k` is left here, with the other fields as they were
/// before it, for the caller to finish the step and go on).
#[repr(C)]
#[derive(Debug)]
pub struct StepLoop {
    /// The next step (time `t0 + k·dt`).
    pub k: u64,
    /// The step to stop before.
    pub end: u64,
    /// Steps until the next saved row (0: this one), as `simulate::fixed::run` counts.
    pub until_save: u64,
    pub save_every: u64,
    pub t0: f64,
    pub dt: f64,
    pub bound: f64,
    /// Where the next saved row and its time go.
    pub row: *mut f64,
    pub time: *mut f64,
    pub rates: *mut f64,
}

impl StepLoop {
    /// Steps `k..end` from time `t0` by `dt`, `until_save` steps before the next saved row,
    /// then one every `save_every`; `bound` for the stability test. The pointers are set by
    /// `NativeCode::euler_steps`.
    pub fn new(
        (k, end): (u64, u64),
        (until_save, save_every): (u64, u64),
        (t0, dt): (f64, f64),
        bound: f64,
    ) -> StepLoop {
        StepLoop {
            k,
            end,
            until_save,
            save_every,
            t0,
            dt,
            bound,
            row: std::ptr::null_mut(),
            time: std::ptr::null_mut(),
            rates: std::ptr::null_mut(),
        }
    }
}

/// `fn(slots, loop) -> outcome` (scalar layout).
pub(super) type LoopFn = unsafe extern "C" fn(*mut f64, *mut StepLoop) -> i32;

/// The fields of a [`StepLoop`] a loop function reads once, at its entry.
struct LoopFields {
    end: Value,
    save_every: Value,
    t0: Value,
    dt: Value,
    bound: Value,
    rates: Value,
    k: Value,
    until_save: Value,
    row: Value,
    time: Value,
}

impl LoopFields {
    fn load(b: &mut FunctionBuilder, state: Value, pointer: Type) -> LoopFields {
        use std::mem::offset_of;
        let m = MemFlagsData::trusted();
        let mut field = |ty: Type, offset: usize| b.ins().load(ty, m, state, offset as i32);
        LoopFields {
            end: field(types::I64, offset_of!(StepLoop, end)),
            save_every: field(types::I64, offset_of!(StepLoop, save_every)),
            t0: field(types::F64, offset_of!(StepLoop, t0)),
            dt: field(types::F64, offset_of!(StepLoop, dt)),
            bound: field(types::F64, offset_of!(StepLoop, bound)),
            rates: field(pointer, offset_of!(StepLoop, rates)),
            k: field(types::I64, offset_of!(StepLoop, k)),
            until_save: field(types::I64, offset_of!(StepLoop, until_save)),
            row: field(pointer, offset_of!(StepLoop, row)),
            time: field(pointer, offset_of!(StepLoop, time)),
        }
    }
}

/// A loop function's blocks: `header(k, until_save, row, time, carried...)` tests for the
/// end and goes on to `body` (with the step's time, whether it saves a row, and the row
/// argument: the row or null); `exit(k, until_save, row, time, outcome)` stores the loop's
/// position in the [`StepLoop`] and returns the outcome.
struct LoopFrame {
    header: Block,
    exit: Block,
    row_bytes: i64,
}

/// A step of the loop being built: its position and what it computed at the start.
struct LoopStep {
    k: Value,
    until_save: Value,
    row: Value,
    time: Value,
    /// The step's time, `t0 + k·dt`.
    t: Value,
    /// Whether this step saves a row.
    save: Value,
    /// The row, or null when this step saves none.
    row_arg: Value,
    /// The header's parameters after the first four.
    carried: Vec<Value>,
}

fn block_args(v: &[Value]) -> Vec<BlockArg> {
    v.iter().map(|&v| v.into()).collect()
}

impl LoopFrame {
    /// Build the entry's jump into the loop (`carried`: the values carried from step to
    /// step, of type `F64`), the header and the start of the body; the builder is left in
    /// the body.
    fn begin(
        b: &mut FunctionBuilder,
        fields: &LoopFields,
        carried: &[Value],
        pointer: Type,
        columns: usize,
    ) -> Result<(LoopFrame, LoopStep), Unavailable> {
        use cranelift_codegen::ir::condcodes::IntCC;
        let row_bytes =
            i64::try_from(8 * columns).map_err(|_| Unavailable("too many columns".into()))?;
        let (header, body, exit) = (b.create_block(), b.create_block(), b.create_block());
        for block in [header, exit] {
            b.append_block_param(block, types::I64);
            b.append_block_param(block, types::I64);
            b.append_block_param(block, pointer);
            b.append_block_param(block, pointer);
        }
        for _ in carried {
            b.append_block_param(header, types::F64);
        }
        b.append_block_param(exit, types::I32);
        let mut first = vec![fields.k, fields.until_save, fields.row, fields.time];
        first.extend(carried);
        b.ins().jump(header, &block_args(&first));

        b.switch_to_block(header);
        let hp = b.block_params(header).to_vec();
        let (k, until_save, row, time) = (hp[0], hp[1], hp[2], hp[3]);
        let done = b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, k, fields.end);
        let stepped = b.ins().iconst(types::I32, STEPPED as i64);
        b.ins().brif(
            done,
            exit,
            &block_args(&[k, until_save, row, time, stepped]),
            body,
            &[],
        );

        b.switch_to_block(body);
        // `k as f64`: k < 2⁶³ (a step count is checked to be at most 1e9), where the signed
        // conversion is the same correctly rounded value and x86 has one instruction for it.
        let kf = b.ins().fcvt_from_sint(types::F64, k);
        let elapsed = b.ins().fmul(kf, fields.dt);
        let t = b.ins().fadd(fields.t0, elapsed);
        let save = b.ins().icmp_imm_u(IntCC::Equal, until_save, 0);
        let null = b.ins().iconst(pointer, 0);
        let row_arg = b.ins().select(save, row, null);
        let frame = LoopFrame {
            header,
            exit,
            row_bytes,
        };
        let step = LoopStep {
            k,
            until_save,
            row,
            time,
            t,
            save,
            row_arg,
            carried: hp[4..].to_vec(),
        };
        Ok((frame, step))
    }

    /// Leave the loop with `outcome` where it is not [`STEPPED`]; else go on to the next
    /// step (saving the time and moving the row along when this one saved a row), carrying
    /// `carried`. Then build the exit block, which stores the position in `state`.
    fn end(
        self,
        b: &mut FunctionBuilder,
        fields: &LoopFields,
        step: &LoopStep,
        outcome: Value,
        carried: &[Value],
        state: Value,
    ) {
        use std::mem::offset_of;
        let m = MemFlagsData::trusted();
        let (k, until_save, row, time) = (step.k, step.until_save, step.row, step.time);
        let (go_on, saved) = (b.create_block(), b.create_block());
        b.ins().brif(
            outcome,
            self.exit,
            &block_args(&[k, until_save, row, time, outcome]),
            go_on,
            &[],
        );

        b.switch_to_block(go_on);
        let next_k = b.ins().iadd_imm_s(k, 1);
        let counted = b.ins().iadd_imm_s(until_save, -1);
        let mut next = vec![next_k, counted, row, time];
        next.extend(carried);
        b.ins()
            .brif(step.save, saved, &[], self.header, &block_args(&next));

        b.switch_to_block(saved);
        b.ins().store(m, step.t, time, 0);
        let next_time = b.ins().iadd_imm_s(time, 8);
        let next_row = b.ins().iadd_imm_s(row, self.row_bytes);
        let restarted = b.ins().iadd_imm_s(fields.save_every, -1);
        let mut next = vec![next_k, restarted, next_row, next_time];
        next.extend(carried);
        b.ins().jump(self.header, &block_args(&next));

        b.switch_to_block(self.exit);
        let ep = b.block_params(self.exit).to_vec();
        for (value, offset) in [
            (ep[0], offset_of!(StepLoop, k)),
            (ep[1], offset_of!(StepLoop, until_save)),
            (ep[2], offset_of!(StepLoop, row)),
            (ep[3], offset_of!(StepLoop, time)),
        ] {
            b.ins().store(m, value, state, offset as i32);
        }
        b.ins().return_(&[ep[4]]);
    }
}

/// The signature of a loop function: `fn(slots, state: *mut StepLoop) -> outcome`.
fn loop_signature(maker: &Maker) -> Signature {
    let pointer = maker.module.target_config().pointer_type();
    let mut sig = maker.module.make_signature();
    sig.params.push(AbiParam::new(pointer));
    sig.params.push(AbiParam::new(pointer));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Define `name`, which runs the steps of a [`StepLoop`] by calling `step` (the scalar
/// Euler step function), saving each saved row's time, for `columns` values per row.
pub(super) fn define_loop(
    maker: &mut Maker,
    name: &str,
    step: FuncId,
) -> Result<FuncId, Unavailable> {
    let columns = maker.program.columns.len();
    let pointer = maker.module.target_config().pointer_type();
    let id = maker.declare(name, loop_signature(maker))?;
    let target = maker.module.target_config();
    {
        let mut b = FunctionBuilder::new(&mut maker.ctx.func, &mut maker.fctx);
        let step_ref = maker.module.declare_func_in_func(step, b.func);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let (slots, state) = (params[0], params[1]);
        let fields = LoopFields::load(&mut b, state, pointer);
        let (frame, at) = LoopFrame::begin(&mut b, &fields, &[], pointer, columns)?;
        let call = b.ins().call(
            step_ref,
            &[
                slots,
                at.t,
                fields.dt,
                fields.bound,
                at.row_arg,
                fields.rates,
            ],
        );
        let outcome = b.inst_results(call)[0];
        frame.end(&mut b, &fields, &at, outcome, &[], state);
        b.seal_all_blocks();
        b.finalize(target);
    }
    maker.define(id)?;
    Ok(id)
}

/// At most this many per-step assignments, the loop has the step inline with the stocks
/// carried in registers from one step to the next ([`define_fused_loop`]); larger models
/// call the step function ([`define_loop`]), whose code is then compiled once.
pub(super) const FUSED_LOOP_MAX_ASSIGNMENTS: usize = 64;

/// Define the loop of [`define_loop`] with the step built inline (as [`define`] builds it)
/// and the stocks' values carried from one step to the next as the loop block's parameters,
/// not read back from memory: a small model's steps are a chain of dependent operations
/// through its stocks (SIR, teacup), and the store and reload were part of it. Every value
/// is still stored as in the step function, so a step handed back finds the slots as it
/// would; the outcomes are the same.
pub(super) fn define_fused_loop(maker: &mut Maker, name: &str) -> Result<FuncId, Unavailable> {
    let program = maker.program;
    let pointer = maker.module.target_config().pointer_type();
    let id = maker.declare(name, loop_signature(maker))?;
    let target = maker.module.target_config();
    let stock_offsets: Vec<i32> = program
        .stocks
        .iter()
        .map(|s| slot_offset(s.slot, 8, maker.slot_count))
        .collect::<Result<_, _>>()?;
    {
        let mut flows = maker.translator(8, false);
        let entry = flows.b.create_block();
        flows.b.append_block_params_for_function_params(entry);
        flows.b.switch_to_block(entry);
        let params = flows.b.block_params(entry).to_vec();
        let (slots, state) = (params[0], params[1]);
        let fields = LoopFields::load(&mut flows.b, state, pointer);
        let levels: Vec<Value> = stock_offsets
            .iter()
            .map(|&offset| {
                flows
                    .b
                    .ins()
                    .load(types::F64, MemFlagsData::trusted(), slots, offset)
            })
            .collect();
        let (frame, at) = LoopFrame::begin(
            &mut flows.b,
            &fields,
            &levels,
            pointer,
            program.columns.len(),
        )?;
        // The stocks' values as the previous step left them: the first assignments read
        // them from registers (as a value loaded within the reuse window).
        for (s, &level) in program.stocks.iter().zip(&at.carried) {
            flows.known[s.slot as usize] = Some((level, 0));
        }
        let args = StepArgs {
            slots,
            time: at.t,
            dt: fields.dt,
            bound: fields.bound,
            row: at.row_arg,
            rates: fields.rates,
        };
        let leave = Exit::Jump(frame.exit, vec![at.k, at.until_save, at.row, at.time]);
        let (mut b, outcome, new_levels) = build_step(flows, 8, false, args, &leave)?;
        frame.end(&mut b, &fields, &at, outcome, &new_levels, state);
        b.seal_all_blocks();
        b.finalize(target);
    }
    maker.define(id)?;
    Ok(id)
}

/// What `Sum` folds from (the sum of no values): −0 in current Rust.
const NEUTRAL: f64 = {
    // `Sum::sum` is not const; its neutral value is checked against this by a test.
    -0.0
};

/// Leave through `exit` with `code` when the integer `flag` is not zero; go on otherwise
/// (where `flag` is 0, which is returned as an i32).
fn exit_if(b: &mut FunctionBuilder, exit: &Exit, flag: Value, code: i32) -> Value {
    let (leave, go_on) = (b.create_block(), b.create_block());
    b.ins().brif(flag, leave, &[], go_on, &[]);
    b.switch_to_block(leave);
    let code = b.ins().iconst(types::I32, code as i64);
    exit.leave(b, code);
    b.switch_to_block(go_on);
    b.ins().iconst(types::I32, 0)
}

/// Per assignment of `Program::flows`: whether only a saved row needs it — nothing the step
/// computes reads it (no flow, nor an assignment that one reads, directly or not). The Euler
/// step computes those only at the steps that save a row (after the others: they read no
/// value made after them in the order that the others need, so the values are the same).
/// Consequence: a value only a row needs that is not finite at a step that saves no row is not
/// seen (the interpreter, RK4 and dopri5 compute every assignment at every evaluation).
fn for_row_only(p: &Program) -> Vec<bool> {
    let mut needed = vec![false; p.defaults.len()];
    for &f in &p.flow_slots {
        needed[f as usize] = true;
    }
    for &(_, source) in &p.previous {
        needed[source as usize] = true;
    }
    for d in &p.fixed_delays {
        needed[d.input as usize] = true;
    }
    let mut row_only = vec![false; p.flows.len()];
    for (i, a) in p.flows.iter().enumerate().rev() {
        if needed[a.slot as usize] {
            for op in &p.ops[a.start as usize..a.end as usize] {
                for s in op.slots_read() {
                    needed[s as usize] = true;
                }
            }
        } else {
            row_only[i] = true;
        }
    }
    row_only
}

/// A stock's values after the outflows are limited.
#[derive(Clone, Copy)]
struct StockRate {
    /// Inflows − outflows.
    rate: Value,
    /// The sum of its outflows.
    outflow: Value,
    /// The stock's value.
    level: Value,
}

/// A stock's inflow and outflow slots.
fn flows_of<'p>(p: &'p Program, s: &StockSlot) -> (&'p [u32], &'p [u32]) {
    let range = |r: (u32, u32)| &p.flow_slots[r.0 as usize..r.1 as usize];
    (range(s.inflows), range(s.outflows))
}

/// How many assignments before the end of the flows a value may have been made for the code
/// after them to use it from a register (as `REMEMBER_ASSIGNMENTS` within the flows).
const REMEMBER_AFTER_FLOWS: usize = 8;

/// Builds the part of the step after the flows. A value is read from memory where it is used
/// (the flows have just written them), except one of the last few assignments made, which
/// is still in a register: used while no limiting can have changed it (`use_recent`).
struct Step<'a, 'f> {
    /// Per slot: its value as the last few assignments made or loaded it.
    recent: Vec<Option<Value>>,
    /// False once outflows may have been scaled in memory.
    use_recent: bool,
    b: FunctionBuilder<'f>,
    p: &'a Program,
    slot_count: usize,
    stride: i64,
    pair: bool,
    /// `F64`, or `F64X2` for the pair layout.
    ty: Type,
    slots: Value,
    /// DT as an operand.
    dt: Value,
    /// `Sum`'s neutral value (what a sum of no flows is) as an operand.
    neutral: Value,
}

impl Step<'_, '_> {
    fn flags(&self) -> MemFlagsData {
        if self.pair {
            MemFlagsData::new().with_notrap()
        } else {
            MemFlagsData::trusted()
        }
    }

    fn load(&mut self, slot: u32) -> Result<Value, Unavailable> {
        let offset = slot_offset(slot, self.stride, self.slot_count)?;
        if self.use_recent
            && let Some(v) = self.recent[slot as usize]
        {
            return Ok(v);
        }
        let (ty, flags) = (self.ty, self.flags());
        Ok(self.b.ins().load(ty, flags, self.slots, offset))
    }

    fn store(&mut self, slot: u32, v: Value) -> Result<(), Unavailable> {
        let offset = slot_offset(slot, self.stride, self.slot_count)?;
        let flags = self.flags();
        self.b.ins().store(flags, v, self.slots, offset);
        Ok(())
    }

    fn splat(&mut self, scalar: Value) -> Value {
        if self.pair {
            self.b.ins().splat(types::F64X2, scalar)
        } else {
            scalar
        }
    }

    fn num(&mut self, x: f64) -> Value {
        let v = self.b.ins().f64const(x);
        self.splat(v)
    }

    /// `yes` where `condition` (an `fcmp` result) holds, else `no`.
    fn choose(&mut self, condition: Value, yes: Value, no: Value) -> Value {
        if self.pair {
            let mask = self
                .b
                .ins()
                .bitcast(types::F64X2, MemFlagsData::new(), condition);
            self.b.ins().bitselect(mask, yes, no)
        } else {
            self.b.ins().select(condition, yes, no)
        }
    }

    /// `x > 0 ? x : 0` (`network::at_least_zero`).
    fn at_least_zero(&mut self, x: Value) -> Value {
        let zero = self.num(0.0);
        let positive = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
        self.choose(positive, x, zero)
    }

    /// The sum of `flows`' values, folded in order from the neutral value (`network::sum`).
    /// The neutral value is −0, and `−0 + x` is `x` for every `x` (+0 included), so the first
    /// addition is left out.
    fn sum(&mut self, flows: &[u32]) -> Result<Value, Unavailable> {
        let Some((&first, rest)) = flows.split_first() else {
            return Ok(self.neutral);
        };
        let mut acc = self.load(first)?;
        if NEUTRAL.to_bits() != (-0.0f64).to_bits() {
            acc = self.b.ins().fadd(self.neutral, acc);
        }
        for &f in rest {
            let v = self.load(f)?;
            acc = self.b.ins().fadd(acc, v);
        }
        Ok(acc)
    }

    /// `simulate::limit_outflows` with a step of DT: per non-negative stock, in order, scale
    /// its outflows when they would take more than it holds plus its inflow. A branch per
    /// stock skips the scaling when no lane needs it; in the pair layout a lane that does not
    /// need it is multiplied by 1 (which leaves a finite value's bits unchanged).
    fn limit_outflows(&mut self) -> Result<(), Unavailable> {
        let p = self.p;
        for s in p.stocks.iter().filter(|s| s.non_negative) {
            let (inflows, outflows) = flows_of(p, s);
            let level = self.load(s.slot)?;
            let inflow = self.sum(inflows)?;
            let outflow = self.sum(outflows)?;
            let (scale, available) = self.needs_scaling(level, inflow, outflow);
            let any = if self.pair {
                self.b.ins().vany_true(scale)
            } else {
                scale
            };
            let (scale_block, go_on) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(any, scale_block, &[], go_on, &[]);
            self.b.switch_to_block(scale_block);
            let allowed = self.at_least_zero(available);
            let mut factor = self.b.ins().fdiv(allowed, outflow);
            if self.pair {
                let one = self.num(1.0);
                factor = self.choose(scale, factor, one);
            }
            for &f in outflows {
                let v = self.load(f)?;
                let scaled = self.b.ins().fmul(v, factor);
                self.store(f, scaled)?;
            }
            self.b.ins().jump(go_on, &[]);
            self.b.switch_to_block(go_on);
        }
        Ok(())
    }

    /// The outflows limited ([`Step::limit_outflows`]) and every stock's [`StockRate`]. First
    /// the limiting's test alone, for every non-negative stock on the values as they are:
    /// when no stock needs its outflows scaled, the sequential limiting would change nothing
    /// (each stock's test would see the same values), and the rates come from the sums the
    /// test made. Otherwise the limiting runs in order and the sums are made again.
    fn limit_and_rates(&mut self) -> Result<Vec<StockRate>, Unavailable> {
        let p = self.p;
        let mut tested: Vec<Option<StockRate>> = vec![None; p.stocks.len()];
        let mut any_scaled = None;
        for (i, s) in p.stocks.iter().enumerate().filter(|(_, s)| s.non_negative) {
            let (inflows, outflows) = flows_of(p, s);
            let level = self.load(s.slot)?;
            let inflow = self.sum(inflows)?;
            let outflow = self.sum(outflows)?;
            let (scaled, _) = self.needs_scaling(level, inflow, outflow);
            any_scaled = Some(match any_scaled {
                None => scaled,
                Some(any) => self.b.ins().bor(any, scaled),
            });
            let rate = self.b.ins().fsub(inflow, outflow);
            tested[i] = Some(StockRate {
                rate,
                outflow,
                level,
            });
        }
        let Some(any_scaled) = any_scaled else {
            return self.rates();
        };
        let any_scaled = if self.pair {
            self.b.ins().vany_true(any_scaled)
        } else {
            any_scaled
        };
        let (unchanged, limit, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        for _ in 0..3 * p.stocks.len() {
            self.b.append_block_param(join, self.ty);
        }
        self.b.ins().brif(any_scaled, limit, &[], unchanged, &[]);
        let as_args = |rates: &[StockRate]| -> Vec<cranelift_codegen::ir::BlockArg> {
            rates
                .iter()
                .flat_map(|r| [r.rate, r.outflow, r.level])
                .map(|v| v.into())
                .collect()
        };
        self.b.switch_to_block(unchanged);
        let mut rates = Vec::with_capacity(p.stocks.len());
        for (s, tested) in p.stocks.iter().zip(&tested) {
            rates.push(match tested {
                Some(r) => *r,
                None => self.stock_rate(s)?,
            });
        }
        self.b.ins().jump(join, &as_args(&rates));
        self.b.switch_to_block(limit);
        self.use_recent = false;
        self.limit_outflows()?;
        let rates = self.rates()?;
        self.b.ins().jump(join, &as_args(&rates));
        self.b.switch_to_block(join);
        let params = self.b.block_params(join).to_vec();
        Ok(params
            .chunks(3)
            .map(|v| StockRate {
                rate: v[0],
                outflow: v[1],
                level: v[2],
            })
            .collect())
    }

    /// Whether a non-negative stock's outflows must be scaled (`outflow > available` and
    /// `outflow > 0`, per lane), and what is available: its level (at least zero) per DT
    /// plus its inflow.
    fn needs_scaling(&mut self, level: Value, inflow: Value, outflow: Value) -> (Value, Value) {
        let level = self.at_least_zero(level);
        let per_step = self.b.ins().fdiv(level, self.dt);
        let available = self.b.ins().fadd(per_step, inflow);
        let zero = self.num(0.0);
        let too_much = self.b.ins().fcmp(FloatCC::GreaterThan, outflow, available);
        let positive = self.b.ins().fcmp(FloatCC::GreaterThan, outflow, zero);
        (self.b.ins().band(too_much, positive), available)
    }

    /// A stock's [`StockRate`] from the values in memory.
    fn stock_rate(&mut self, s: &StockSlot) -> Result<StockRate, Unavailable> {
        let (inflows, outflows) = flows_of(self.p, s);
        let inflow = self.sum(inflows)?;
        let outflow = self.sum(outflows)?;
        Ok(StockRate {
            rate: self.b.ins().fsub(inflow, outflow),
            outflow,
            level: self.load(s.slot)?,
        })
    }

    /// Every stock's net rate, inflows − outflows (`network::net_rates`), with its outflow
    /// and level (which nothing changes before the update).
    fn rates(&mut self) -> Result<Vec<StockRate>, Unavailable> {
        let p = self.p;
        p.stocks.iter().map(|s| self.stock_rate(s)).collect()
    }

    /// `dt · rate` per stock: the update's change, which the stability test reads too.
    fn changes(&mut self, rates: &[StockRate]) -> Vec<Value> {
        rates
            .iter()
            .map(|r| self.b.ins().fmul(self.dt, r.rate))
            .collect()
    }

    /// The step after the flows, in one pass over the stocks for the usual case. The row is
    /// saved first (the flows as made, the stocks as they are); then per stock: its sums, the
    /// limiting's test, the net rate, `dt · rate`, (scalar) the stability test, the new level
    /// (clamped), stored at once, the old level kept in the `rates` buffer. Nothing is kept
    /// for a second pass, so nothing is spilled. When any stock (in either lane) needs its
    /// outflows scaled, or (scalar) may meet the stability condition or (scalar, with
    /// `check_rates`) has a rate that is not finite, the old levels are put back and the step
    /// is made as before: the limiting in order ([`Step::limit_and_rates`]), the exact checks,
    /// the row again (the scaled flows), the update. Returns the outcome (scalar: [`STEPPED`]
    /// or [`STOCK_NOT_FINITE`], the other outcomes leave through `exit`; pair: the lanes whose
    /// stocks, or with `check_rates` rates, were not finite) and the new levels.
    fn one_pass_rest(
        &mut self,
        args: &StepArgs,
        exit: &Exit,
        check_rates: bool,
    ) -> Result<(Value, Vec<Value>), Unavailable> {
        let p = self.p;
        let zero = self.num(0.0);
        // A lane's old levels take `width` bytes per stock in the `rates` buffer.
        let width = if self.pair { 16 } else { 8 };
        self.save_row(args.row)?;
        // Scalar: an i8 flag; pair: a mask per lane (made into a flag at the end).
        let mut trouble: Option<Value> = None;
        let (mut rate_sums, mut level_sums) = ([zero; 4], [zero; 4]);
        let mut kept = Vec::with_capacity(p.stocks.len());
        for (i, s) in p.stocks.iter().enumerate() {
            let (ins, outs) = flows_of(p, s);
            let level = self.load(s.slot)?;
            let inflow = self.sum(ins)?;
            let outflow = self.sum(outs)?;
            if s.non_negative {
                let (scaled, _) = self.needs_scaling(level, inflow, outflow);
                trouble = Some(self.either(trouble, scaled));
            }
            let rate = self.b.ins().fsub(inflow, outflow);
            if check_rates {
                rate_sums[i % 4] = self.b.ins().fadd(rate_sums[i % 4], rate);
            }
            let change = self.b.ins().fmul(self.dt, rate);
            if !self.pair {
                let unstable = self.unstable_stock(level, outflow, change, args.bound);
                trouble = Some(self.either(trouble, unstable));
            }
            let (new, level_kept) = self.new_level(s, level, change);
            level_sums[i % 4] = self.b.ins().fadd(level_sums[i % 4], new);
            let offset =
                i32::try_from(width * i).map_err(|_| Unavailable("too many stocks".into()))?;
            self.b
                .ins()
                .store(MemFlagsData::trusted(), level, args.rates, offset);
            self.store(s.slot, level_kept)?;
            kept.push(level_kept);
        }
        let rates_not_finite = if check_rates {
            Some(self.not_finite_sum(rate_sums)?)
        } else {
            None
        };
        let mut failures = self.not_finite_sum(level_sums)?;
        match rates_not_finite {
            // Pair: a lane whose rate is not finite fails (as in the phased step).
            Some(flag) if self.pair => failures = self.b.ins().bor(failures, flag),
            // Scalar: the flows' exit, from the phased step.
            Some(flag) => trouble = Some(self.either(trouble, flag)),
            None => {}
        }
        let Some(trouble) = trouble else {
            // Pair layout without non-negative stocks: nothing can need the phased step.
            return Ok((failures, kept));
        };
        let trouble = if self.pair {
            self.b.ins().vany_true(trouble)
        } else {
            trouble
        };
        let failure_type = self.b.func.dfg.value_type(failures);
        let (slow, join) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(join, failure_type);
        for _ in &kept {
            self.b.append_block_param(join, self.ty);
        }
        let args_of = |failures: Value, kept: &[Value]| -> Vec<BlockArg> {
            std::iter::once(failures)
                .chain(kept.iter().copied())
                .map(|v| v.into())
                .collect()
        };
        self.b
            .ins()
            .brif(trouble, slow, &[], join, &args_of(failures, &kept));

        // The step as before, from the old levels.
        self.b.switch_to_block(slow);
        for (i, s) in p.stocks.iter().enumerate() {
            let offset =
                i32::try_from(width * i).map_err(|_| Unavailable("too many stocks".into()))?;
            let old = self
                .b
                .ins()
                .load(self.ty, MemFlagsData::trusted(), args.rates, offset);
            self.store(s.slot, old)?;
        }
        self.use_recent = false;
        if let (Some(flag), false) = (rates_not_finite, self.pair) {
            // The flows left unchecked by the assignments: each reaches a net rate.
            exit_if(&mut self.b, exit, flag, FLOWS_NOT_FINITE);
        }
        let rates = self.limit_and_rates()?;
        let changes = self.changes(&rates);
        let limited_rates_not_finite = if !self.pair {
            self.exit_if_unstable(&rates, &changes, args, exit)?;
            None
        } else if check_rates {
            Some(self.not_finite(rates.iter().map(|r| r.rate))?)
        } else {
            None
        };
        // The row again: limiting may have scaled flows it holds.
        self.save_row(args.row)?;
        let (mut slow_failures, slow_kept) = self.update(&rates, &changes)?;
        if let Some(flag) = limited_rates_not_finite {
            slow_failures = self.b.ins().bor(slow_failures, flag);
        }
        self.b.ins().jump(join, &args_of(slow_failures, &slow_kept));

        self.b.switch_to_block(join);
        let params = self.b.block_params(join).to_vec();
        let result = if self.pair {
            params[0]
        } else {
            let code = self.b.ins().iconst(types::I32, STOCK_NOT_FINITE as i64);
            let stepped = self.b.ins().iconst(types::I32, STEPPED as i64);
            self.b.ins().select(params[0], code, stepped)
        };
        Ok((result, params[1..].to_vec()))
    }

    /// `flag`, or'ed into `so_far` if there is one.
    fn either(&mut self, so_far: Option<Value>, flag: Value) -> Value {
        match so_far {
            None => flag,
            Some(so_far) => self.b.ins().bor(so_far, flag),
        }
    }

    /// Leave through `exit` with [`UNSTABLE`], the rates written to the `rates` buffer, when
    /// some stock may meet the stability condition ([`Step::unstable`]).
    fn exit_if_unstable(
        &mut self,
        rates: &[StockRate],
        changes: &[Value],
        args: &StepArgs,
        exit: &Exit,
    ) -> Result<(), Unavailable> {
        let unstable = self.unstable(rates, changes, args.bound)?;
        let (unstable_block, go_on) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(unstable, unstable_block, &[], go_on, &[]);
        self.b.switch_to_block(unstable_block);
        self.store_rates(rates, args.rates)?;
        let code = self.b.ins().iconst(types::I32, UNSTABLE as i64);
        exit.leave(&mut self.b, code);
        self.b.switch_to_block(go_on);
        Ok(())
    }

    /// Write the net rates to the `rates` buffer (for [`UNSTABLE`]: the caller finishes the
    /// step with them).
    fn store_rates(&mut self, rates: &[StockRate], buffer: Value) -> Result<(), Unavailable> {
        for (i, &StockRate { rate, .. }) in rates.iter().enumerate() {
            let offset = i32::try_from(8 * i).map_err(|_| Unavailable("too many stocks".into()))?;
            self.b
                .ins()
                .store(MemFlagsData::trusted(), rate, buffer, offset);
        }
        Ok(())
    }

    /// A stock's new level `level + change` and the value kept: clamped at zero for the
    /// stocks that have it (`Sim::euler_step`, `Sim::check_stocks`).
    fn new_level(&mut self, s: &StockSlot, level: Value, change: Value) -> (Value, Value) {
        let new = self.b.ins().fadd(level, change);
        let kept = if s.non_negative || s.clamp_at_zero {
            let zero = self.num(0.0);
            let negative = self.b.ins().fcmp(FloatCC::LessThan, new, zero);
            self.choose(negative, zero, new)
        } else {
            new
        };
        (new, kept)
    }

    /// Whether some stock may meet `Sim::derivatives`' stability condition
    /// `level > 0 && dt · max(outflow, −rate) / level > bound`: when it does, the caller
    /// checks exactly (`Sim::check_stability`), so this may say yes where the exact condition
    /// does not, but never no where it holds. Without a division: rounding is monotone and
    /// `bound` is a double, so a quotient `y / level` that rounds above `bound` is at least
    /// `bound` exactly, `y ≥ bound · level`, and then `y` (a double) is at least that product
    /// rounded, the threshold `fl(bound · level)`. `y = fl(dt · x)` for `x` the larger of
    /// outflow and −rate, both compared (monotone again; a NaN side is false, as `max` would
    /// take the other). For −rate: `fl(dt · −rate) = −change` with `change = fl(dt · rate)`
    /// (the update's), and `−change ≥ threshold` exactly when `fl(change + threshold) ≤ 0`
    /// (a rounded sum has the sign of the exact one). `level > 0` is `threshold > 0`, since
    /// `bound ≥ 1` (a positive level times at least 1 does not round to 0; the callers pass
    /// Euler's bound, 1). (Scalar layout.)
    fn unstable(
        &mut self,
        rates: &[StockRate],
        changes: &[Value],
        bound: Value,
    ) -> Result<Value, Unavailable> {
        let mut unstable = self.b.ins().iconst(types::I8, 0);
        for (&StockRate { outflow, level, .. }, &change) in rates.iter().zip(changes) {
            let this = self.unstable_stock(level, outflow, change, bound);
            unstable = self.b.ins().bor(unstable, this);
        }
        Ok(unstable)
    }

    /// [`Step::unstable`] for one stock.
    fn unstable_stock(
        &mut self,
        level: Value,
        outflow: Value,
        change: Value,
        bound: Value,
    ) -> Value {
        let zero = self.num(0.0);
        let threshold = self.b.ins().fmul(bound, level);
        let positive = self.b.ins().fcmp(FloatCC::GreaterThan, threshold, zero);
        let by_outflow = self.b.ins().fmul(self.dt, outflow);
        let by_outflow = self
            .b
            .ins()
            .fcmp(FloatCC::GreaterThanOrEqual, by_outflow, threshold);
        let margin = self.b.ins().fadd(change, threshold);
        let by_rate = self.b.ins().fcmp(FloatCC::LessThanOrEqual, margin, zero);
        let either = self.b.ins().bor(by_outflow, by_rate);
        self.b.ins().band(positive, either)
    }

    /// When `row` is not null: make the per-row copies (`Program::copies`) and write every
    /// column's value to the row (`Sim::record` without the time).
    fn save_row(&mut self, row: Value) -> Result<(), Unavailable> {
        let (save, go_on) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(row, save, &[], go_on, &[]);
        self.b.switch_to_block(save);
        let p = self.p;
        for &(slot, source) in &p.copies {
            let v = self.load(source)?;
            self.store(slot, v)?;
        }
        let trusted = MemFlagsData::trusted();
        let pointer = self.b.func.dfg.value_type(row);
        // Pair layout: the rows of the two lanes; a lane's value is a scalar 8 bytes after the
        // previous lane's.
        let rows = if self.pair {
            vec![
                self.b.ins().load(pointer, trusted, row, 0),
                self.b.ins().load(pointer, trusted, row, 8),
            ]
        } else {
            vec![row]
        };
        let mut c = 0;
        while c < p.columns.len() {
            let slot = p.columns[c].slot;
            let at = slot_offset(slot, self.stride, self.slot_count)?;
            let to = i32::try_from(8 * c).map_err(|_| Unavailable("too many columns".into()))?;
            // Scalar layout: two columns whose slots are adjacent (columns follow the slots'
            // order in runs) move as one 16-byte copy.
            if !self.pair
                && p.columns
                    .get(c + 1)
                    .is_some_and(|next| next.slot == slot + 1)
            {
                slot_offset(slot + 1, self.stride, self.slot_count)?;
                // Eight-byte aligned only: not `aligned` for a 16-byte access.
                let unaligned = MemFlagsData::new().with_notrap();
                let two = self.b.ins().load(types::F64X2, unaligned, self.slots, at);
                self.b.ins().store(unaligned, two, row, to);
                c += 2;
                continue;
            }
            c += 1;
            for (lane, &row) in rows.iter().enumerate() {
                let v = self
                    .b
                    .ins()
                    .load(types::F64, trusted, self.slots, at + 8 * lane as i32);
                self.b.ins().store(trusted, v, row, to);
            }
        }
        self.b.ins().jump(go_on, &[]);
        self.b.switch_to_block(go_on);
        Ok(())
    }

    /// `stock += dt · rate` for every stock, then the clamp at zero of the stocks that have it
    /// (`Sim::euler_step`, `Sim::check_stocks`). Returns whether a new value is not finite
    /// (scalar: an i8; pair: an i32 with bit `l` for lane `l`), checked before the clamp.
    fn update(
        &mut self,
        rates: &[StockRate],
        changes: &[Value],
    ) -> Result<(Value, Vec<Value>), Unavailable> {
        let p = self.p;
        let zero = self.num(0.0);
        let mut sums = [zero; 4];
        let mut new_levels = Vec::with_capacity(p.stocks.len());
        for (i, ((s, &StockRate { level, .. }), &change)) in
            p.stocks.iter().zip(rates).zip(changes).enumerate()
        {
            let (new, kept) = self.new_level(s, level, change);
            // As in `Translator::assignments_where`: the sum is finite unless a value is not
            // (or the sum overflows: a false alarm, which the caller's check clears).
            sums[i % 4] = self.b.ins().fadd(sums[i % 4], new);
            self.store(s.slot, kept)?;
            new_levels.push(kept);
        }
        Ok((self.not_finite_sum(sums)?, new_levels))
    }

    /// Whether some of `values` is not finite (see [`Step::not_finite_sum`]).
    fn not_finite(&mut self, values: impl Iterator<Item = Value>) -> Result<Value, Unavailable> {
        let zero = self.num(0.0);
        let mut sums = [zero; 4];
        for (i, v) in values.enumerate() {
            sums[i % 4] = self.b.ins().fadd(sums[i % 4], v);
        }
        self.not_finite_sum(sums)
    }

    /// Whether the four partial `sums` of some values are not all finite, i.e. some value was
    /// not (or the sum overflowed: a false alarm the caller's check clears, as in
    /// `Translator::assignments_where`). Scalar: an i8; pair: an i32 with bit `l` for lane
    /// `l`.
    fn not_finite_sum(&mut self, sums: [Value; 4]) -> Result<Value, Unavailable> {
        let low = self.b.ins().fadd(sums[0], sums[1]);
        let high = self.b.ins().fadd(sums[2], sums[3]);
        let sum = self.b.ins().fadd(low, high);
        // +0 where the sum is finite, NaN elsewhere.
        let sum = self.b.ins().fsub(sum, sum);
        if !self.pair {
            return Ok(self.b.ins().fcmp(FloatCC::Unordered, sum, sum));
        }
        let mut result = self.b.ins().iconst(types::I32, 0);
        for l in 0..2u8 {
            let lane = self.b.ins().extractlane(sum, l);
            let bad = self.b.ins().fcmp(FloatCC::Unordered, lane, lane);
            let bad = self.b.ins().uextend(types::I32, bad);
            let bit = self.b.ins().ishl_imm_u(bad, l as i64);
            result = self.b.ins().bor(result, bit);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_neutral_value_is_that_of_sum() {
        let sum: f64 = std::iter::empty::<f64>().sum();
        assert_eq!(sum.to_bits(), super::NEUTRAL.to_bits());
    }
}
