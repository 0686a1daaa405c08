//! A second service, combined with `Calc` on one set by `tests/combined.rs`.

/// A tiny key-value store.
#[ipc2::service]
pub trait Store {
    /// Stores `value` under `key`.
    async fn put(&self, key: String, value: String);
    /// The value under `key`.
    async fn get(&self, key: String) -> Option<String>;
}
