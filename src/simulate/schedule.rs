//! Time-varying constants: the mechanism behind scenario interventions ("budget £2m/y from
//! 2026, ramping to £5m/y by 2028").
//!
//! A [`Schedule`] replaces a constant's value by a function of time. Before its first point the
//! constant keeps the value it would otherwise have (model default or override); after its last
//! point it holds the last value. Constants whose equations depend on a scheduled constant are
//! recomputed at every evaluation, in dependency order.

use crate::vm::{Assign, Program};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Hold each value until the next point.
    Step,
    /// Straight lines between points.
    Linear,
}

/// A constant element driven by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub slot: u32,
    /// (time, value) points, times strictly increasing.
    pub points: Vec<(f64, f64)>,
    pub interpolation: Interpolation,
}

impl Schedule {
    /// The value at time `t`, given the constant's value without the schedule.
    pub fn value(&self, t: f64, base: f64) -> f64 {
        self.value_at(t).unwrap_or(base)
    }

    /// The scheduled value at time `t`; `None` before the first point (or with no points),
    /// where the constant keeps its own value. The same for every run: a batch evaluates it
    /// once per step for all its lanes.
    pub fn value_at(&self, t: f64) -> Option<f64> {
        let pts = &self.points;
        let &(t0, _) = pts.first()?;
        // Tolerance: times are computed as start + k·dt, so allow for round-off.
        let eps = 1e-9 * t.abs().max(1.0);
        if t < t0 - eps {
            return None;
        }
        let i = pts.partition_point(|&(pt, _)| pt <= t + eps);
        let (ta, va) = pts[i - 1];
        Some(match (self.interpolation, pts.get(i)) {
            (Interpolation::Linear, Some(&(tb, vb))) => {
                va + (vb - va) * ((t - ta) / (tb - ta)).clamp(0.0, 1.0)
            }
            _ => va,
        })
    }
}

/// Schedules plus the constant equations that must be recomputed when they change.
#[derive(Debug, Clone, Default)]
pub struct ScheduleSet {
    pub schedules: Vec<Schedule>,
    /// Initial-phase assignments of constants (and hoisted auxiliaries, which only read
    /// constants) downstream of a scheduled slot, in order.
    pub dependents: Vec<Assign>,
}

impl ScheduleSet {
    pub fn new(program: &Program, schedules: Vec<Schedule>) -> ScheduleSet {
        let constant: Vec<bool> = {
            let mut c = vec![false; program.defaults.len()];
            for p in &program.params {
                c[p.slot as usize] = true;
            }
            for &slot in &program.hoisted {
                c[slot as usize] = true;
            }
            c
        };
        let mut dirty = vec![false; program.defaults.len()];
        for s in &schedules {
            dirty[s.slot as usize] = true;
        }
        let mut dependents = Vec::new();
        for a in &program.initial {
            if !constant[a.slot as usize] || dirty[a.slot as usize] {
                continue;
            }
            let reads_dirty = program.ops[a.start as usize..a.end as usize]
                .iter()
                .flat_map(|op| op.slots_read())
                .any(|s| dirty[s as usize]);
            if reads_dirty {
                dirty[a.slot as usize] = true;
                dependents.push(*a);
            }
        }
        ScheduleSet {
            schedules,
            dependents,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ramp_and_piecewise_values() {
        let step = Schedule {
            slot: 0,
            points: vec![(2026.0, 2.0)],
            interpolation: Interpolation::Step,
        };
        assert_eq!(step.value(2025.75, 1.0), 1.0);
        assert_eq!(step.value(2026.0, 1.0), 2.0);
        assert_eq!(step.value(2040.0, 1.0), 2.0);
        let ramp = Schedule {
            slot: 0,
            points: vec![(2026.0, 2.0), (2028.0, 5.0)],
            interpolation: Interpolation::Linear,
        };
        assert_eq!(ramp.value(2025.0, 0.0), 0.0);
        assert_eq!(ramp.value(2026.0, 0.0), 2.0);
        assert_eq!(ramp.value(2027.0, 0.0), 3.5);
        assert_eq!(ramp.value(2028.0, 0.0), 5.0);
        assert_eq!(ramp.value(2030.0, 0.0), 5.0);
        let pieces = Schedule {
            slot: 0,
            points: vec![(1.0, 10.0), (2.0, 20.0), (4.0, 5.0)],
            interpolation: Interpolation::Step,
        };
        assert_eq!(pieces.value(1.5, 0.0), 10.0);
        assert_eq!(pieces.value(3.999, 0.0), 20.0);
        assert_eq!(pieces.value(4.0 - 1e-12, 0.0), 5.0);
    }
}
