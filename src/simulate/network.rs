//! The stock–flow wiring of a program as flat index lists, prepared once per [`Simulator`]
//! (not per step): which slots each stock's inflows and outflows are, which stocks limit their
//! outflows or are clamped at zero, and which slot each output column reads. The per-step code
//! (derivatives, the stability check, the clamp, saving a row) walks these lists and nothing
//! else.
//!
//! [`Simulator`]: super::Simulator

use crate::vm::Program;

/// One stock: its slot and its flows, `Network::flows[inflows..outflows]` then
/// `Network::flows[outflows..end]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StockFlows {
    pub slot: u32,
    inflows: u32,
    outflows: u32,
    end: u32,
    shape: Shape,
}

/// How many flows a stock has each way, for [`Network::in_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Shape {
    /// Any other number (first: the test for it is one comparison).
    Many = 0,
    /// One inflow and one outflow.
    Through,
    /// One outflow, no inflow.
    Source,
    /// One inflow, no outflow.
    Sink,
}

#[derive(Debug, Clone)]
pub(crate) struct Network {
    /// Every stock, in `Program::stocks` order.
    pub stocks: Vec<StockFlows>,
    /// Flow slots, grouped per stock (see [`StockFlows`]).
    flows: Vec<u32>,
    /// Stocks with `non_negative` (outflows scaled down so the stock cannot go below zero).
    pub limited: Vec<StockFlows>,
    /// Slots of the stocks set to zero after a step that leaves them negative
    /// (`non_negative` or `clamp_at_zero`).
    pub clamped: Vec<u32>,
    /// Slots of the stocks, in `Program::stocks` order.
    pub stock_slots: Vec<u32>,
    /// The slot of each output column, in `Program::columns` order.
    pub columns: Vec<u32>,
}

impl Network {
    pub fn new(p: &Program) -> Network {
        let mut flows = Vec::with_capacity(p.flow_slots.len());
        let range = |r: (u32, u32)| &p.flow_slots[r.0 as usize..r.1 as usize];
        let stocks: Vec<StockFlows> = p
            .stocks
            .iter()
            .map(|s| {
                let inflows = flows.len() as u32;
                flows.extend_from_slice(range(s.inflows));
                let outflows = flows.len() as u32;
                flows.extend_from_slice(range(s.outflows));
                let end = flows.len() as u32;
                let shape = match (outflows - inflows, end - outflows) {
                    (1, 1) => Shape::Through,
                    (0, 1) => Shape::Source,
                    (1, 0) => Shape::Sink,
                    _ => Shape::Many,
                };
                StockFlows {
                    slot: s.slot,
                    inflows,
                    outflows,
                    end,
                    shape,
                }
            })
            .collect();
        let limited = stocks
            .iter()
            .zip(&p.stocks)
            .filter(|(_, s)| s.non_negative)
            .map(|(w, _)| *w)
            .collect();
        let clamped = p
            .stocks
            .iter()
            .filter(|s| s.non_negative || s.clamp_at_zero)
            .map(|s| s.slot)
            .collect();
        Network {
            stock_slots: stocks.iter().map(|s| s.slot).collect(),
            stocks,
            flows,
            limited,
            clamped,
            columns: p.columns.iter().map(|c| c.slot).collect(),
        }
    }

    /// A stock's (inflow, outflow): each the [`sum`] of its flows. A stock with at most one
    /// flow each way (most stocks) takes a path without loops, with the same additions.
    #[inline(always)]
    pub fn in_out(&self, slots: &[f64], s: &StockFlows) -> (f64, f64) {
        let zero: f64 = std::iter::empty::<f64>().sum();
        let (i, o) = (s.inflows as usize, s.outflows as usize);
        let value = |k: usize| slots[self.flows[k] as usize];
        match s.shape {
            Shape::Many => (sum(slots, self.inflows(s)), sum(slots, self.outflows(s))),
            Shape::Through => (zero + value(i), zero + value(o)),
            Shape::Source => (zero, zero + value(o)),
            Shape::Sink => (zero + value(i), zero),
        }
    }

    #[inline]
    pub fn inflows(&self, s: &StockFlows) -> &[u32] {
        &self.flows[s.inflows as usize..s.outflows as usize]
    }

    #[inline]
    pub fn outflows(&self, s: &StockFlows) -> &[u32] {
        &self.flows[s.outflows as usize..s.end as usize]
    }
}

/// The sum of the flows' values, folded in order from `Sum`'s neutral value (so that every
/// path — scalar, batch, dopri5 — adds the same numbers in the same order).
#[inline]
pub(crate) fn sum(slots: &[f64], flows: &[u32]) -> f64 {
    flows.iter().map(|&f| slots[f as usize]).sum()
}

/// `x` when it is above zero, else +0 (NaN and −0 included): the non-negative part of a level
/// or of an available flow. Written out rather than `f64::max`, whose result for −0 is not
/// specified, so that the native step (`native::euler`) can make exactly the same bits.
#[inline(always)]
pub(crate) fn at_least_zero(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}
