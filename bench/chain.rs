//! The chain floor of an apply: its longest chain of calls, each started after the previous one
//! ended, from the emulator's timed call log of an apply with latency added to every call.
//!
//! A call that started after another ended may have depended on it (it needed its answer) or
//! not; a call that started before another ended cannot have depended on it. The longest chain
//! of calls ordered that way — the longest path in the interval order of the calls' [start, end]
//! — is therefore an upper bound of the longest chain of truly dependent calls, and with `L` ms
//! added to every call, `chain × L` is the least wall time an apply that makes the same calls
//! with the same dependencies can take *if* those links are real dependencies. Links between
//! independent calls the provider happened to make one after another (two regions done in
//! turn, a resource's independent parts in sequence) lengthen the observed chain: the floor is
//! then too high, and an apply can beat it by making those calls concurrently. `Chain::links`
//! counts the links by what they join, to show how much of the chain may be such.

use crate::emulator::Call;

pub struct Chain {
    /// Indices into the call log, in chain order.
    pub calls: Vec<usize>,
}

/// The longest chain, in O(n log n): calls sorted by end; a call extends the best chain among
/// the calls that ended before it started (a prefix of that order, found by binary search).
pub fn longest(calls: &[Call]) -> Chain {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by(|&a, &b| {
        calls[a]
            .end_ms
            .total_cmp(&calls[b].end_ms)
            .then(calls[a].start_ms.total_cmp(&calls[b].start_ms))
    });
    let mut previous: Vec<Option<usize>> = vec![None; calls.len()];
    // best[k]: (length, last call) of the longest chain among the first k+1 calls by end.
    let mut best: Vec<(usize, usize)> = Vec::with_capacity(calls.len());
    for (k, &call) in order.iter().enumerate() {
        let ended_before = order[..k].partition_point(|&i| calls[i].end_ms <= calls[call].start_ms);
        let length = match ended_before.checked_sub(1).map(|m| best[m]) {
            Some((length, last)) => {
                previous[call] = Some(last);
                length + 1
            }
            None => 1,
        };
        let so_far = match best.last() {
            Some(&(l, last)) if l >= length => (l, last),
            _ => (length, call),
        };
        best.push(so_far);
    }
    let mut chain = Vec::new();
    let mut at = best.last().map(|&(_, last)| last);
    while let Some(call) = at {
        chain.push(call);
        at = previous[call];
    }
    chain.reverse();
    Chain { calls: chain }
}

/// The chain's links (pairs of consecutive calls) by what they join.
pub struct Links {
    pub total: usize,
    /// The same (service, operation, region) twice: polling a waiter, paging, or a repeat.
    pub same_kind: usize,
    /// Two regions: candidates for concurrency unless the second needs the first's answer
    /// (e.g. the peering accepted in the DR region after it was requested in the primary).
    pub cross_region: usize,
    /// Two services in the same region: often two parts of a resource, or two resources.
    pub cross_service: usize,
}

impl Chain {
    pub fn links(&self, calls: &[Call]) -> Links {
        let mut links = Links {
            total: 0,
            same_kind: 0,
            cross_region: 0,
            cross_service: 0,
        };
        for pair in self.calls.windows(2) {
            let (a, b) = (&calls[pair[0]].kind, &calls[pair[1]].kind);
            links.total += 1;
            if a == b {
                links.same_kind += 1;
            } else if a.2 != b.2 {
                links.cross_region += 1;
            } else if a.0 != b.0 {
                links.cross_service += 1;
            }
        }
        links
    }

    /// The chain as runs of the same kind: "service operation region ×n".
    pub fn runs(&self, calls: &[Call]) -> Vec<String> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for &i in &self.calls {
            let (service, operation, region) = &calls[i].kind;
            let label = format!("{service} {operation} {region}");
            match out.last_mut() {
                Some((last, n)) if *last == label => *n += 1,
                _ => out.push((label, 1)),
            }
        }
        out.into_iter()
            .map(|(label, n)| {
                if n > 1 {
                    format!("{label} ×{n}")
                } else {
                    label
                }
            })
            .collect()
    }
}

/// Where the time along the chain went (seconds, on the emulator's clock since the reset that
/// preceded the command).
pub struct Timing {
    /// Before the chain's first call: Terraform's and the provider's start, the plan walk.
    pub before_s: f64,
    /// Inside the chain's calls: the added latency plus the emulator's own time.
    pub in_calls_s: f64,
    /// Between one chain call's end and the next one's start: the provider's and Terraform's
    /// work, sleeps (waiters), and the loopback.
    pub between_s: f64,
    /// The chain's last call ended (the rest of the wall time is Terraform's finish).
    pub last_end_s: f64,
    /// The longest gaps between consecutive chain calls: (ms, call before, call after).
    pub largest_gaps: Vec<(f64, usize, usize)>,
}

impl Chain {
    pub fn timing(&self, calls: &[Call], gaps: usize) -> Timing {
        let (Some(&first), Some(&last)) = (self.calls.first(), self.calls.last()) else {
            return Timing {
                before_s: 0.0,
                in_calls_s: 0.0,
                between_s: 0.0,
                last_end_s: 0.0,
                largest_gaps: Vec::new(),
            };
        };
        let in_calls: f64 = self
            .calls
            .iter()
            .map(|&i| calls[i].end_ms - calls[i].start_ms)
            .sum();
        let mut between: Vec<(f64, usize, usize)> = self
            .calls
            .windows(2)
            .map(|w| (calls[w[1]].start_ms - calls[w[0]].end_ms, w[0], w[1]))
            .collect();
        let between_s = between.iter().map(|g| g.0).sum::<f64>() / 1000.0;
        between.sort_by(|a, b| b.0.total_cmp(&a.0));
        between.truncate(gaps);
        Timing {
            before_s: calls[first].start_ms / 1000.0,
            in_calls_s: in_calls / 1000.0,
            between_s,
            last_end_s: calls[last].end_ms / 1000.0,
            largest_gaps: between,
        }
    }
}
