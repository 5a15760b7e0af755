//! A whole Euler step in native code: the per-step assignments (by calling the flows
//! function), the limiting of non-negative stocks' outflows, the net rates, the stability
//! condition, saving a row, the update `stock += dt · rate`, the clamp at zero and the finite
//! check — what `simulate::fixed::run` does per step for Euler, as one call.
//!
//! **Same numbers as the Rust step.** Every operation is the one `simulate` does, in the same
//! order: sums folded from `Sum`'s neutral value, `x > 0 ? x : 0` for the level and the
//! available flow (`simulate::network::at_least_zero`), `stock + dt·rate`, the clamp
//! `stock < 0 ? 0 : stock`. tests/native.rs compares every saved value bit for bit with the
//! interpreter, which runs the Rust step.
//!
//! **What it leaves to the caller.** The function returns early, before changing any stock,
//! when the flows were not finite ([`FLOWS_NOT_FINITE`]: nothing after the flows was done) or
//! when some stock meets the stability condition ([`UNSTABLE`]: the outflows are limited and
//! the rates written to `rates`, exactly the state after `Sim::derivatives`); the caller
//! finishes that step in Rust, which writes the warning. A stock that is not finite after the
//! update gives [`STOCK_NOT_FINITE`] (the step is complete; the caller reports the error).
//! PREVIOUS, fixed delays and schedules stay in Rust: a program with the first two does not
//! use this function, and schedules are applied before it is called.
//!
//! The lane-pair variant does the same for two lanes of a batch (no stability check: batches
//! report no warnings) and returns the lanes that failed, flows or stocks.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    AbiParam, InstBuilder, MemFlagsData, Signature, Type, UserFuncName, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use super::{Unavailable, slot_offset};
use crate::vm::{Program, StockSlot};

/// `fn(slots, time, dt, bound, row, rates) -> outcome`. Scalar layout: `row` is where the
/// saved row goes (null: no row this step), `rates` receives the net rates on [`UNSTABLE`].
/// Pair layout: `row` points at two row pointers (lane `l`, lane `l + 1`), `bound` and
/// `rates` are unused, and the outcome has bit `l` set for each failed lane.
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

/// Define the Euler step function `name` that calls `flows` (the flows function of the same
/// layout: `stride` bytes between slots, two lanes per value when `pair`).
#[allow(clippy::too_many_arguments)]
pub(super) fn define(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    program: &Program,
    slot_count: usize,
    name: &str,
    flows: FuncId,
    stride: i64,
    pair: bool,
) -> Result<FuncId, Unavailable> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Unavailable(format!("{what}: {e}"));
    let sig = signature(module);
    let id = module
        .declare_function(name, Linkage::Local, &sig)
        .map_err(|e| fail("declare", &e))?;
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let target = module.target_config();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let flows_ref = module.declare_func_in_func(flows, b.func);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let flows_result = {
            let call = b.ins().call(flows_ref, &[params[0], params[1], params[2]]);
            b.inst_results(call)[0]
        };
        let ty = if pair { types::F64X2 } else { types::F64 };
        let mut step = Step {
            b,
            p: program,
            slot_count,
            stride,
            pair,
            ty,
            slots: params[0],
            dt: params[2],
            neutral: Value::from_u32(0),
        };
        step.dt = step.splat(params[2]);
        step.neutral = step.num(std::iter::empty::<f64>().sum());
        if !pair {
            step.return_if(flows_result, FLOWS_NOT_FINITE);
        }
        step.limit_outflows()?;
        let rates = step.rates()?;
        if !pair {
            let bound = params[3];
            let unstable = step.unstable(&rates, bound)?;
            let (unstable_block, go_on) = (step.b.create_block(), step.b.create_block());
            step.b.ins().brif(unstable, unstable_block, &[], go_on, &[]);
            step.b.switch_to_block(unstable_block);
            for (i, &rate) in rates.iter().enumerate() {
                let offset =
                    i32::try_from(8 * i).map_err(|_| Unavailable("too many stocks".into()))?;
                step.b
                    .ins()
                    .store(MemFlagsData::trusted(), rate, params[5], offset);
            }
            let code = step.b.ins().iconst(types::I32, UNSTABLE as i64);
            step.b.ins().return_(&[code]);
            step.b.switch_to_block(go_on);
        }
        step.save_row(params[4])?;
        let stock_failures = step.update(&rates)?;
        let result = if pair {
            step.b.ins().bor(flows_result, stock_failures)
        } else {
            let code = step.b.ins().iconst(types::I32, STOCK_NOT_FINITE as i64);
            let stepped = step.b.ins().iconst(types::I32, STEPPED as i64);
            step.b.ins().select(stock_failures, code, stepped)
        };
        step.b.ins().return_(&[result]);
        step.b.seal_all_blocks();
        step.b.finalize(target);
    }
    module
        .define_function(id, ctx)
        .map_err(|e| fail("code generation", &e))?;
    module.clear_context(ctx);
    Ok(id)
}

/// A stock's inflow and outflow slots.
fn flows_of<'p>(p: &'p Program, s: &StockSlot) -> (&'p [u32], &'p [u32]) {
    let range = |r: (u32, u32)| &p.flow_slots[r.0 as usize..r.1 as usize];
    (range(s.inflows), range(s.outflows))
}

/// Builds the part of the step after the flows. Every value is read from memory where it is
/// used (the flows function has just written them; limiting may have changed them).
struct Step<'a, 'f> {
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
    fn sum(&mut self, flows: &[u32]) -> Result<Value, Unavailable> {
        let mut acc = self.neutral;
        for &f in flows {
            let v = self.load(f)?;
            acc = self.b.ins().fadd(acc, v);
        }
        Ok(acc)
    }

    /// Return `code` when the i32 `flag` is not zero; go on otherwise.
    fn return_if(&mut self, flag: Value, code: i32) {
        let (exit, go_on) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(flag, exit, &[], go_on, &[]);
        self.b.switch_to_block(exit);
        let code = self.b.ins().iconst(types::I32, code as i64);
        self.b.ins().return_(&[code]);
        self.b.switch_to_block(go_on);
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
            let level = self.at_least_zero(level);
            let inflow = self.sum(inflows)?;
            let outflow = self.sum(outflows)?;
            let per_step = self.b.ins().fdiv(level, self.dt);
            let available = self.b.ins().fadd(per_step, inflow);
            let zero = self.num(0.0);
            let too_much = self.b.ins().fcmp(FloatCC::GreaterThan, outflow, available);
            let positive = self.b.ins().fcmp(FloatCC::GreaterThan, outflow, zero);
            let scale = self.b.ins().band(too_much, positive);
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

    /// Every stock's net rate, inflows − outflows (`network::net_rates`).
    fn rates(&mut self) -> Result<Vec<Value>, Unavailable> {
        let p = self.p;
        p.stocks
            .iter()
            .map(|s| {
                let (inflows, outflows) = flows_of(p, s);
                let inflow = self.sum(inflows)?;
                let outflow = self.sum(outflows)?;
                Ok(self.b.ins().fsub(inflow, outflow))
            })
            .collect()
    }

    /// Whether some stock meets `Sim::derivatives`' stability condition
    /// `level > 0 && dt · max(outflow, −rate) / level > bound`, written as
    /// `dt·outflow/level > bound || dt·(−rate)/level > bound`: for `dt, level > 0` both sides
    /// are monotone in the flow (rounding is monotone), and a NaN side is false where `max`
    /// would take the other, so the two are the same condition. (Scalar layout.)
    fn unstable(&mut self, rates: &[Value], bound: Value) -> Result<Value, Unavailable> {
        let p = self.p;
        let mut unstable = self.b.ins().iconst(types::I8, 0);
        let zero = self.num(0.0);
        for (s, &rate) in p.stocks.iter().zip(rates) {
            let (_, outflows) = flows_of(p, s);
            let outflow = self.sum(outflows)?;
            let level = self.load(s.slot)?;
            let positive = self.b.ins().fcmp(FloatCC::GreaterThan, level, zero);
            let dt = self.dt;
            let exceeds = |drain: Value, b: &mut FunctionBuilder| {
                let scaled = b.ins().fmul(dt, drain);
                let ratio = b.ins().fdiv(scaled, level);
                b.ins().fcmp(FloatCC::GreaterThan, ratio, bound)
            };
            let by_outflow = exceeds(outflow, &mut self.b);
            let minus_rate = self.b.ins().fneg(rate);
            let by_rate = exceeds(minus_rate, &mut self.b);
            let either = self.b.ins().bor(by_outflow, by_rate);
            let this = self.b.ins().band(positive, either);
            unstable = self.b.ins().bor(unstable, this);
        }
        Ok(unstable)
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
        for (c, column) in p.columns.iter().enumerate() {
            let at = slot_offset(column.slot, self.stride, self.slot_count)?;
            let to = i32::try_from(8 * c).map_err(|_| Unavailable("too many columns".into()))?;
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
    fn update(&mut self, rates: &[Value]) -> Result<Value, Unavailable> {
        let p = self.p;
        let zero = self.num(0.0);
        let mut sums = [zero; 4];
        for (i, (s, &rate)) in p.stocks.iter().zip(rates).enumerate() {
            let level = self.load(s.slot)?;
            let change = self.b.ins().fmul(self.dt, rate);
            let new = self.b.ins().fadd(level, change);
            let nan_unless_finite = self.b.ins().fsub(new, new);
            sums[i % 4] = self.b.ins().fadd(sums[i % 4], nan_unless_finite);
            let kept = if s.non_negative || s.clamp_at_zero {
                let negative = self.b.ins().fcmp(FloatCC::LessThan, new, zero);
                self.choose(negative, zero, new)
            } else {
                new
            };
            self.store(s.slot, kept)?;
        }
        let low = self.b.ins().fadd(sums[0], sums[1]);
        let high = self.b.ins().fadd(sums[2], sums[3]);
        let sum = self.b.ins().fadd(low, high);
        let scalar_zero = self.b.ins().f64const(0.0);
        if !self.pair {
            return Ok(self.b.ins().fcmp(FloatCC::NotEqual, sum, scalar_zero));
        }
        let mut result = self.b.ins().iconst(types::I32, 0);
        for l in 0..2u8 {
            let lane = self.b.ins().extractlane(sum, l);
            let bad = self.b.ins().fcmp(FloatCC::NotEqual, lane, scalar_zero);
            let bad = self.b.ins().uextend(types::I32, bad);
            let bit = self.b.ins().ishl_imm_u(bad, l as i64);
            result = self.b.ins().bor(result, bit);
        }
        Ok(result)
    }
}
