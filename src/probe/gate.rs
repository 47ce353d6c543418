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

/// The IP's turn for a connection another client opens (the HTTP posture probe's reqwest
/// client): the permit and the delay apply, but the connection is not counted among the
/// endpoint's TLS connections. Dropping it starts the IP's delay.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
    slot: Arc<IpSlot>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        *self.slot.last_release.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
    }
}

impl EndpointGate {
    /// Waits for the IP's turn (its permit, then the delay after the last connection), for
    /// a connection opened by someone else while the returned [`Turn`] is held.
    pub async fn turn(&self) -> Option<Turn> {
        let permit = self.slot.permits.clone().acquire_owned().await.ok()?;
        let last = *self.slot.last_release.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(last) = last {
            tokio::time::sleep_until(last + self.delay).await;
        }
        Some(Turn { _permit: permit, slot: self.slot.clone() })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A listener that records the most connections it ever had open at once.
    async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let seen = most.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (open, most) = (open.clone(), most.clone());
                tokio::spawn(async move {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let mut sink = [0u8; 64];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        (addr, seen)
    }

    async fn hold_connections(gates: &Gates, addr: SocketAddr, count: usize) -> u32 {
        let gate = gates.endpoint(addr);
        let holds = (0..count).map(|_| async {
            let connection = gate.connect(Duration::from_secs(2)).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(connection);
        });
        futures::future::join_all(holds).await;
        gate.connections()
    }

    #[tokio::test]
    async fn one_connection_at_a_time_per_ip_by_default() {
        let (addr, most) = counting_listener().await;
        let counted = hold_connections(&Gates::new(Politeness::default()), addr, 6).await;
        assert_eq!(counted, 6);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn parallel_per_ip_raises_the_limit_but_keeps_it() {
        let (addr, most) = counting_listener().await;
        let politeness = Politeness { parallel_per_ip: 3, delay: Duration::ZERO };
        hold_connections(&Gates::new(politeness), addr, 9).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let most = most.load(Ordering::SeqCst);
        assert!((2..=3).contains(&most), "most open at once: {most}");
    }

    #[tokio::test]
    async fn delay_separates_connections_to_one_ip() {
        let (addr, _) = counting_listener().await;
        let politeness = Politeness { parallel_per_ip: 1, delay: Duration::from_millis(60) };
        let started = Instant::now();
        hold_connections(&Gates::new(politeness), addr, 4).await;
        // Three gaps of at least the delay: a lower bound on correctness, not a speed target.
        assert!(started.elapsed() >= Duration::from_millis(180), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn failed_connects_are_counted_and_reported() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let gate = EndpointGate::standalone(free);
        assert!(matches!(gate.connect(Duration::from_secs(2)).await, Err(Outcome::ConnectFailed { .. })));
        assert_eq!(gate.connections(), 1);
    }
}
