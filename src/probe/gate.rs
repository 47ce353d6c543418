//! The connection gate: every TCP connection kensa opens goes through it, so politeness
//! holds whatever the probes do. Per IP address it allows at most `parallel_per_ip`
//! connections at once and waits `delay` after one closes before the next opens; per
//! endpoint it counts the connections, for the evidence and the benchmark.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::net;
use crate::evidence::Outcome;

/// Politeness settings shared by every endpoint of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Politeness {
    /// Most connections open at once to one IP address (at least 1).
    pub parallel_per_ip: u32,
    /// Pause between one connection to an IP closing and the next opening.
    pub delay: Duration,
}

impl Default for Politeness {
    fn default() -> Self {
        Politeness { parallel_per_ip: 1, delay: Duration::ZERO }
    }
}

/// One IP address's share of the gate.
#[derive(Debug)]
struct IpSlot {
    permits: Arc<Semaphore>,
    /// When the last connection to this IP was released.
    last_release: Mutex<Option<Instant>>,
}

/// The gates of every IP address in a scan.
#[derive(Debug, Default)]
pub struct Gates {
    politeness: Politeness,
    slots: Mutex<HashMap<IpAddr, Arc<IpSlot>>>,
}

impl Gates {
    /// Gates applying `politeness`.
    pub fn new(politeness: Politeness) -> Gates {
        Gates { politeness, slots: Mutex::new(HashMap::new()) }
    }

    /// The gate for one endpoint at `addr`, with its own connection counter.
    pub fn endpoint(&self, addr: SocketAddr) -> EndpointGate {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = slots
            .entry(addr.ip())
            .or_insert_with(|| {
                let permits = usize::try_from(self.politeness.parallel_per_ip.max(1)).unwrap_or(1);
                Arc::new(IpSlot { permits: Arc::new(Semaphore::new(permits)), last_release: Mutex::new(None) })
            })
            .clone();
        EndpointGate { addr, slot, delay: self.politeness.delay, connections: AtomicU32::new(0) }
    }
}

/// Opens connections to one endpoint under its IP's limits, and counts them.
#[derive(Debug)]
pub struct EndpointGate {
    addr: SocketAddr,
    slot: Arc<IpSlot>,
    delay: Duration,
    connections: AtomicU32,
}

impl EndpointGate {
    /// A gate of its own, for probing one endpoint outside a scan (tests, tools).
    pub fn standalone(addr: SocketAddr) -> EndpointGate {
        Gates::new(Politeness::default()).endpoint(addr)
    }

    /// The endpoint's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections opened (or attempted) so far.
    pub fn connections(&self) -> u32 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Waits for the IP's turn, then connects under `timeout`. The connection holds the
    /// IP's permit until the returned [`Gated`] is dropped.
    pub async fn connect(&self, timeout: Duration) -> Result<Gated, Outcome> {
        let permit = match self.slot.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => return Err(Outcome::Error { reason: "connection gate closed".to_string() }),
        };
        let last = *self.slot.last_release.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(last) = last {
            tokio::time::sleep_until(last + self.delay).await;
        }
        self.connections.fetch_add(1, Ordering::Relaxed);
        match net::connect(self.addr, timeout).await {
            Ok(stream) => Ok(Gated { stream, _permit: permit, slot: self.slot.clone() }),
            Err(outcome) => {
                *self.slot.last_release.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
                Err(outcome)
            }
        }
    }
}

/// An open connection that holds its IP's permit; dropping it closes the connection and
/// starts the IP's delay.
#[derive(Debug)]
pub struct Gated {
    pub stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    slot: Arc<IpSlot>,
}

impl Drop for Gated {
    fn drop(&mut self) {
        *self.slot.last_release.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
    }
}
