//! The one way the API and the pages run blocking work (store, index,
//! ledger) off the async threads: a task that stopped (a panic) is the
//! server's fault, logged once and answered as `internal`.

use crate::error::ApiError;

/// Runs `f` off the async work: in place on the multi-thread runtime
/// (`block_in_place`: no hand-off to another thread and back, a sixth of a
/// short search's latency), on the blocking pool on a current-thread one
/// (tests); its own result is passed through, a panic is `internal`.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(|_| ApiError::internal(&"a blocking task stopped: it panicked"))
        });
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&format_args!("a blocking task stopped: {e}")))
}

/// Runs fallible `f` as [`run`] does: its error, or a stopped task,
/// in the API's error shape.
pub async fn try_run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    run(f).await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[tokio::test]
    async fn answers_pass_through_and_a_panic_is_internal() {
        assert_eq!(run(|| 7).await.map_err(|e| e.code), Ok(7));
        let e = try_run(|| Err::<(), _>(ApiError::new(Code::CaseNotFound, "x")))
            .await
            .map_err(|e| e.code);
        assert_eq!(e, Err(Code::CaseNotFound));
        let p = run(|| -> u8 { panic!("boom") }).await.map_err(|e| e.code);
        assert_eq!(p, Err(Code::Internal));
    }
}
