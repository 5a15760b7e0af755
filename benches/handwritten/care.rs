//! The care model (models/care_system.toml with models/care/*.toml) written by hand in plain
//! Rust: the speed-of-light reference for the engine.
//!
//! It is a faithful transcription of the model's equations, with the same integration method
//! (Euler), time settings (2025 to 2045, dt = 1/16, a row saved every year), non-negative
//! outflow limiting (people and staff) and the engine's expansion of SMOOTH and DELAY3 into
//! hidden stocks. What a person writing it by hand would do, it does: parameters that do not
//! change during a run are combined once per run, 0/1 selector constants (first_band,
//! state_fit, at_risk...) become indexing, and only the reported outputs are stored.
//! tests/handwritten_care.rs checks that every output it reports equals the engine's.

// Index loops over age × frailty read like the model's equations.
#![allow(clippy::needless_range_loop)]

/// Age bands: 0-64, 65-74, 75-84, 85+.
const AGES: usize = 4;
/// Frailty states: fit, mild, moderate, severe.
const STATES: usize = 4;

const START: f64 = 2025.0;
const STOP: f64 = 2045.0;
const DT: f64 = 0.0625;
const SAVE_STEP: f64 = 1.0;

// population
const AGE_SHARE: [f64; AGES] = [0.816, 0.099, 0.061, 0.024];
const AGEING_RATE: [f64; AGES] = [0.0141, 0.088, 0.0645, 0.0];
const MORTALITY: [f64; AGES] = [0.0019, 0.018, 0.051, 0.14];
const MORTALITY_HAZARD_RATIO: [f64; STATES] = [1.0, 1.92, 3.10, 4.52];
const BIRTH_RATE: f64 = 0.0105;
const MIGRATION_RATE: [f64; AGES] = [0.003, 0.0, 0.0, 0.0];
// frailty
const INITIAL_FRAILTY_SHARE: [[f64; STATES]; AGES] = [
    [0.97, 0.025, 0.004, 0.001],
    [0.70, 0.22, 0.06, 0.02],
    [0.47, 0.34, 0.14, 0.05],
    [0.25, 0.40, 0.23, 0.12],
];
const ONSET_RATE: [f64; AGES] = [0.012, 0.130, 0.214, 0.380];
const RECOVERY_RATE: f64 = 0.2;
const MILD_TO_MODERATE_RATE: f64 = 0.06;
const MODERATE_TO_SEVERE_RATE: f64 = 0.08;
// hospital
const ADMISSION_RATE: [f64; AGES] = [0.079, 0.15, 0.28, 0.55];
const AVOIDABLE_SHARE: [f64; AGES] = [0.2, 0.22, 0.3, 0.37];
const ATTENDANCE_RATE: [f64; AGES] = [0.372, 0.40, 0.48, 0.65];
const ADMISSION_HAZARD_RATIO: [f64; STATES] = [1.0, 1.93, 3.04, 4.73];
/// `at_risk`: people aged 65+ with moderate or severe frailty.
const AT_RISK: [[bool; STATES]; AGES] = [
    [false, false, false, false],
    [false, false, true, true],
    [false, false, true, true],
    [false, false, true, true],
];
const LENGTH_OF_STAY: [f64; AGES] = [2.2, 4.35, 6.4, 8.7];
const OLDER_BAND: [bool; AGES] = [false, true, true, true];
const READMISSION_FRACTION: [f64; AGES] = [0.12, 0.14, 0.17, 0.17];
const SUPPORTED_DISCHARGE_NEED: [f64; AGES] = [0.012, 0.046, 0.092, 0.17];
const STEP_DOWN_STAY: f64 = 28.0;
const STEP_DOWN_PLACES_PER_1000_OLDER: f64 = 2.6;
const BASE_DISCHARGE_WAIT: f64 = 2.0;
const BEDS_PER_100K: f64 = 177.0;
const ELECTIVE_SHARE_OF_BEDS: f64 = 0.15;
const DAYS_PER_YEAR: f64 = 365.0;
// community (workforce variant)
const STEP_DOWN_SHARE: f64 = 0.3;
const TIME_TO_HIRE: f64 = 0.19;
const RECRUITS_PER_100K: f64 = 3.0;
const LEAVER_RATE: f64 = 0.10;
const TRAINING_RESPONSE: f64 = 0.2;
const TRAINING_TIME: f64 = 3.0;
const TRAINING_COST: f64 = 30000.0;
const MAX_PROGRESSION_REDUCTION: f64 = 0.1;
const STEP_DOWN_BUILD_TIME: f64 = 1.0;
// finance
const COST_PER_ATTENDANCE: f64 = 273.0;
const TARGET_OCCUPANCY: f64 = 0.92;
const SUSTAIN_TIME: f64 = 1.0;
const BED_CLOSURE_TIME: f64 = 1.0;
const BED_OPENING_TIME: f64 = 0.25;
// outcomes
const UTILITY: [f64; AGES] = [0.898, 0.781, 0.728, 0.682];
const FRAILTY_UTILITY: [f64; STATES] = [1.0, 0.9, 0.8, 0.7];
const QALY_PER_PERSON_YEAR: f64 = 1.0;
const OLDER_SHARE_OF_EMERGENCY_BEDS: f64 = 0.67;

/// The constants a scenario sets or samples (names as in the model).
#[derive(Debug, Clone, Copy)]
pub struct CareParams {
    pub reference_population: f64,
    pub community_budget: f64,
    pub max_admission_reduction: f64,
    pub max_stay_reduction: f64,
    pub maturity_time: f64,
    pub caseload_per_fte: f64,
    pub cost_per_fte: f64,
    pub cost_per_step_down_place: f64,
    pub surfaced_need_cost_per_person: f64,
    pub cost_per_admission: f64,
    pub cost_per_bed_day: f64,
    /// A scenario intervention on `community_budget`: a linear ramp `(start, end, from, to)`;
    /// before `start` the budget is `community_budget`, after `end` it holds `to`.
    pub budget_ramp: Option<(f64, f64, f64, f64)>,
}

impl Default for CareParams {
    fn default() -> Self {
        CareParams {
            reference_population: 800000.0,
            community_budget: 0.0,
            max_admission_reduction: 0.2,
            max_stay_reduction: 0.1,
            maturity_time: 5.0,
            caseload_per_fte: 50.0,
            cost_per_fte: 89610.0,
            cost_per_step_down_place: 60000.0,
            surfaced_need_cost_per_person: 400.0,
            cost_per_admission: 1200.0,
            cost_per_bed_day: 345.0,
            budget_ramp: None,
        }
    }
}

impl CareParams {
    /// The community budget at time `t` (the engine's schedule rule, with its tolerance for
    /// times computed as start + k·dt).
    fn budget(&self, t: f64) -> f64 {
        let Some((start, end, from, to)) = self.budget_ramp else {
            return self.community_budget;
        };
        let eps = 1e-9 * t.abs().max(1.0);
        if t < start - eps {
            self.community_budget
        } else if t < end - eps {
            from + (to - from) * ((t - start) / (end - start)).clamp(0.0, 1.0)
        } else {
            to
        }
    }

    /// (model name, value) of every parameter, for `--set` style overrides of the engine.
    pub fn overrides(&self) -> Vec<(String, f64)> {
        [
            ("reference_population", self.reference_population),
            ("community_budget", self.community_budget),
            (
                "community.max_admission_reduction",
                self.max_admission_reduction,
            ),
            ("community.max_stay_reduction", self.max_stay_reduction),
            ("community.maturity_time", self.maturity_time),
            ("community.caseload_per_fte", self.caseload_per_fte),
            ("community.cost_per_fte", self.cost_per_fte),
            (
                "community.cost_per_step_down_place",
                self.cost_per_step_down_place,
            ),
            (
                "community.surfaced_need_cost_per_person",
                self.surfaced_need_cost_per_person,
            ),
            ("finance.cost_per_admission", self.cost_per_admission),
            ("finance.cost_per_bed_day", self.cost_per_bed_day),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect()
    }
}

/// The engine's column name of each reported output, in [`Row`] order.
pub const OUTPUT_COLUMNS: [&str; OUTPUTS] = [
    "population.people[0-64,fit]",
    "population.people[0-64,mild]",
    "population.people[0-64,moderate]",
    "population.people[0-64,severe]",
    "population.people[65-74,fit]",
    "population.people[65-74,mild]",
    "population.people[65-74,moderate]",
    "population.people[65-74,severe]",
    "population.people[75-84,fit]",
    "population.people[75-84,mild]",
    "population.people[75-84,moderate]",
    "population.people[75-84,severe]",
    "population.people[85+,fit]",
    "population.people[85+,mild]",
    "population.people[85+,moderate]",
    "population.people[85+,severe]",
    "community.staff",
    "community.maturity",
    "finance.beds_open",
    "population.total_population",
    "population.total_deaths",
    "frailty.frail_share_65_plus",
    "community.graduates",
    "community.coverage",
    "community.step_down_places",
    "community.programme_cost",
    "hospital.emergency_admissions",
    "hospital.ed_attendances",
    "hospital.discharge_wait",
    "hospital.occupied_beds",
    "finance.beds_needed",
    "finance.hospital_cost",
    "finance.released_cash",
    "finance.total_cost",
    "outcomes.days_at_home_per_older_person",
    "outcomes.qalys",
];
pub const OUTPUTS: usize = 36;
const TOTAL_DEATHS: usize = 20;
const OCCUPIED_BEDS: usize = 29;

/// One saved row: the outputs named by [`OUTPUT_COLUMNS`].
pub type Row = [f64; OUTPUTS];

/// The saved rows of one run.
#[derive(Debug, Clone)]
pub struct CareRun {
    pub times: Vec<f64>,
    pub rows: Vec<Row>,
}

/// Stocks, including the hidden ones of SMOOTH and DELAY3.
#[derive(Debug, Clone, Copy)]
struct Stocks {
    people: [[f64; STATES]; AGES],
    staff: f64,
    maturity: f64,
    beds_open: f64,
    /// DELAY3(training_starts, training_time, 0): three stages.
    training: [f64; 3],
    /// SMOOTH(funded_step_down_places, step_down_build_time, 0).
    step_down_places: f64,
    /// SMOOTH(occupied_beds, sustain_time).
    smoothed_occupied_beds: f64,
}

/// Per-run values that do not change over time.
struct Coefficients {
    /// people → admissions (before the avoidable share): admission_rate·(1 − readmission)/norm·HR.
    admission: [[f64; STATES]; AGES],
    /// people → ED attendances (before the avoidable share).
    attendance: [[f64; STATES]; AGES],
    /// people → deaths: mortality_of_fit·HR.
    death: [[f64; STATES]; AGES],
    readmission_ratio: [f64; AGES],
    bed_capacity: f64,
    initial_beds_open: f64,
    max_hiring: f64,
}

/// Everything the stocks' rates of change need, and the reported outputs.
struct Rates {
    /// Deaths by age and state (part of `people_out`).
    deaths: [[f64; STATES]; AGES],
    /// Net inflows and outflows of each people stock (before non-negative limiting).
    people_in: [[f64; STATES]; AGES],
    people_out: [[f64; STATES]; AGES],
    staff_in: f64,
    staff_out: f64,
    maturing: f64,
    bed_adjustment: f64,
    training_net: [f64; 3],
    step_down_rate: f64,
    occupied_beds_rate: f64,
    row: Row,
}

/// Run the care model with `params`.
pub fn run(params: &CareParams) -> CareRun {
    let steps = ((STOP - START) / DT).round() as usize;
    let save_every = (SAVE_STEP / DT).round() as usize;
    let rows = steps / save_every + 1;
    let mut out = CareRun {
        times: Vec::with_capacity(rows),
        rows: Vec::with_capacity(rows),
    };
    let (mut s, c) = initial(params);
    for k in 0..=steps {
        let t = START + k as f64 * DT;
        let mut r = rates(params, &c, &s, t);
        limit_people_outflows(&s, &mut r);
        if k % save_every == 0 || k == steps {
            out.times.push(t);
            out.rows.push(r.row);
        }
        if k == steps {
            break;
        }
        for a in 0..AGES {
            for f in 0..STATES {
                let p = &mut s.people[a][f];
                *p += DT * (r.people_in[a][f] - r.people_out[a][f]);
                if *p < 0.0 {
                    *p = 0.0;
                }
            }
        }
        // staff is non-negative too
        let available = s.staff.max(0.0) / DT + r.staff_in;
        let staff_out = if r.staff_out > available && r.staff_out > 0.0 {
            available.max(0.0)
        } else {
            r.staff_out
        };
        s.staff = (s.staff + DT * (r.staff_in - staff_out)).max(0.0);
        s.maturity += DT * r.maturing;
        s.beds_open += DT * r.bed_adjustment;
        for i in 0..3 {
            s.training[i] += DT * r.training_net[i];
        }
        s.step_down_places += DT * r.step_down_rate;
        s.smoothed_occupied_beds += DT * r.occupied_beds_rate;
    }
    out
}

/// Initial stocks and the per-run coefficients.
fn initial(p: &CareParams) -> (Stocks, Coefficients) {
    let mut people = [[0.0; STATES]; AGES];
    for a in 0..AGES {
        for f in 0..STATES {
            people[a][f] = p.reference_population * AGE_SHARE[a] * INITIAL_FRAILTY_SHARE[a][f];
        }
    }
    let mut c = Coefficients {
        admission: [[0.0; STATES]; AGES],
        attendance: [[0.0; STATES]; AGES],
        death: [[0.0; STATES]; AGES],
        readmission_ratio: [0.0; AGES],
        bed_capacity: BEDS_PER_100K * p.reference_population / 100000.0,
        initial_beds_open: 0.0,
        max_hiring: RECRUITS_PER_100K * p.reference_population / 100000.0,
    };
    c.initial_beds_open = c.bed_capacity;
    for a in 0..AGES {
        let band: f64 = people[a].iter().sum();
        let weighted = |hr: &[f64; STATES]| -> f64 {
            (0..STATES).map(|f| people[a][f] * hr[f]).sum::<f64>() / band
        };
        let mortality_of_fit = MORTALITY[a] / weighted(&MORTALITY_HAZARD_RATIO);
        let admission_risk_norm = weighted(&ADMISSION_HAZARD_RATIO);
        for f in 0..STATES {
            c.admission[a][f] = ADMISSION_RATE[a] * (1.0 - READMISSION_FRACTION[a])
                / admission_risk_norm
                * ADMISSION_HAZARD_RATIO[f];
            c.attendance[a][f] =
                ATTENDANCE_RATE[a] / admission_risk_norm * ADMISSION_HAZARD_RATIO[f];
            c.death[a][f] = mortality_of_fit * MORTALITY_HAZARD_RATIO[f];
        }
        c.readmission_ratio[a] = READMISSION_FRACTION[a] / (1.0 - READMISSION_FRACTION[a]);
    }
    let mut s = Stocks {
        people,
        staff: 0.0,
        maturity: 0.0,
        beds_open: c.bed_capacity,
        training: [0.0; 3],
        step_down_places: 0.0,
        smoothed_occupied_beds: 0.0,
    };
    // SMOOTH(occupied_beds, ...) starts at occupied_beds' initial value.
    s.smoothed_occupied_beds = rates(p, &c, &s, START).row[OCCUPIED_BEDS];
    (s, c)
}

/// All auxiliaries and flows at time `t` from the stocks.
fn rates(p: &CareParams, c: &Coefficients, s: &Stocks, t: f64) -> Rates {
    let people = &s.people;
    let older = |f: std::ops::Range<usize>| -> f64 {
        (1..AGES)
            .map(|a| people[a][f.clone()].iter().sum::<f64>())
            .sum()
    };

    // community
    let budget = p.budget(t);
    let funded_team = budget * (1.0 - STEP_DOWN_SHARE) / p.cost_per_fte;
    let funded_step_down_places = budget * STEP_DOWN_SHARE / p.cost_per_step_down_place;
    let vacancies = (funded_team - s.staff).max(0.0);
    let hiring = (vacancies / TIME_TO_HIRE).min(c.max_hiring);
    let leavers = s.staff * LEAVER_RATE;
    let training_starts = vacancies * TRAINING_RESPONSE;
    let stage_time = TRAINING_TIME / 3.0;
    let training_out = s.training.map(|stage| stage / stage_time);
    let graduates = training_out[2];
    let at_risk_people = older(2..STATES);
    let team_capacity = s.staff * p.caseload_per_fte;
    let coverage = if at_risk_people == 0.0 {
        0.0
    } else {
        team_capacity / at_risk_people
    }
    .min(1.0);
    let covered_people = coverage * at_risk_people;
    let maturing = if coverage > 0.0 {
        (1.0 - s.maturity) / p.maturity_time
    } else {
        (0.0 - s.maturity) / p.maturity_time
    };
    let admission_effect = p.max_admission_reduction * coverage * s.maturity;
    let early_discharge_effect = p.max_stay_reduction * coverage * s.maturity;
    let progression_slowdown = MAX_PROGRESSION_REDUCTION * coverage * s.maturity;
    let step_down_rate = (funded_step_down_places - s.step_down_places) / STEP_DOWN_BUILD_TIME;
    let programme_cost = s.staff * p.cost_per_fte
        + s.step_down_places * p.cost_per_step_down_place
        + training_starts * TRAINING_COST;
    let surfaced_need_cost = covered_people * s.maturity * p.surfaced_need_cost_per_person;

    // population and frailty
    let total_population: f64 = people.iter().flatten().sum();
    let slowed = 1.0 - progression_slowdown;
    let mut people_in = [[0.0; STATES]; AGES];
    let mut people_out = [[0.0; STATES]; AGES];
    let mut deaths = [[0.0; STATES]; AGES];
    let mut total_deaths = 0.0;
    for a in 0..AGES {
        let onset = people[a][0] * ONSET_RATE[a] * slowed;
        let recovery = people[a][1] * RECOVERY_RATE;
        let to_moderate = people[a][1] * MILD_TO_MODERATE_RATE * slowed;
        let to_severe = people[a][2] * MODERATE_TO_SEVERE_RATE * slowed;
        let transition = [
            recovery - onset,
            onset - recovery - to_moderate,
            to_moderate - to_severe,
            to_severe,
        ];
        for f in 0..STATES {
            let births = if a == 0 && f == 0 {
                BIRTH_RATE * total_population
            } else {
                0.0
            };
            let ageing_in = if a == 0 {
                0.0
            } else {
                people[a - 1][f] * AGEING_RATE[a - 1]
            };
            let migration = people[a][f] * MIGRATION_RATE[a];
            deaths[a][f] = people[a][f] * c.death[a][f];
            total_deaths += deaths[a][f];
            people_in[a][f] = births + ageing_in + migration + transition[f];
            people_out[a][f] = people[a][f] * AGEING_RATE[a] + deaths[a][f];
        }
    }
    let older_people = older(0..STATES);
    let frail_share_65_plus = older(1..STATES) / older_people;

    // hospital
    let mut emergency_admissions = 0.0;
    let mut ed_attendances = 0.0;
    let mut inpatients = 0.0;
    let mut supported_discharge_demand = 0.0;
    for a in 0..AGES {
        let avoidable_effect = admission_effect.min(AVOIDABLE_SHARE[a]);
        let mut admissions = 0.0;
        for f in 0..STATES {
            let kept = if AT_RISK[a][f] {
                1.0 - avoidable_effect
            } else {
                1.0
            };
            admissions += people[a][f] * c.admission[a][f] * kept;
            ed_attendances += people[a][f] * c.attendance[a][f] * kept;
        }
        let by_age = admissions + admissions * c.readmission_ratio[a];
        emergency_admissions += by_age;
        let shorter = if OLDER_BAND[a] {
            1.0 - early_discharge_effect
        } else {
            1.0
        };
        inpatients += by_age * LENGTH_OF_STAY[a] * shorter / DAYS_PER_YEAR;
        supported_discharge_demand += by_age * SUPPORTED_DISCHARGE_NEED[a];
    }
    let step_down_places =
        STEP_DOWN_PLACES_PER_1000_OLDER * older_people / 1000.0 + s.step_down_places;
    let step_down_utilisation =
        supported_discharge_demand * (STEP_DOWN_STAY / DAYS_PER_YEAR) / step_down_places;
    let discharge_wait = BASE_DISCHARGE_WAIT / (1.0 - step_down_utilisation.min(0.97));
    let awaiting_discharge = supported_discharge_demand * discharge_wait / DAYS_PER_YEAR;
    let emergency_occupied_beds = inpatients + awaiting_discharge;
    let occupied_beds = emergency_occupied_beds + ELECTIVE_SHARE_OF_BEDS * c.bed_capacity;

    // finance
    let beds_needed = s.smoothed_occupied_beds / TARGET_OCCUPANCY;
    let gap = beds_needed - s.beds_open;
    let bed_adjustment = if beds_needed < s.beds_open {
        gap / BED_CLOSURE_TIME
    } else {
        gap / BED_OPENING_TIME
    };
    let occupied_beds_rate = (occupied_beds - s.smoothed_occupied_beds) / SUSTAIN_TIME;
    let beds_closed = (c.initial_beds_open - s.beds_open).max(0.0);
    let bed_day_cost = p.cost_per_bed_day * DAYS_PER_YEAR;
    let hospital_cost = emergency_admissions * p.cost_per_admission
        + ed_attendances * COST_PER_ATTENDANCE
        + s.beds_open * bed_day_cost;
    let released_cash = beds_closed * bed_day_cost;
    let total_cost = hospital_cost + programme_cost + surfaced_need_cost;

    // outcomes
    let days_at_home = DAYS_PER_YEAR
        * (1.0 - emergency_occupied_beds * OLDER_SHARE_OF_EMERGENCY_BEDS / older_people);
    let mut qalys = 0.0;
    for a in 0..AGES {
        for f in 0..STATES {
            qalys += people[a][f] * UTILITY[a] * FRAILTY_UTILITY[f];
        }
    }
    qalys *= QALY_PER_PERSON_YEAR;

    let mut row = [0.0; OUTPUTS];
    for a in 0..AGES {
        row[a * STATES..(a + 1) * STATES].copy_from_slice(&people[a]);
    }
    row[16..].copy_from_slice(&[
        s.staff,
        s.maturity,
        s.beds_open,
        total_population,
        total_deaths,
        frail_share_65_plus,
        graduates,
        coverage,
        s.step_down_places,
        programme_cost,
        emergency_admissions,
        ed_attendances,
        discharge_wait,
        occupied_beds,
        beds_needed,
        hospital_cost,
        released_cash,
        total_cost,
        days_at_home,
        qalys,
    ]);
    Rates {
        deaths,
        people_in,
        people_out,
        staff_in: hiring + graduates,
        staff_out: leavers,
        maturing,
        bed_adjustment,
        training_net: [
            training_starts - training_out[0],
            training_out[0] - training_out[1],
            training_out[1] - training_out[2],
        ],
        step_down_rate,
        occupied_beds_rate,
        row,
    }
}

/// Non-negative people stocks: scale a stock's outflows (ageing out, deaths) when a step would
/// take more than it holds plus its inflow. The saved total deaths follow the scaled values.
fn limit_people_outflows(s: &Stocks, r: &mut Rates) {
    let mut limited = false;
    for a in 0..AGES {
        for f in 0..STATES {
            let available = s.people[a][f].max(0.0) / DT + r.people_in[a][f];
            let outflow = r.people_out[a][f];
            if outflow > available && outflow > 0.0 {
                let factor = available.max(0.0) / outflow;
                r.deaths[a][f] *= factor;
                r.people_out[a][f] = (s.people[a][f] * AGEING_RATE[a]) * factor + r.deaths[a][f];
                limited = true;
            }
        }
    }
    if limited {
        r.row[TOTAL_DEATHS] = r.deaths.iter().flatten().sum();
    }
}
