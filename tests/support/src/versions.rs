//! Versions of one service, `Eval`, for `tests/versions.rs` and the `skew_worker` helper. The test
//! host is built with [`base`]; each other module changes one thing of it, as a worker built from
//! another version of the shared types would.

/// The version the test host is built with.
pub mod base {
    use serde::{Deserialize, Serialize};

    /// A struct argument, holding another struct.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Outer {
        pub inner: Inner,
    }

    /// The struct two levels down.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Inner {
        pub x: u32,
    }

    /// An enum result.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Kind {
        Small,
        Large,
    }

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: String) -> i64;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}

/// `eval` returns a `String` instead of an `i64`.
pub mod result_changed {
    pub use super::base::{Kind, Outer};

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: String) -> String;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}

/// `eval` takes a second argument.
pub mod argument_added {
    pub use super::base::{Kind, Outer};

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: String, limit: u32) -> i64;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}

/// `eval`'s argument is a list of lines instead of a `String`.
pub mod argument_changed {
    pub use super::base::{Kind, Outer};

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: Vec<String>) -> i64;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}

/// `Inner::x`, two structs inside `area`'s argument, is an `i64`.
pub mod deep_field {
    use serde::{Deserialize, Serialize};

    pub use super::base::Kind;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Outer {
        pub inner: Inner,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Inner {
        pub x: i64,
    }

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: String) -> i64;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}

/// `Kind::Large` is called `Big`.
pub mod variant_renamed {
    use serde::{Deserialize, Serialize};

    pub use super::base::Outer;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub enum Kind {
        Small,
        Big,
    }

    #[ipc2::service]
    pub trait Eval {
        async fn eval(&self, script: String) -> i64;
        async fn area(&self, shape: Outer) -> u32;
        async fn classify(&self, x: u32) -> Kind;
    }
}
