//! The one worker pool of the render engine: renders and input hashing both take items from a
//! shared index on a bounded number of scoped threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `work(&state, i)` for every `i` in `0..n` on at most `jobs` scoped threads, each with its
/// own `state` made by `init` (a render sandbox, say), and returns the results in index order.
/// With one job, on the calling thread.
///
/// A panic on a worker stops the others from taking new items; that worker's `state` is dropped
/// before the panic travels on, and the panic is passed on only once every worker has joined, so
/// no child process a worker started outlives the call.
pub fn ordered<S, T, I, W>(n: usize, jobs: usize, init: I, work: W) -> Vec<T>
where
    T: Send,
    I: Fn() -> S + Sync,
    W: Fn(&S, usize) -> T + Sync,
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let jobs = jobs.clamp(1, n.max(1));
    // One worker is this thread (a marker render of one cell, from a worker of the run's
    // pool): a panic unwinds through it after `state` is dropped, as a worker's would.
    if jobs == 1 {
        let state = init();
        return (0..n).map(|i| work(&state, i)).collect();
    }
    let mut results: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    let state = init();
                    let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                break;
                            }
                            done.push((i, work(&state, i)));
                        }
                    }));
                    if let Err(panic) = worked {
                        stop.store(true, Ordering::Relaxed);
                        drop(state);
                        std::panic::resume_unwind(panic);
                    }
                    done
                })
            })
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        let mut results = Vec::with_capacity(n);
        for j in joined {
            match j {
                Ok(done) => results.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::ordered;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_item_once_in_order_with_one_state_per_worker() {
        let states = AtomicUsize::new(0);
        let out = ordered(
            100,
            4,
            || states.fetch_add(1, Ordering::SeqCst),
            |_, i| i * 2,
        );
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!((1..=4).contains(&states.load(Ordering::SeqCst)));
        assert!(ordered(0, 4, || (), |_, i| i).is_empty());
    }

    #[test]
    fn a_panic_stops_the_pool_and_is_passed_on_after_every_worker_joined() {
        let taken = AtomicUsize::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ordered(
                10_000,
                2,
                || (),
                |_, i| {
                    taken.fetch_add(1, Ordering::SeqCst);
                    if i == 3 {
                        panic!("item 3 broke");
                    }
                    std::thread::sleep(std::time::Duration::from_micros(50));
                },
            )
        }));
        let msg = r.unwrap_err();
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"item 3 broke"));
        assert!(
            taken.load(Ordering::SeqCst) < 10_000,
            "the others stopped taking items"
        );
    }
}
