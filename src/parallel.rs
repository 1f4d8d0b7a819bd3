//! Work shared with a second thread: from how many services it pays, and the two halves run
//! side by side.

/// From how many services their reading (`spec::chunked`) and their validation
/// (`validate::Validator::spec`) are shared with a second thread (at 1,000 services reading
/// the runs was 45 M of `check`'s 126 M instructions, validating them 20 M; at 20, the whole
/// build takes a few milliseconds and a thread's start would show).
pub(crate) const PARALLEL_FROM: usize = 64;

/// `first` on this thread while `second` runs on a second one; both results. A panic of
/// `second` is resumed here once `first` is done (one of `first` ends the scope, which
/// waits for `second` first).
pub(crate) fn join<A, B: Send>(
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let other = scope.spawn(second);
        let a = first();
        let b = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}
