//! What a host and a worker check at the handshake: that they agree on every type they exchange.
//!
//! A host and a worker built from different versions of a service would otherwise find out at the
//! first call, as a reply that does not decode, and the host would replace one worker after
//! another. So each side describes its job, reply and event types in full ([`Description::of`]):
//! every struct with its fields and their types, every enum with its variants and what they hold,
//! recursively, as the types' `Deserialize` impls announce them to a tracing deserializer. For a
//! `#[ipc2::service]` that covers each method's name, its arguments' names and types and its
//! result's type.
//!
//! The host puts the [`fingerprint`](Description::fingerprint) of its description in the worker's
//! invitation; a worker whose own differs sends its whole description after its `Hello`, and the
//! host refuses it with the [first difference](Description::first_difference) in words:
//!
//! ```
//! # #![allow(dead_code)]
//! use ipc2::schema::Description;
//!
//! mod v1 {
//!     #[derive(serde::Deserialize)]
//!     pub enum EvalRequest { Eval { script: String } }
//!     #[derive(serde::Deserialize)]
//!     pub enum EvalResponse { Eval(i64) }
//! }
//! mod v2 {
//!     #[derive(serde::Deserialize)]
//!     pub enum EvalRequest { Eval { script: String } }
//!     #[derive(serde::Deserialize)]
//!     pub enum EvalResponse { Eval(String) }
//! }
//! let host = Description::of::<v1::EvalRequest, v1::EvalResponse, ()>();
//! let worker = Description::of::<v2::EvalRequest, v2::EvalResponse, ()>();
//! assert_ne!(host.fingerprint(), worker.fingerprint());
//! assert_eq!(
//!     host.first_difference(&worker).as_deref(),
//!     Some("method Eval: the host expects a result of type i64, the worker returns String"),
//! );
//! ```
//!
//! What cannot be traced is described as opaque and not compared: a type whose `Deserialize`
//! needs a self-describing format (`#[serde(untagged)]`, `#[serde(flatten)]`,
//! `serde_json::Value`), or one that rejects every value the tracer offers. Such a type cannot
//! travel over bincode either, except the last kind.

mod diff;
mod trace;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The full structure of the job, reply and event types one side of a connection uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// The named types (structs and enums) the roots reach, each once, referred to by index.
    containers: Vec<Container>,
    /// The job type, the reply type and the event type, in that order.
    roots: [Shape; 3],
}

/// The role of a type in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Job,
    Reply,
    Event,
}

const ROLES: [Role; 3] = [Role::Job, Role::Reply, Role::Event];

/// What a value of one type looks like to `Deserialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Shape {
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    Bytes,
    Unit,
    Option(Box<Shape>),
    Seq(Box<Shape>),
    Map(Box<Shape>, Box<Shape>),
    Tuple(Vec<Shape>),
    /// A struct or enum: its index in [`Description::containers`].
    Named(u32),
    /// A place the tracer did not need to visit (the elements of a sequence inside a recursion
    /// that was cut short); never compared.
    Unknown,
    /// A type the tracer could not describe, and why; never compared.
    Opaque(String),
}

/// A named struct or enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Container {
    Struct {
        name: String,
        fields: Fields,
    },
    Enum {
        name: String,
        variants: Vec<Variant>,
    },
}

/// One variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Variant {
    name: String,
    fields: Fields,
}

/// What a struct or an enum variant holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Fields {
    Unit,
    Newtype(Shape),
    Tuple(Vec<Shape>),
    Named(Vec<(String, Shape)>),
    /// Could not be described, and why; never compared.
    Opaque(String),
}

impl Description {
    /// Describes the job type `J`, the reply type `R` and the event type `E`.
    pub fn of<J: DeserializeOwned, R: DeserializeOwned, E: DeserializeOwned>() -> Self {
        let mut tracer = trace::Tracer::default();
        let roots = [tracer.root::<J>(), tracer.root::<R>(), tracer.root::<E>()];
        Self {
            containers: tracer.finish(),
            roots,
        }
    }

    /// A 64-bit digest of the description: equal descriptions have equal fingerprints, so the
    /// handshake compares whole descriptions only when the fingerprints differ.
    pub fn fingerprint(&self) -> u64 {
        // FNV-1a over the encoding, hashed as it is written: stable across builds and platforms,
        // unlike `DefaultHasher`. Writing to the hash cannot fail, nor can encoding plain data.
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        let _ = bincode::serde::encode_into_std_write(self, &mut hash, bincode::config::standard());
        hash.0
    }

    /// The first difference between this description, the host's, and `worker`'s, in words,
    /// or `None` if they agree everywhere both could be described.
    pub fn first_difference(&self, worker: &Description) -> Option<String> {
        diff::first_difference(self, worker)
    }
}

/// An FNV-1a hash that bytes are written into.
struct Fnv(u64);

impl std::io::Write for Fnv {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
