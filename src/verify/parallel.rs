//! Checking many entries at once on every core, results in their order.
//!
//! An audit's costliest step is one `verify_strict` per entry, and entries
//! are independent until they are folded; so a chunk of them is split in as
//! many parts as there are cores, each part checked on its own thread, and
//! the results put back in log order, so the first bad entry in the log is
//! still the one reported.

/// The most threads one chunk is split across (beyond that, the fold
/// running beside them is the limit, not the checks).
const MAX_THREADS: usize = 8;

/// How many threads a chunk is split across: one per core, at most
/// [`MAX_THREADS`].
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
}

/// Runs `f` over `items` on every core, results in item order. A part whose
/// thread panicked yields nothing, so the result is then shorter than
/// `items`: callers, which number what they get, find an entry missing
/// rather than serve or fold an unchecked one.
pub fn map_in_order<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let per = items.len().div_ceil(threads()).max(1);
    if items.len() <= per {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            match part.join() {
                Ok(done) => out.extend(done),
                // Stop at the first lost part: what follows it would be out
                // of place.
                Err(_) => break,
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order() {
        let items: Vec<u64> = (0..10_001).collect();
        let squares = map_in_order(&items, |x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(map_in_order(&[] as &[u64], |x| *x).is_empty());
    }
}
