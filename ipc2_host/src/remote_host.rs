//! [`RemoteHost`]: where a worker runs when it is not on the host's machine, so that reports and
//! snapshots never show a remote process id as if it were a local one.

use std::fmt;
use std::net::SocketAddr;

/// The machine a worker on another machine runs on: one that an orchestrator started there and
/// that dialed this host (see
/// [`WorkerSetBuilder::remote_workers`](crate::WorkerSetBuilder::remote_workers)).
///
/// Its `Display` reads "on node-7 (10.0.0.7:41234)".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RemoteHost {
    /// The address its connection came from.
    pub address: SocketAddr,
    /// The name of its machine, as the worker reported it (empty if it could not tell).
    pub host_name: String,
}

impl fmt::Display for RemoteHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_name.is_empty() {
            true => write!(f, "at {}", self.address),
            false => write!(f, "on {} ({})", self.host_name, self.address),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_names_the_machine_and_the_address() {
        let mut remote = RemoteHost {
            address: "10.0.0.7:41234".parse().unwrap(),
            host_name: "node-7".into(),
        };
        assert_eq!(remote.to_string(), "on node-7 (10.0.0.7:41234)");
        remote.host_name.clear();
        assert_eq!(remote.to_string(), "at 10.0.0.7:41234");
    }
}
