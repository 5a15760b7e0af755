//! Evaluation order: a topological sort of the assignments, per phase, and the full cycle when
//! there is an algebraic loop.
//!
//! Nodes are array *elements*, so `x[2] = x[1] * 2` is not a loop. In the per-step phase, stocks,
//! constants, INIT values and PREVIOUS values are sources (they are not recomputed); in the
//! initial phase stocks and INIT/PREVIOUS values are defined by their initial equations.

use super::{Builder, SlotKind};
use crate::diagnostics::Diagnostic;

/// Node numbering: `0..runtime.len()` are per-step assignments, the rest are initial-only.
pub(crate) struct Orders {
    /// Indices into `Builder::runtime`, in evaluation order.
    pub runtime: Vec<usize>,
    /// Node indices (see above) for the initial phase.
    pub initial: Vec<usize>,
}

pub(crate) fn order(b: &Builder) -> Result<Orders, Diagnostic> {
    check_constant_equations(b)?;
    let n_runtime = b.runtime.len();
    let mut writer: Vec<Option<usize>> = vec![None; b.slots.len()];
    for (i, a) in b.runtime.iter().enumerate() {
        writer[a.slot as usize] = Some(i);
    }
    let mut init_writer = writer.clone();
    for (i, a) in b.init_only.iter().enumerate() {
        init_writer[a.slot as usize] = Some(n_runtime + i);
    }
    let reads = |node: usize| -> Vec<u32> {
        let ir = if node < n_runtime {
            &b.runtime[node].ir
        } else {
            &b.init_only[node - n_runtime].ir
        };
        let mut out = Vec::new();
        ir.slots(&mut out);
        out
    };
    let runtime = toposort(n_runtime, |n| {
        reads(n)
            .iter()
            .filter_map(|&s| writer[s as usize])
            .collect()
    })
    .map_err(|cycle| cycle_error(b, &cycle, false))?;
    let initial = toposort(n_runtime + b.init_only.len(), |n| {
        reads(n)
            .iter()
            .filter_map(|&s| init_writer[s as usize])
            .collect()
    })
    .map_err(|cycle| cycle_error(b, &cycle, true))?;
    Ok(Orders { runtime, initial })
}

/// Constants are computed once, before the run: they may only depend on other constants.
fn check_constant_equations(b: &Builder) -> Result<(), Diagnostic> {
    for a in &b.init_only {
        if b.slots[a.slot as usize].kind != SlotKind::Constant {
            continue;
        }
        let mut reads = Vec::new();
        a.ir.slots(&mut reads);
        if let Some(&bad) = reads
            .iter()
            .find(|&&s| b.slots[s as usize].kind != SlotKind::Constant)
        {
            let name = &b.slots[a.slot as usize].name;
            let other = &b.slots[bad as usize].name;
            return Err(Diagnostic::error(format!(
                "constant `{name}` depends on `{other}`, which changes during the run"
            ))
            .at(a.loc)
            .help(format!(
                "declare `{name}` under [auxiliaries], or use INIT({other}) for its initial value"
            )));
        }
    }
    Ok(())
}

/// Depth-first topological sort. Err carries one cycle (first node repeated at the end).
fn toposort(n: usize, deps: impl Fn(usize) -> Vec<usize>) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Explicit stack of (node, its deps, next dep index): no recursion, so deep chains
        // (long ageing chains) cannot overflow the call stack.
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(root, deps(root), 0)];
        mark[root] = Mark::Active;
        while let Some((node, node_deps, next)) = stack.last_mut() {
            if let Some(&d) = node_deps.get(*next) {
                *next += 1;
                match mark[d] {
                    Mark::Done => {}
                    Mark::Active => {
                        let start = stack.iter().position(|(x, _, _)| *x == d).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|(x, _, _)| *x).collect();
                        cycle.push(d);
                        return Err(cycle);
                    }
                    Mark::New => {
                        mark[d] = Mark::Active;
                        let dd = deps(d);
                        stack.push((d, dd, 0));
                    }
                }
            } else {
                mark[*node] = Mark::Done;
                order.push(*node);
                stack.pop();
            }
        }
    }
    Ok(order)
}

fn cycle_error(b: &Builder, cycle: &[usize], initial: bool) -> Diagnostic {
    let n_runtime = b.runtime.len();
    let assignment = |node: usize| {
        if node < n_runtime {
            &b.runtime[node]
        } else {
            &b.init_only[node - n_runtime]
        }
    };
    // The cycle lists each node followed by what it depends on; show it in the direction of
    // influence (a -> b means a is used by b).
    let names: Vec<&str> = cycle
        .iter()
        .rev()
        .map(|&n| b.slots[assignment(n).slot as usize].name.as_str())
        .collect();
    let mut d = Diagnostic::error(format!(
        "algebraic loop{}: {}",
        if initial {
            " in the initial values"
        } else {
            ""
        },
        names.join(" -> ")
    ))
    .at(assignment(cycle[0]).loc);
    for &n in cycle.iter().rev().skip(1) {
        let a = assignment(n);
        d = d.note(
            format!("`{}` is defined here", b.slots[a.slot as usize].name),
            Some(a.loc),
        );
    }
    let has_previous = cycle
        .iter()
        .any(|&n| b.slots[assignment(n).slot as usize].kind == SlotKind::Previous);
    if has_previous {
        d.help("give PREVIOUS an explicit initial value, e.g. PREVIOUS(x, 0)")
    } else if initial {
        d.help("a stock's initial value cannot depend on itself; give one of them a number or an equation in constants")
    } else {
        d.help("every feedback loop needs a stock (or SMOOTH, DELAY or PREVIOUS) to break it; make one of these a stock")
    }
}
