//! Native code for a program's per-step assignments (`Program::flows`), made with Cranelift
//! when the model is compiled.
//!
//! The bytecode interpreter (`vm`) pays a dispatch per op; a model evaluated hundreds of
//! times per run and thousands of runs per scenario is better served by machine code. This
//! module translates `Program::flows` — the assignments evaluated at every step — into one
//! native function per memory layout:
//!
//! - `scalar`: `slots` is a run's `State::slots` (`[f64]`, slot `s` at `8·s` bytes);
//! - `lane_pairs`: `slots` points at lane `l` of a `BatchState` (`[[f64; LANES]]`, slot `s`
//!   at `8·(LANES·s + l)` bytes), and every operand holds lanes `l` and `l + 1` (`F64X2`:
//!   one SSE2 instruction does both); a batch is evaluated by calling it for each pair. An IF
//!   evaluates both branches and chooses per lane, as the interpreter's batches do when the
//!   lanes disagree; the helper functions are called once per lane.
//!
//! **Same numbers as the interpreter.** Each op becomes the same IEEE operation in the same
//! order (no fused multiply-add, no reassociation, no fast-math); everything that is not a
//! single IEEE instruction (EXP, LN, powers, MIN/MAX, lookups, the time functions) calls the
//! very Rust function the interpreter uses. `tests/native.rs` checks bit-identity on every
//! bundled model and the XMILE test corpus.
//!
//! **Faults.** Every assignment's value is checked to be finite, as in `Program::eval_all`,
//! but without a branch each: the function runs to the end and returns 1 if any value was
//! not finite. The caller then re-runs the same assignments in the interpreter, which stops
//! at the first such assignment with the message. (The re-run sees the same inputs: an
//! assignment reads constants, stocks, time and assignments before it in the order, never
//! one after it; values after the failure are overwritten either way. The helper functions
//! the code calls accept NaN and infinities.)
//!
//! **Lifetime.** The machine code and everything it points at (the lookup tables) are owned by
//! [`NativeCode`], which a `Program` holds in an `Arc`: clones of the program share it, and
//! the code is freed when the last clone is dropped.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, Type, UserFuncName, Value,
    types,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};

use std::collections::HashMap;

use crate::vm::{self, Assign, F1, F2, F3, LANES, Op, Program, Table};

pub mod euler;
mod initial;
use euler::{EulerFn, LoopFn, StepLoop};
use initial::InitialFn;

/// `fn(slots, time, dt) -> bit l set when lane l produced a non-finite value` (one lane
/// for the scalar layout, two for the pair layout).
type StepFn = unsafe extern "C" fn(*mut f64, f64, f64) -> i32;

/// Machine code for `Program::flows`, in the scalar and the lane-pair layout.
pub struct NativeCode {
    scalar: StepFn,
    lane_pairs: StepFn,
    /// The whole Euler step (see [`euler`]), in the scalar and the lane-pair layout.
    euler_scalar: EulerFn,
    euler_lane_pairs: EulerFn,
    /// Steps of `euler_scalar` in a loop (see [`euler::StepLoop`]).
    euler_loop: LoopFn,
    /// `Program::initial` (see `initial`), where it could be translated.
    initial: Option<InitialFn>,
    /// The program's stock and column counts: the Euler code writes that many rates and row
    /// values.
    stock_count: usize,
    column_count: usize,
    /// Owns the code; `None` only while being dropped.
    module: Option<JITModule>,
    /// The lookup tables the code points at (a copy of the program's: the code must not
    /// depend on where the `Program` lives).
    _tables: Box<[Table]>,
    /// The program's slot count: the code reads and writes below it.
    slot_count: usize,
    /// How long translating and compiling took (reported by `careshift bench`).
    pub compile_seconds: f64,
}

// SAFETY: after `finalize_definitions` the module is never mutated; the code is immutable
// and reentrant (it only touches the `slots` it is given and calls pure Rust functions), and
// the tables it reads are owned by `self` and never written.
unsafe impl Send for NativeCode {}
unsafe impl Sync for NativeCode {}

impl Drop for NativeCode {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: nothing can call the code any more: `self` owns the only pointers to it.
            unsafe { module.free_memory() };
        }
    }
}

impl std::fmt::Debug for NativeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCode")
            .field("compile_seconds", &self.compile_seconds)
            .finish_non_exhaustive()
    }
}

impl NativeCode {
    /// Evaluate `Program::flows` on one run's slots. False when a value was not finite
    /// (re-run the interpreter for the message).
    ///
    /// Panics if `slots` is not a state of the program the code was made from (its length
    /// differs), rather than letting the code write out of bounds.
    #[inline]
    pub fn eval_scalar(&self, slots: &mut [f64], time: f64, dt: f64) -> bool {
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        // SAFETY: the code reads and writes slots below the program's slot count only, and
        // `slots` has that many.
        let r = unsafe { (self.scalar)(slots.as_mut_ptr(), time, dt) };
        r == 0
    }

    /// Evaluate lanes `first` and `first + 1` of a batch state's slots (two lanes per
    /// instruction). Returns the lanes (bit 0: `first`, bit 1: the next) that produced a
    /// non-finite value.
    #[inline]
    pub fn eval_lane_pair(&self, slots: &mut [vm::Lanes], first: usize, time: f64, dt: f64) -> u32 {
        assert!(first + 1 < LANES);
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        // SAFETY: as `eval_scalar`, with the lane layout the `lane_pairs` code was made for:
        // it reads and writes 16 bytes at `8·(LANES·slot + first)` for slots of the program.
        let base = unsafe { (slots.as_mut_ptr() as *mut f64).add(first) };
        (unsafe { (self.lane_pairs)(base, time, dt) }) as u32
    }
}

impl NativeCode {
    /// One whole Euler step of a run from time `time` (see [`euler`]): returns one of
    /// [`euler::STEPPED`], [`euler::FLOWS_NOT_FINITE`], [`euler::UNSTABLE`] (then `rates`
    /// holds the net rates) or [`euler::STOCK_NOT_FINITE`]. `row`: where to save this step's
    /// row (`Program::columns` values), or `None`. `bound`: the stability bound on
    /// `dt × outflow/stock`, at least 1 (the code's test relies on it).
    ///
    /// Panics if `slots`, `row` or `rates` do not fit the program the code was made from, or
    /// `bound` is below 1.
    #[inline]
    pub fn euler_step(
        &self,
        slots: &mut [f64],
        time: f64,
        dt: f64,
        bound: f64,
        row: Option<&mut [std::mem::MaybeUninit<f64>]>,
        rates: &mut [f64],
    ) -> i32 {
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        assert_eq!(rates.len(), self.stock_count, "one rate per stock");
        assert!(
            bound >= 1.0,
            "the native stability test needs a bound of at least 1"
        );
        let row = match row {
            Some(row) => {
                assert!(row.len() >= self.column_count, "a row holds every column");
                row.as_mut_ptr() as *mut f64
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: the code reads and writes slots below the program's slot count, writes
        // `column_count` values at `row` (when not null) and `stock_count` at `rates`; each
        // has that room.
        unsafe { (self.euler_scalar)(slots.as_mut_ptr(), time, dt, bound, row, rates.as_mut_ptr()) }
    }

    /// Run the initial phase (`Program::initial`) on a run's slots, skipping the assignments
    /// of the slots flagged in `skip` (overridden constants). `None` when it has no native
    /// code; `Some(false)` when a value was not finite (re-run the interpreter for the
    /// message).
    pub fn eval_initial(
        &self,
        slots: &mut [f64],
        time: f64,
        dt: f64,
        skip: &[bool],
    ) -> Option<bool> {
        let initial = self.initial?;
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        assert_eq!(skip.len(), self.slot_count, "a flag per slot");
        // SAFETY: the code reads and writes slots below the program's slot count and reads
        // one byte per slot of `skip` (a `bool` is one byte, 0 or 1).
        let failed = unsafe { initial(slots.as_mut_ptr(), time, dt, skip.as_ptr() as *const u8) };
        Some(failed == 0)
    }

    /// Euler steps `steps.k..steps.end` of a run, each as [`NativeCode::euler_step`],
    /// saving rows (and their times) at the end of `values` (and `times`) as
    /// `steps.until_save` counts down. Stops at the first step that is not
    /// [`euler::STEPPED`] and returns its outcome, with `steps` at that step (the rows
    /// before it saved, its own row written only for [`euler::STOCK_NOT_FINITE`] — the caller
    /// finishes that step); [`euler::STEPPED`] when every step was made. The `row`, `time`
    /// and `rates` fields are set here.
    ///
    /// Panics if `slots` or `rates` do not fit the program, or `values` and `times` lack the
    /// capacity for the rows the steps save.
    pub fn euler_steps(
        &self,
        slots: &mut [f64],
        steps: &mut StepLoop,
        values: &mut Vec<f64>,
        times: &mut Vec<f64>,
        rates: &mut [f64],
    ) -> i32 {
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        assert_eq!(rates.len(), self.stock_count, "one rate per stock");
        assert!(steps.save_every > 0);
        assert!(
            steps.bound >= 1.0,
            "the native stability test needs a bound of at least 1"
        );
        // The rows the steps may save (one more for a failing step's own row).
        let count = steps.end.saturating_sub(steps.k);
        let saves = if steps.until_save < count {
            1 + (count - 1 - steps.until_save) / steps.save_every
        } else {
            0
        } as usize;
        let width = self.column_count;
        assert!(values.capacity() - values.len() >= saves * width);
        assert!(times.capacity() - times.len() >= saves);
        let (values_start, times_start) = (values.len(), times.len());
        // SAFETY: in bounds or one past the end of the allocations.
        steps.row = unsafe { values.as_mut_ptr().add(values_start) };
        steps.time = unsafe { times.as_mut_ptr().add(times_start) };
        steps.rates = rates.as_mut_ptr();
        // SAFETY: the code reads and writes slots below the program's slot count and
        // `stock_count` rates; it writes a row of `width` values and a time for each saved
        // step, `saves` at most (checked above), and the row of a failing step at most
        // within the same count (that step is among those counted).
        let outcome = unsafe { (self.euler_loop)(slots.as_mut_ptr(), steps) };
        // SAFETY: the code advanced `row` and `time` by what it saved, inside the capacity.
        let saved = unsafe { steps.time.offset_from(times.as_ptr()) } as usize - times_start;
        unsafe {
            times.set_len(times_start + saved);
            values.set_len(values_start + saved * width);
        }
        outcome
    }

    /// One whole Euler step of lanes `first` and `first + 1` of a batch (see [`euler`]),
    /// without the stability check. `rows`: where to save each lane's row, or `None`.
    /// `work`: scratch room, one entry per stock (the one-pass step keeps the old levels
    /// there). Returns the lanes (bit 0: `first`, bit 1: the next) whose flows or stocks were
    /// not finite.
    #[inline]
    pub fn euler_lane_pair(
        &self,
        slots: &mut [vm::Lanes],
        first: usize,
        time: f64,
        dt: f64,
        rows: Option<[&mut [std::mem::MaybeUninit<f64>]; 2]>,
        work: &mut [vm::Lanes],
    ) -> u32 {
        assert!(first + 1 < LANES);
        assert_eq!(slots.len(), self.slot_count, "a state of another program");
        assert_eq!(work.len(), self.stock_count, "one entry per stock");
        let mut pointers = [std::ptr::null_mut::<f64>(); 2];
        let rows = match rows {
            Some(rows) => {
                for (p, row) in pointers.iter_mut().zip(rows) {
                    assert!(row.len() >= self.column_count, "a row holds every column");
                    *p = row.as_mut_ptr() as *mut f64;
                }
                pointers.as_mut_ptr() as *mut f64
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: as `eval_lane_pair` for the slots; when `rows` is not null it points at two
        // row pointers with room for `column_count` values each; the code writes two values
        // per stock at `work` (16 bytes apart), which has four.
        let base = unsafe { (slots.as_mut_ptr() as *mut f64).add(first) };
        let work = work.as_mut_ptr() as *mut f64;
        (unsafe { (self.euler_lane_pairs)(base, time, dt, 0.0, rows, work) }) as u32
    }
}

/// Why native code could not be made (the interpreter is used instead).
#[derive(Debug)]
pub struct Unavailable(pub String);

/// Translate `program.flows` to machine code for this CPU.
pub fn compile(program: &Program, slot_count: usize) -> Result<NativeCode, Unavailable> {
    let started = std::time::Instant::now();
    let fail = |what: &str, e: &dyn std::fmt::Display| Unavailable(format!("{what}: {e}"));
    let mut flags = settings::builder();
    // No mid-end optimisation: the bytecode is already optimised (compile::optimize), and
    // Cranelift's e-graph pass sinks each value to its first use, which kept every value of
    // the step alive to the end and spilled them (care model, callgrind: 1.12 M instructions
    // per run in the generated code with "speed", 1.07 M with "none", and a third less
    // compile time).
    flags
        .set("opt_level", "none")
        .map_err(|e| fail("settings", &e))?;
    // The IR is made by this module from checked bytecode; tests/native.rs compares every
    // result with the interpreter's. The verifier would double the compile time.
    flags
        .set("enable_verifier", "false")
        .map_err(|e| fail("settings", &e))?;
    let isa = cranelift_native::builder()
        .map_err(|e| fail("this CPU", &e))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| fail("this CPU", &e))?;
    let mut builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    for (name, address) in helper_symbols() {
        builder.symbol(name, address);
    }
    let mut module = JITModule::new(builder);
    let tables: Box<[Table]> = program.tables.clone().into_boxed_slice();
    let table_addresses: Vec<i64> = tables.iter().map(|t| t as *const Table as i64).collect();
    let helpers = declare_helpers(&mut module)?;
    let mut maker = Maker {
        ctx: module.make_context(),
        module,
        fctx: FunctionBuilderContext::new(),
        program,
        slot_count,
        helpers,
        table_addresses,
    };

    // (name, bytes between slots, two lanes per call)
    let layouts = [
        ("flows_scalar", 8i64, false),
        ("flows_lane_pairs", 8 * LANES as i64, true),
    ];
    let mut ids: Vec<FuncId> = Vec::new();
    for (name, stride, pair) in layouts {
        let sig = step_signature(&maker.module);
        let id = maker.declare(name, sig)?;
        let target = maker.module.target_config();
        let mut t = maker.translator(stride, pair);
        t.function()?;
        t.b.finalize(target);
        maker.define(id)?;
        ids.push(id);
    }
    let euler_scalar = euler::define(&mut maker, "euler_scalar", 8, false)?;
    let euler_lane_pairs = euler::define(&mut maker, "euler_lane_pairs", 8 * LANES as i64, true)?;
    let euler_loop = if program.flows.len() <= euler::FUSED_LOOP_MAX_ASSIGNMENTS {
        euler::define_fused_loop(&mut maker, "euler_loop")?
    } else {
        euler::define_loop(&mut maker, "euler_loop", euler_scalar)?
    };
    let initial = initial::define(&mut maker, "initial")?;
    let mut module = maker.module;
    module
        .finalize_definitions()
        .map_err(|e| fail("finalize", &e))?;
    // SAFETY: the flows functions were defined with `step_signature`, which is `StepFn`'s
    // ABI, and the Euler functions with `euler::signature`, `EulerFn`'s.
    let (scalar, lane_pairs, euler_scalar, euler_lane_pairs, euler_loop) = unsafe {
        (
            std::mem::transmute::<*const u8, StepFn>(module.get_finalized_function(ids[0])),
            std::mem::transmute::<*const u8, StepFn>(module.get_finalized_function(ids[1])),
            std::mem::transmute::<*const u8, EulerFn>(module.get_finalized_function(euler_scalar)),
            std::mem::transmute::<*const u8, EulerFn>(
                module.get_finalized_function(euler_lane_pairs),
            ),
            std::mem::transmute::<*const u8, LoopFn>(module.get_finalized_function(euler_loop)),
        )
    };
    // SAFETY: defined with `InitialFn`'s signature (`initial::define`).
    let initial = initial.map(|id| unsafe {
        std::mem::transmute::<*const u8, InitialFn>(module.get_finalized_function(id))
    });
    Ok(NativeCode {
        initial,
        scalar,
        lane_pairs,
        euler_scalar,
        euler_lane_pairs,
        euler_loop,
        stock_count: program.stocks.len(),
        column_count: program.columns.len(),
        module: Some(module),
        _tables: tables,
        slot_count,
        compile_seconds: started.elapsed().as_secs_f64(),
    })
}

/// What every function of a program's native code is made with: the module, Cranelift's
/// reusable contexts, the program and what the code refers to.
struct Maker<'p> {
    module: JITModule,
    ctx: cranelift_codegen::Context,
    fctx: FunctionBuilderContext,
    program: &'p Program,
    slot_count: usize,
    helpers: Helpers,
    table_addresses: Vec<i64>,
}

impl<'p> Maker<'p> {
    /// Declare the local function `name` with `sig` and start building it in `ctx`.
    fn declare(&mut self, name: &str, sig: Signature) -> Result<FuncId, Unavailable> {
        let id = self
            .module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(|e| Unavailable(format!("declare {name}: {e}")))?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        Ok(id)
    }

    /// Compile the function built in `ctx` as `id`, and clear `ctx` for the next.
    fn define(&mut self, id: FuncId) -> Result<(), Unavailable> {
        let dump = std::env::var_os("CARESHIFT_DISASM").is_some();
        self.ctx.set_disasm(dump);
        self.module
            .define_function(id, &mut self.ctx)
            .map_err(|e| Unavailable(format!("code generation: {e}")))?;
        if dump && let Some(cc) = self.ctx.compiled_code() {
            eprintln!(
                "=== function {} ({} bytes) ===\n{}",
                id.as_u32(),
                cc.code_buffer().len(),
                cc.vcode.clone().unwrap_or_default()
            );
        }
        self.module.clear_context(&mut self.ctx);
        Ok(())
    }

    /// A translator building into `ctx` for the layout with `stride` bytes between slots,
    /// two lanes per value when `pair`.
    fn translator(&mut self, stride: i64, pair: bool) -> Translator<'_> {
        let b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        Translator::new(
            b,
            &mut self.module,
            &self.helpers,
            self.program,
            &self.table_addresses,
            self.slot_count,
            stride,
            pair,
        )
    }
}

fn step_signature(module: &JITModule) -> Signature {
    let mut sig = module.make_signature();
    sig.params
        .push(AbiParam::new(module.target_config().pointer_type()));
    sig.params.push(AbiParam::new(types::F64));
    sig.params.push(AbiParam::new(types::F64));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

// --- Rust functions the code calls (the interpreter's own, so the same bits) ---------------

extern "C" fn helper_f1(code: i64, x: f64) -> f64 {
    vm::f1(F1_ALL[code as usize], x)
}

extern "C" fn helper_f2(code: i64, a: f64, b: f64, time: f64, dt: f64) -> f64 {
    vm::f2(F2_ALL[code as usize], a, b, time, dt)
}

extern "C" fn helper_f3(code: i64, a: f64, b: f64, c: f64, time: f64, dt: f64) -> f64 {
    vm::f3(F3_ALL[code as usize], a, b, c, time, dt)
}

extern "C" fn helper_pow(a: f64, b: f64) -> f64 {
    a.powf(b)
}

extern "C" fn helper_pulse_train(s: f64, w: f64, i: f64, e: f64, time: f64, dt: f64) -> f64 {
    vm::pulse_train(s, w, i, e, time, dt)
}

extern "C" fn helper_lookup(table: *const Table, x: f64) -> f64 {
    // SAFETY: `table` is an address in `NativeCode::_tables`, alive while the code is.
    unsafe { &*table }.eval(x)
}

/// Every variant, indexed by `variant as usize` (checked by a test).
const F1_ALL: [F1; 14] = [
    F1::Abs,
    F1::Exp,
    F1::Ln,
    F1::Log10,
    F1::Sqrt,
    F1::Int,
    F1::Integer,
    F1::Round,
    F1::Sin,
    F1::Cos,
    F1::Tan,
    F1::Arcsin,
    F1::Arccos,
    F1::Arctan,
];
const F2_ALL: [F2; 8] = [
    F2::Min,
    F2::Max,
    F2::Modulo,
    F2::Remainder,
    F2::Zidz,
    F2::Step,
    F2::Ramp,
    F2::Pulse,
];
const F3_ALL: [F3; 3] = [F3::Xidz, F3::Ramp, F3::Pulse];

fn helper_symbols() -> [(&'static str, *const u8); 6] {
    [
        ("careshift_f1", helper_f1 as *const u8),
        ("careshift_f2", helper_f2 as *const u8),
        ("careshift_f3", helper_f3 as *const u8),
        ("careshift_pow", helper_pow as *const u8),
        ("careshift_pulse_train", helper_pulse_train as *const u8),
        ("careshift_lookup", helper_lookup as *const u8),
    ]
}

struct Helpers {
    f1: FuncId,
    f2: FuncId,
    f3: FuncId,
    pow: FuncId,
    pulse_train: FuncId,
    lookup: FuncId,
}

struct HelperRefs {
    f1: FuncRef,
    f2: FuncRef,
    f3: FuncRef,
    pow: FuncRef,
    pulse_train: FuncRef,
    lookup: FuncRef,
}

fn declare_helpers(module: &mut JITModule) -> Result<Helpers, Unavailable> {
    let pointer = module.target_config().pointer_type();
    let mut declare = |name: &str, ints: usize, floats: usize| {
        let mut sig = module.make_signature();
        for _ in 0..ints {
            sig.params
                .push(AbiParam::new(if name == "careshift_lookup" {
                    pointer
                } else {
                    types::I64
                }));
        }
        for _ in 0..floats {
            sig.params.push(AbiParam::new(types::F64));
        }
        sig.returns.push(AbiParam::new(types::F64));
        module
            .declare_function(name, Linkage::Import, &sig)
            .map_err(|e| Unavailable(format!("declare {name}: {e}")))
    };
    Ok(Helpers {
        f1: declare("careshift_f1", 1, 1)?,
        f2: declare("careshift_f2", 1, 4)?,
        f3: declare("careshift_f3", 1, 5)?,
        pow: declare("careshift_pow", 0, 2)?,
        pulse_train: declare("careshift_pulse_train", 0, 6)?,
        lookup: declare("careshift_lookup", 1, 1)?,
    })
}

impl Helpers {
    fn import(
        &self,
        module: &mut JITModule,
        func: &mut cranelift_codegen::ir::Function,
    ) -> HelperRefs {
        let mut get = |id| module.declare_func_in_func(id, func);
        HelperRefs {
            f1: get(self.f1),
            f2: get(self.f2),
            f3: get(self.f3),
            pow: get(self.pow),
            pulse_train: get(self.pulse_train),
            lookup: get(self.lookup),
        }
    }
}

/// How many assignments back a remembered value is reused. Longer keeps more values in
/// registers, which spill to the stack; measured on the care model (callgrind, instructions
/// per run): within the assignment only 3.10 M, 2 back 3.03 M, 4 back 3.005 M, 8 back 3.003 M,
/// 16 back 3.01 M, the whole step 3.03 M.
const REMEMBER_ASSIGNMENTS: usize = 8;

// --- Translation ---------------------------------------------------------------------------

struct Translator<'a> {
    b: FunctionBuilder<'a>,
    p: &'a Program,
    /// Bytes between consecutive slots.
    stride: i64,
    slot_count: usize,
    refs: HelperRefs,
    table_addresses: &'a [i64],
    slots: Value,
    /// TIME and DT as operands (one per lane in the pair layout).
    time: Value,
    dt: Value,
    /// TIME and DT as the scalar arguments of the helper functions.
    time_arg: Value,
    dt_arg: Value,
    /// Two lanes at once (`F64X2` values): the pair layout.
    pair: bool,
    /// The type of an operand: `F64`, or `F64X2` for the pair layout.
    ty: Type,
    /// The value of each slot as last loaded or stored in straight-line code (which
    /// dominates everything after it), and the assignment that made it, so that a slot
    /// read again within a few assignments is not read from memory again.
    known: Vec<Option<(Value, usize)>>,
    /// Index of the assignment being translated.
    assignment: usize,
    /// How many assignments back a remembered value is reused ([`REMEMBER_ASSIGNMENTS`];
    /// 0: within the assignment only).
    reuse_window: usize,
    /// False inside an assignment with an IF: values made in a branch do not dominate the
    /// code after it, so they are not remembered.
    remember: bool,
    /// Constants and arithmetic made by the last few assignments, reused as `known` is.
    memo: Memo,
}

/// Values made in straight-line code that a later assignment may reuse (within the same
/// window as [`Translator::known`]): each constant (materialising one takes two
/// instructions), and each `+ − × ÷` of two values (`1 − progression_slowdown` is computed
/// once for the twelve transitions of the care model's frailty module that read it).
#[derive(Clone, Default)]
struct Memo {
    consts: HashMap<u64, (Value, usize)>,
    arith: HashMap<(u8, Value, Value), (Value, usize)>,
}

const ADD: u8 = 0;
const SUB: u8 = 1;
const MUL: u8 = 2;
const DIV: u8 = 3;

impl<'a> Translator<'a> {
    /// A translator that builds into `b` (a function of `module`) for the layout with
    /// `stride` bytes between slots, two lanes per value when `pair`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        b: FunctionBuilder<'a>,
        module: &mut JITModule,
        helpers: &Helpers,
        p: &'a Program,
        table_addresses: &'a [i64],
        slot_count: usize,
        stride: i64,
        pair: bool,
    ) -> Translator<'a> {
        let refs = helpers.import(module, b.func);
        Translator {
            b,
            p,
            stride,
            slot_count,
            refs,
            table_addresses,
            slots: Value::from_u32(0),
            time: Value::from_u32(0),
            dt: Value::from_u32(0),
            time_arg: Value::from_u32(0),
            dt_arg: Value::from_u32(0),
            pair,
            ty: if pair { types::F64X2 } else { types::F64 },
            known: vec![None; slot_count],
            assignment: 0,
            reuse_window: REMEMBER_ASSIGNMENTS,
            remember: true,
            memo: Memo::default(),
        }
    }

    /// The flows function: `fn(slots, time, dt) -> lanes that were not finite`.
    fn function(&mut self) -> Result<(), Unavailable> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        self.set_arguments(params[0], params[1], params[2]);
        let sum = self.assignments()?;
        let result = self.lanes_not_finite(sum);
        self.b.ins().return_(&[result]);
        self.b.seal_all_blocks();
        Ok(())
    }

    /// The slots pointer, TIME and DT the code works with.
    fn set_arguments(&mut self, slots: Value, time: Value, dt: Value) {
        (self.slots, self.time_arg, self.dt_arg) = (slots, time, dt);
        (self.time, self.dt) = if self.pair {
            (
                self.b.ins().splat(types::F64X2, self.time_arg),
                self.b.ins().splat(types::F64X2, self.dt_arg),
            )
        } else {
            (self.time_arg, self.dt_arg)
        };
    }

    /// Every assignment of `Program::flows`, in order, each stored to its slot. Returns the
    /// sum of their values (per lane): finite when every value was (see
    /// [`Translator::lanes_not_finite`]).
    fn assignments(&mut self) -> Result<Value, Unavailable> {
        self.assignments_where(|_| true)
    }

    /// [`Translator::assignments`] for the assignments whose index in `Program::flows`
    /// satisfies `include`, in order.
    fn assignments_where(&mut self, include: impl Fn(usize) -> bool) -> Result<Value, Unavailable> {
        self.assignments_checked(include, &[])
    }

    /// [`Translator::assignments_where`], where the slots flagged in `checked_later` are
    /// checked for being finite by the caller, after these assignments and before anything
    /// else changes (the Euler step checks its stocks' net rates, which every attached flow
    /// reaches): a value that one of them, or a later included assignment, reads
    /// transparently ([`transparent_reads`]) is not checked itself.
    fn assignments_checked(
        &mut self,
        include: impl Fn(usize) -> bool,
        checked_later: &[bool],
    ) -> Result<Value, Unavailable> {
        let included: Vec<bool> = (0..self.p.flows.len()).map(&include).collect();
        let covered = covered_by_later(self.p, &included, checked_later);
        // Finite check without a branch per assignment: the values are summed, and a sum
        // is finite unless some value is not (NaN and ±∞ survive every addition, `∞ − ∞`
        // is NaN) or the finite values overflow it. That last case is a false alarm only:
        // the caller finishes the step in Rust, which finds nothing to report and goes on.
        // Four sums, so that they are not one long chain of dependent additions.
        let zero = self.num(0.0);
        let mut sums = [zero; 4];
        let mut checked = 0;
        for (i, a) in self
            .p
            .flows
            .iter()
            .enumerate()
            .filter(|&(i, _)| included[i])
        {
            self.assignment = i;
            let v = self.assignment(a)?;
            self.store(a.slot, v)?;
            if !covered[i] {
                sums[checked % 4] = self.b.ins().fadd(sums[checked % 4], v);
                checked += 1;
            }
        }
        let low = self.b.ins().fadd(sums[0], sums[1]);
        let high = self.b.ins().fadd(sums[2], sums[3]);
        Ok(self.b.ins().fadd(low, high))
    }

    /// An i32 with bit l set when lane l of `sum` (from [`Translator::assignments`]) is not
    /// finite.
    fn lanes_not_finite(&mut self, sum: Value) -> Value {
        // +0 where the sum is finite, NaN elsewhere.
        let sum = self.b.ins().fsub(sum, sum);
        if !self.pair {
            let bad = self.b.ins().fcmp(FloatCC::Unordered, sum, sum);
            return self.b.ins().uextend(types::I32, bad);
        }
        let lanes: Vec<Value> = (0..2).map(|l| self.b.ins().extractlane(sum, l)).collect();
        let mut result = self.b.ins().iconst(types::I32, 0);
        for (l, lane) in lanes.into_iter().enumerate() {
            let bad = self.b.ins().fcmp(FloatCC::Unordered, lane, lane);
            let bad = self.b.ins().uextend(types::I32, bad);
            let bit = self.b.ins().ishl_imm_u(bad, l as i64);
            result = self.b.ins().bor(result, bit);
        }
        result
    }

    fn offset(&self, slot: u32) -> Result<i32, Unavailable> {
        slot_offset(slot, self.stride, self.slot_count)
    }

    fn load(&mut self, slot: u32) -> Result<Value, Unavailable> {
        let offset = self.offset(slot)?;
        if let Some((v, made)) = self.known[slot as usize]
            && self.recent(made)
        {
            return Ok(v);
        }
        let (ty, flags) = (self.ty, self.mem_flags());
        let v = self.b.ins().load(ty, flags, self.slots, offset);
        if self.remember {
            self.known[slot as usize] = Some((v, self.assignment));
        }
        Ok(v)
    }

    fn store(&mut self, slot: u32, v: Value) -> Result<(), Unavailable> {
        let offset = self.offset(slot)?;
        let flags = self.mem_flags();
        self.b.ins().store(flags, v, self.slots, offset);
        // An assignment's value is made at its end, in code every later op passes through.
        self.known[slot as usize] = Some((v, self.assignment));
        Ok(())
    }

    /// A lane pair is 16 bytes at an 8-byte boundary: not aligned for a vector access.
    fn mem_flags(&self) -> MemFlagsData {
        if self.pair {
            MemFlagsData::new().with_notrap()
        } else {
            MemFlagsData::trusted()
        }
    }

    /// Whether a value made by assignment `made` may be reused by the current one.
    fn recent(&self, made: usize) -> bool {
        made <= self.assignment && self.assignment - made <= self.reuse_window
    }

    fn num(&mut self, x: f64) -> Value {
        if let Some(&(v, made)) = self.memo.consts.get(&x.to_bits())
            && self.recent(made)
        {
            return v;
        }
        let v = self.b.ins().f64const(x);
        let v = if self.pair {
            self.b.ins().splat(types::F64X2, v)
        } else {
            v
        };
        if self.remember {
            self.memo.consts.insert(x.to_bits(), (v, self.assignment));
        }
        v
    }

    /// `x + y`, `x − y`, `x × y` or `x ÷ y` (`kind` [`ADD`]...), reusing the same operation
    /// on the same values made recently.
    fn arith(&mut self, kind: u8, x: Value, y: Value) -> Value {
        if let Some(&(v, made)) = self.memo.arith.get(&(kind, x, y))
            && self.recent(made)
        {
            return v;
        }
        let v = match kind {
            ADD => self.b.ins().fadd(x, y),
            SUB => self.b.ins().fsub(x, y),
            MUL => self.b.ins().fmul(x, y),
            _ => self.b.ins().fdiv(x, y),
        };
        if self.remember {
            self.memo.arith.insert((kind, x, y), (v, self.assignment));
        }
        v
    }

    /// Call helper `f` with `before` (scalars), `operands` (one value per lane) and
    /// `after` (scalars): once, or once per lane for a pair.
    fn call(&mut self, f: FuncRef, before: &[Value], operands: &[Value], after: &[Value]) -> Value {
        if !self.pair {
            let args: Vec<Value> = before
                .iter()
                .chain(operands)
                .chain(after)
                .copied()
                .collect();
            let call = self.b.ins().call(f, &args);
            return self.b.inst_results(call)[0];
        }
        let mut result = None;
        for l in 0..2u8 {
            let mut args = before.to_vec();
            for &v in operands {
                args.push(self.b.ins().extractlane(v, l));
            }
            args.extend_from_slice(after);
            let call = self.b.ins().call(f, &args);
            let r = self.b.inst_results(call)[0];
            result = Some(match result {
                None => self.b.ins().scalar_to_vector(types::F64X2, r),
                Some(v) => self.b.ins().insertlane(v, r, l),
            });
        }
        result.expect("two lanes")
    }

    fn code(&mut self, code: usize) -> Value {
        self.b.ins().iconst(types::I64, code as i64)
    }

    /// 1.0 when condition `c` (of `fcmp`) holds, else 0.0.
    fn bool_f(&mut self, c: Value) -> Value {
        let (one, zero) = (self.num(1.0), self.num(0.0));
        self.choose(c, one, zero)
    }

    /// `yes` where condition `c` (of `fcmp`: an i8, or a lane mask for a pair) holds, else
    /// `no`.
    fn choose(&mut self, c: Value, yes: Value, no: Value) -> Value {
        if self.pair {
            let mask = self.b.ins().bitcast(types::F64X2, MemFlagsData::new(), c);
            self.b.ins().bitselect(mask, yes, no)
        } else {
            self.b.ins().select(c, yes, no)
        }
    }

    /// Translate one assignment's ops (a stack program with forward jumps for IF) into SSA
    /// values; returns the value it assigns. A jump target becomes a block whose parameters
    /// are the operand stack at that point.
    fn assignment(&mut self, a: &Assign) -> Result<Value, Unavailable> {
        let (start, end) = (a.start as usize, a.end as usize);
        self.remember = !self.p.ops[start..end]
            .iter()
            .any(|op| matches!(op, Op::JumpIfFalse(_) | Op::Jump(_)));
        let mut targets: Vec<(usize, Block)> = Vec::new();
        let mut stack: Vec<Value> = Vec::new();
        let mut reachable = true;
        // The pair layout evaluates both branches of an IF and chooses per lane (the lanes
        // may disagree), as the interpreter's batches do: the IFs open here.
        let mut ifs: Vec<IfFrame> = Vec::new();
        let bad = || Unavailable("malformed code".into());
        for pc in start..=end {
            while let Some(frame) = ifs.last()
                && frame.join == Some(pc)
            {
                let otherwise = stack.pop().ok_or_else(bad)?;
                let (mask, then) = (frame.mask, frame.then_value.ok_or_else(bad)?);
                ifs.pop();
                let v = self.choose(mask, then, otherwise);
                stack.push(v);
            }
            if let Some(&(_, block)) = targets.iter().find(|(t, _)| *t == pc) {
                if reachable {
                    self.b.ins().jump(block, &as_args(&stack));
                }
                self.b.switch_to_block(block);
                stack = self.b.block_params(block).to_vec();
                reachable = true;
            }
            if pc == end {
                break;
            }
            if !reachable {
                return Err(bad());
            }
            let op = self.p.ops[pc];
            macro_rules! pop {
                () => {
                    stack.pop().ok_or_else(bad)?
                };
            }
            macro_rules! top {
                () => {
                    *stack.last().ok_or_else(bad)?
                };
            }
            macro_rules! set_top {
                ($v:expr) => {{
                    let v = $v;
                    *stack.last_mut().ok_or_else(bad)? = v;
                }};
            }
            match op {
                Op::JumpIfFalse(target) | Op::Jump(target) if self.pair => {
                    let target = target as usize;
                    if target <= pc || target > end {
                        return Err(bad());
                    }
                    if let Op::JumpIfFalse(_) = op {
                        let c = pop!();
                        let zero = self.num(0.0);
                        // The then-branch is taken unless c == 0 (NaN takes it too).
                        let mask = self.b.ins().fcmp(FloatCC::NotEqual, c, zero);
                        ifs.push(IfFrame {
                            mask,
                            else_start: target,
                            then_value: None,
                            join: None,
                        });
                    } else {
                        // The end of the innermost IF's then-branch, just before its else.
                        let then_value = pop!();
                        let frame = ifs.last_mut().ok_or_else(bad)?;
                        if frame.join.is_some() || frame.else_start != pc + 1 {
                            return Err(bad());
                        }
                        frame.then_value = Some(then_value);
                        frame.join = Some(target);
                    }
                }
                Op::JumpIfFalse(target) | Op::Jump(target) => {
                    let target = target as usize;
                    if target <= pc || target > end {
                        return Err(bad());
                    }
                    let condition = if matches!(op, Op::JumpIfFalse(_)) {
                        Some(pop!())
                    } else {
                        None
                    };
                    let block = match targets.iter().find(|(t, _)| *t == target) {
                        Some(&(_, block)) => block,
                        None => {
                            let block = self.b.create_block();
                            for _ in 0..stack.len() {
                                self.b.append_block_param(block, types::F64);
                            }
                            targets.push((target, block));
                            block
                        }
                    };
                    if self.b.block_params(block).len() != stack.len() {
                        return Err(bad());
                    }
                    let args = as_args(&stack);
                    match condition {
                        Some(c) => {
                            let zero = self.num(0.0);
                            let is_false = self.b.ins().fcmp(FloatCC::Equal, c, zero);
                            let then = self.b.create_block();
                            self.b.ins().brif(is_false, block, &args, then, &[]);
                            self.b.switch_to_block(then);
                        }
                        None => {
                            self.b.ins().jump(block, &args);
                            reachable = false;
                        }
                    }
                }
                Op::Num(x) => {
                    let v = self.num(x);
                    stack.push(v)
                }
                Op::Load(s) => {
                    let v = self.load(s)?;
                    stack.push(v)
                }
                Op::Time => stack.push(self.time),
                Op::Dt => stack.push(self.dt),
                Op::AddLoad(s) | Op::SubLoad(s) | Op::MulLoad(s) | Op::DivLoad(s, _) => {
                    let x = self.load(s)?;
                    let t = top!();
                    let v = match op {
                        Op::AddLoad(_) => self.arith(ADD, t, x),
                        Op::SubLoad(_) => self.arith(SUB, t, x),
                        Op::MulLoad(_) => self.arith(MUL, t, x),
                        _ => self.arith(DIV, t, x),
                    };
                    set_top!(v)
                }
                Op::AddNum(n) | Op::SubNum(n) | Op::MulNum(n) | Op::DivNum(n) => {
                    let x = self.num(n);
                    let t = top!();
                    let v = match op {
                        Op::AddNum(_) => self.arith(ADD, t, x),
                        Op::SubNum(_) => self.arith(SUB, t, x),
                        Op::MulNum(_) => self.arith(MUL, t, x),
                        _ => self.arith(DIV, t, x),
                    };
                    set_top!(v)
                }
                Op::MulLoads(x, y) => {
                    let (x, y) = (self.load(x)?, self.load(y)?);
                    let v = self.arith(MUL, x, y);
                    stack.push(v)
                }
                Op::AddMulLoads(x, y) | Op::SubMulLoads(x, y) => {
                    let (x, y) = (self.load(x)?, self.load(y)?);
                    let product = self.arith(MUL, x, y);
                    let t = top!();
                    let v = if matches!(op, Op::AddMulLoads(..)) {
                        self.arith(ADD, t, product)
                    } else {
                        self.arith(SUB, t, product)
                    };
                    set_top!(v)
                }
                Op::Neg => {
                    let t = top!();
                    set_top!(self.b.ins().fneg(t))
                }
                Op::Not => {
                    let t = top!();
                    let zero = self.num(0.0);
                    let c = self.b.ins().fcmp(FloatCC::Equal, t, zero);
                    set_top!(self.bool_f(c))
                }
                Op::F1(F1::Abs) => {
                    let t = top!();
                    set_top!(self.b.ins().fabs(t))
                }
                Op::F1(F1::Sqrt) => {
                    let t = top!();
                    set_top!(self.b.ins().sqrt(t))
                }
                Op::F1(f) => {
                    let t = top!();
                    let code = self.code(f as usize);
                    set_top!(self.call(self.refs.f1, &[code], &[t], &[]))
                }
                Op::Lookup(table) => {
                    let address = *self.table_addresses.get(table as usize).ok_or_else(bad)?;
                    let t = top!();
                    let pointer = self.b.ins().iconst(types::I64, address);
                    set_top!(self.call(self.refs.lookup, &[pointer], &[t], &[]))
                }
                Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div(_)
                | Op::Pow
                | Op::Eq
                | Op::Ne
                | Op::Lt
                | Op::Le
                | Op::Gt
                | Op::Ge
                | Op::And
                | Op::Or
                | Op::F2(_) => {
                    let y = pop!();
                    let x = pop!();
                    let v = self.binary(op, x, y);
                    stack.push(v)
                }
                Op::F3(f) => {
                    let c = pop!();
                    let y = pop!();
                    let x = pop!();
                    let v = if f == F3::Xidz {
                        self.divide_unless_zero(x, y, c)
                    } else {
                        let code = self.code(f as usize);
                        let (time, dt) = (self.time_arg, self.dt_arg);
                        self.call(self.refs.f3, &[code], &[x, y, c], &[time, dt])
                    };
                    stack.push(v)
                }
                Op::PulseTrain => {
                    let end_time = pop!();
                    let interval = pop!();
                    let width = pop!();
                    let start_time = pop!();
                    let (time, dt) = (self.time_arg, self.dt_arg);
                    let v = self.call(
                        self.refs.pulse_train,
                        &[],
                        &[start_time, width, interval, end_time],
                        &[time, dt],
                    );
                    stack.push(v)
                }
            }
        }
        if !ifs.is_empty() {
            return Err(bad());
        }
        match stack.as_slice() {
            [v] => Ok(*v),
            _ => Err(bad()),
        }
    }

    /// `vm::min` (`cc` less than) or `vm::max` (greater than): `y` when `y cc x` or `x` is
    /// NaN, else `x`.
    fn min_max(&mut self, cc: FloatCC, x: Value, y: Value) -> Value {
        let better = self.b.ins().fcmp(cc, y, x);
        let x_nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        let take_y = self.b.ins().bor(better, x_nan);
        self.choose(take_y, y, x)
    }

    /// `x / y`, or `otherwise` where `y` is 0 (ZIDZ, XIDZ).
    fn divide_unless_zero(&mut self, x: Value, y: Value, otherwise: Value) -> Value {
        let zero = self.num(0.0);
        let y_zero = self.b.ins().fcmp(FloatCC::Equal, y, zero);
        let quotient = self.arith(DIV, x, y);
        self.choose(y_zero, otherwise, quotient)
    }

    fn binary(&mut self, op: Op, x: Value, y: Value) -> Value {
        let compare = |cc| Some(cc);
        let cc = match op {
            Op::Eq => compare(FloatCC::Equal),
            Op::Ne => compare(FloatCC::NotEqual),
            Op::Lt => compare(FloatCC::LessThan),
            Op::Le => compare(FloatCC::LessThanOrEqual),
            Op::Gt => compare(FloatCC::GreaterThan),
            Op::Ge => compare(FloatCC::GreaterThanOrEqual),
            _ => None,
        };
        if let Some(cc) = cc {
            let c = self.b.ins().fcmp(cc, x, y);
            return self.bool_f(c);
        }
        match op {
            Op::Add => self.arith(ADD, x, y),
            Op::Sub => self.arith(SUB, x, y),
            Op::Mul => self.arith(MUL, x, y),
            Op::Div(_) => self.arith(DIV, x, y),
            Op::Pow => self.call(self.refs.pow, &[], &[x, y], &[]),
            Op::And | Op::Or => {
                let zero = self.num(0.0);
                let a = self.b.ins().fcmp(FloatCC::NotEqual, x, zero);
                let b = self.b.ins().fcmp(FloatCC::NotEqual, y, zero);
                let c = if matches!(op, Op::And) {
                    self.b.ins().band(a, b)
                } else {
                    self.b.ins().bor(a, b)
                };
                self.bool_f(c)
            }
            // Inline, as `vm::min` / `vm::max` / `vm::f2` define them: a call would spill
            // every live register (all are caller-saved).
            Op::F2(F2::Min) => self.min_max(FloatCC::LessThan, x, y),
            Op::F2(F2::Max) => self.min_max(FloatCC::GreaterThan, x, y),
            Op::F2(F2::Zidz) => {
                let zero = self.num(0.0);
                self.divide_unless_zero(x, y, zero)
            }
            Op::F2(f) => {
                let code = self.code(f as usize);
                let (time, dt) = (self.time_arg, self.dt_arg);
                self.call(self.refs.f2, &[code], &[x, y], &[time, dt])
            }
            _ => unreachable!("binary() is called with binary ops only"),
        }
    }
}

/// The slots whose value, were it not finite, would make the value of `code` (one
/// assignment's ops) not finite: those read through `+ − ×`, unary minus and the numerator of
/// `÷` only (∞ and NaN survive them: `∞ × 0` and `∞ − ∞` are NaN). Not through a divisor
/// (`x / ∞` is 0), a function (MIN, EXP...), a comparison or an IF: an assignment with an IF
/// reads nothing transparently.
fn transparent_reads(code: &[Op]) -> Vec<u32> {
    let mut stack: Vec<Vec<u32>> = Vec::new();
    for &op in code {
        let top = |stack: &mut Vec<Vec<u32>>| stack.pop().unwrap_or_default();
        match op {
            Op::JumpIfFalse(_) | Op::Jump(_) => return Vec::new(),
            Op::Num(_) | Op::Time | Op::Dt => stack.push(Vec::new()),
            Op::Load(s) => stack.push(vec![s]),
            Op::MulLoads(a, b) => stack.push(vec![a, b]),
            Op::Neg | Op::AddNum(_) | Op::SubNum(_) | Op::MulNum(_) | Op::DivNum(_) => {}
            Op::DivLoad(..) => {}
            Op::AddLoad(s) | Op::SubLoad(s) | Op::MulLoad(s) => {
                if let Some(t) = stack.last_mut() {
                    t.push(s);
                }
            }
            Op::AddMulLoads(a, b) | Op::SubMulLoads(a, b) => {
                if let Some(t) = stack.last_mut() {
                    t.extend([a, b]);
                }
            }
            Op::Add | Op::Sub | Op::Mul => {
                let y = top(&mut stack);
                let mut x = top(&mut stack);
                x.extend(y);
                stack.push(x);
            }
            Op::Div(_) => {
                top(&mut stack);
            }
            Op::Not | Op::F1(_) | Op::Lookup(_) => {
                top(&mut stack);
                stack.push(Vec::new());
            }
            Op::Pow
            | Op::Eq
            | Op::Ne
            | Op::Lt
            | Op::Le
            | Op::Gt
            | Op::Ge
            | Op::And
            | Op::Or
            | Op::F2(_) => {
                top(&mut stack);
                top(&mut stack);
                stack.push(Vec::new());
            }
            Op::F3(_) => {
                for _ in 0..3 {
                    top(&mut stack);
                }
                stack.push(Vec::new());
            }
            Op::PulseTrain => {
                for _ in 0..4 {
                    top(&mut stack);
                }
                stack.push(Vec::new());
            }
        }
    }
    stack.pop().unwrap_or_default()
}

/// Per assignment of `Program::flows`: whether its value need not be checked for being
/// finite, because an included assignment after it, or a slot flagged in `checked_later`,
/// reads it transparently ([`transparent_reads`]): were it not finite, that value would not
/// be either, and is checked (or is itself covered, down a chain that ends at a checked
/// value). Only included assignments are considered, on either side.
fn covered_by_later(p: &Program, included: &[bool], checked_later: &[bool]) -> Vec<bool> {
    let mut reaches_check = vec![false; p.defaults.len()];
    for (s, &c) in checked_later.iter().enumerate() {
        reaches_check[s] |= c;
    }
    let mut covered = vec![false; p.flows.len()];
    for (i, a) in p
        .flows
        .iter()
        .enumerate()
        .rev()
        .filter(|&(i, _)| included[i])
    {
        covered[i] = reaches_check[a.slot as usize];
        // Checked or covered, this value's non-finiteness is seen: so is that of what it
        // reads transparently.
        for s in transparent_reads(&p.ops[a.start as usize..a.end as usize]) {
            reaches_check[s as usize] = true;
        }
    }
    covered
}

/// The byte offset of `slot` for a layout with `stride` bytes between slots; an error for a
/// slot outside the program's `slot_count` (the code must not touch memory beyond it).
fn slot_offset(slot: u32, stride: i64, slot_count: usize) -> Result<i32, Unavailable> {
    if slot as usize >= slot_count {
        return Err(Unavailable(format!("slot {slot} out of range")));
    }
    i32::try_from(slot as i64 * stride)
        .map_err(|_| Unavailable("too many slots for native code".into()))
}

/// An IF being translated in the pair layout.
struct IfFrame {
    /// Lanes that take the then-branch.
    mask: Value,
    /// Op index where the else-branch starts.
    else_start: usize,
    /// The then-branch's value, once translated.
    then_value: Option<Value>,
    /// Op index after the else-branch, once known.
    join: Option<usize>,
}

fn as_args(values: &[Value]) -> Vec<cranelift_codegen::ir::BlockArg> {
    values.iter().map(|&v| v.into()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_tables_follow_declaration_order() {
        for (i, f) in F1_ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
        for (i, f) in F2_ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
        for (i, f) in F3_ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
    }
}
