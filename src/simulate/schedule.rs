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

/// A stretch of time over which no schedule of a set changes its value
/// ([`ScheduleSet::steady_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steady {
    /// Before every schedule's first point: every constant keeps its own value.
    Before,
    /// At or after every schedule's last point: every constant holds its last value.
    After,
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

    /// Whether at time `t` every schedule's [`Schedule::value_at`] is the same as at any other
    /// time of the same [`Steady`] stretch (with the same tolerance): then applying the
    /// schedules again at `t` changes nothing if they were last applied in that stretch.
    /// `None` while some schedule is between its points (or for an empty set).
    #[inline(always)]
    pub fn steady_at(&self, t: f64) -> Option<Steady> {
        let eps = 1e-9 * t.abs().max(1.0);
        let (mut before, mut after) = (!self.schedules.is_empty(), !self.schedules.is_empty());
        for s in &self.schedules {
            let (Some(&(first, _)), Some(&(last, _))) = (s.points.first(), s.points.last()) else {
                // No points: always the constant's own value.
                continue;
            };
            before &= t < first - eps;
            after &= last <= t + eps;
        }
        if before {
            Some(Steady::Before)
        } else if after {
            Some(Steady::After)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_stretches_are_where_no_schedule_changes() {
        let set = |schedules| ScheduleSet {
            schedules,
            dependents: Vec::new(),
        };
        let ramp = |from: f64, to: f64| Schedule {
            slot: 0,
            points: vec![(from, 1.0), (to, 2.0)],
            interpolation: Interpolation::Linear,
        };
        let two = set(vec![ramp(2026.0, 2029.0), ramp(2027.0, 2028.0)]);
        // Every time of a stretch gives every schedule the same value as its other times.
        let (early, late) = (
            [2020.0, 2025.5, 2026.0 - 1e-3],
            [2029.0, 2029.0 - 1e-7, 2040.0],
        );
        for (times, stretch) in [(early, Steady::Before), (late, Steady::After)] {
            for t in times {
                assert_eq!(two.steady_at(t), Some(stretch), "{t}");
                for s in &two.schedules {
                    assert_eq!(s.value_at(t), s.value_at(times[0]), "{t}");
                }
            }
        }
        for t in [2026.0, 2026.5, 2027.9, 2028.99] {
            assert_eq!(two.steady_at(t), None, "{t}");
        }
        // A schedule with no points never changes; an empty set is never steady.
        let none = Schedule {
            points: Vec::new(),
            ..ramp(0.0, 1.0)
        };
        assert_eq!(set(vec![none]).steady_at(0.0), Some(Steady::Before));
        assert_eq!(set(Vec::new()).steady_at(0.0), None);
    }

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
