//! A second service, combined with `Calc` on one set by `tests/combined.rs`.

/// The event `Store`'s handlers emit: a key was stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    /// The key.
    pub key: String,
}

/// A tiny key-value store.
#[ipc2::service(event = Stored)]
pub trait Store {
    /// Stores `value` under `key`, and emits [`Stored`].
    async fn put(&self, key: String, value: String);
    /// The value under `key`.
    async fn get(&self, key: String) -> Option<String>;
}
