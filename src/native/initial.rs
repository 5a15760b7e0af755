//! The initial phase (`Program::initial`: stocks' initial values, constants defined by
//! equations, every auxiliary at the start time) in native code, for `Sim::initialize`.
//!
//! A run's overrides decide which assignments it skips (an overridden constant keeps its
//! value), so the function takes one flag byte per slot (`skip`, the `overridden` flags of
//! `Sim::initialize`) and tests it before each assignment. It runs once per run, so each
//! assignment may branch: on the first value that is not finite it returns 1 at once, and
//! the caller re-runs the phase in the interpreter, which stops at the same assignment with
//! the message (each assignment reads only constants, overrides and the assignments before
//! it, which the re-run computes again to the same values).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, types};
use cranelift_module::{FuncId, Module};

use super::{Maker, Translator, Unavailable, slot_offset};
use crate::vm::Program;

/// `fn(slots, time, dt, skip) -> 1 when a value was not finite, else 0`.
pub(super) type InitialFn = unsafe extern "C" fn(*mut f64, f64, f64, *const u8) -> i32;

/// Translate `program.initial` into the function `name`; `None` (not an error: the
/// interpreter runs the phase) when the translation fails.
pub(super) fn define(maker: &mut Maker, name: &str) -> Result<Option<FuncId>, Unavailable> {
    let (program, slot_count) = (maker.program, maker.slot_count);
    let pointer = maker.module.target_config().pointer_type();
    let mut sig = maker.module.make_signature();
    sig.params.push(AbiParam::new(pointer));
    sig.params.push(AbiParam::new(types::F64));
    sig.params.push(AbiParam::new(types::F64));
    sig.params.push(AbiParam::new(pointer));
    sig.returns.push(AbiParam::new(types::I32));
    maker.ctx.func.signature = sig.clone();
    let target = maker.module.target_config();
    let translated = {
        let mut t = maker.translator(8, false);
        // Each assignment is in its own block (reached or skipped): a value made in one
        // does not dominate the next, so none is reused across assignments.
        t.reuse_window = 0;
        let result = body(&mut t, program, slot_count);
        t.b.finalize(target);
        result
    };
    if translated.is_err() {
        maker.module.clear_context(&mut maker.ctx);
        return Ok(None);
    }
    // Declared only now: a declared function must be defined.
    let id = maker.declare(name, sig)?;
    maker.define(id)?;
    Ok(Some(id))
}

fn body(t: &mut Translator, program: &Program, slot_count: usize) -> Result<(), Unavailable> {
    let entry = t.b.create_block();
    t.b.append_block_params_for_function_params(entry);
    t.b.switch_to_block(entry);
    let params = t.b.block_params(entry).to_vec();
    t.set_arguments(params[0], params[1], params[2]);
    let skip = params[3];
    let failed = t.b.create_block();
    let zero = t.b.ins().f64const(0.0);
    for (i, a) in program.initial.iter().enumerate() {
        t.assignment = i;
        // One byte per slot: the offset is the slot number (checked against the count).
        slot_offset(a.slot, 1, slot_count)?;
        let flag =
            t.b.ins()
                .load(types::I8, MemFlagsData::trusted(), skip, a.slot as i32);
        let (compute, next) = (t.b.create_block(), t.b.create_block());
        t.b.ins().brif(flag, next, &[], compute, &[]);
        t.b.switch_to_block(compute);
        let v = t.assignment(a)?;
        t.store(a.slot, v)?;
        let nan_unless_finite = t.b.ins().fsub(v, v);
        let bad = t.b.ins().fcmp(FloatCC::NotEqual, nan_unless_finite, zero);
        t.b.ins().brif(bad, failed, &[], next, &[]);
        t.b.switch_to_block(next);
    }
    let ok = t.b.ins().iconst(types::I32, 0);
    t.b.ins().return_(&[ok]);
    t.b.switch_to_block(failed);
    let one = t.b.ins().iconst(types::I32, 1);
    t.b.ins().return_(&[one]);
    t.b.seal_all_blocks();
    Ok(())
}
