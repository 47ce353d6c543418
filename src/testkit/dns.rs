//! An in-process DNS world: authoritative hickory-server instances on loopback, for the
//! domain-survey tests and `kensa demo`.
//!
//! # Laying out a world
//!
//! A world is a set of zones and a set of servers. Every server listens on its own loopback
//! address (`127.0.0.N`, N ≥ 2) but all on **one** port, so that a survey told
//! "authoritative servers answer on port P" can reach each of them by the address the zones
//! publish in their glue:
//!
//! ```text
//! jp.                      served by 127.0.0.2 (a.dns.jp), signed: the trust anchor
//!   clinic-example.co.jp.  NS ns1/ns2.clinic-example.co.jp + glue → 127.0.0.3, 127.0.0.4
//! clinic-example.co.jp.    served by 127.0.0.3 and 127.0.0.4, signed; its DS is put in jp.
//! ```
//!
//! Write each zone as zone-file text with absolute names or relative to its origin; the
//! parent's delegation (NS plus glue A records) is written by hand, exactly as a registry
//! would publish it, so that a test can make parent and child disagree. DS records are not
//! written by hand: for every signed zone, the world adds a DS for its key to the closest
//! enclosing zone of the world before that zone is signed. Realistic names matter: the
//! survey downstream finds registrable domains with the public suffix list, so put clinics
//! under `co.jp` (which lies inside the `jp.` zone) and the like.
//!
//! Besides the authoritative servers, every world has a **resolver view** on 127.0.0.1 (same
//! port): one server that answers authoritatively from every zone of the world, choosing the
//! most specific zone for each name, except that `DS` questions go to the parent zone as
//! they would on the internet. Point kensa's `--resolver` at it; a stub resolver cannot tell
//! it from a recursive one.
//!
//! hickory-server adds glue (additional A/AAAA records) for the first NS name of a set only;
//! give the other name servers addresses in the child zone too if a test needs them found.
//!
//! The trust anchor for a signed world is the DNSKEY of its topmost signed zone, as zone-file
//! text, ready for `--dnssec-anchor`.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::proto::dnssec::crypto::Ed25519SigningKey;
use hickory_server::proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, RRSIG};
use hickory_server::proto::dnssec::{Algorithm, DigestType, DnssecSigner, SigningKey};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;

/// How a zone is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Not signed: no DNSKEY, no RRSIG, no DS at the parent.
    Unsigned,
    /// Signed with a fresh Ed25519 key; the parent gets its DS.
    Signed,
    /// Signed, then every signature over the zone's DNSKEY and SOA sets is corrupted
    /// (one byte flipped), so a validator must call it bogus.
    CorruptSignatures,
    /// Signed, but the DS put at the parent is that of another key (a botched key rollover).
    MismatchedDs,
}

impl Signing {
    fn signed(self) -> bool {
        self != Signing::Unsigned
    }
}

/// One zone of a world.
#[derive(Clone, Debug)]
pub struct ZoneSpec {
    /// The zone's origin, e.g. `jp.` (the trailing dot is optional).
    pub origin: String,
    /// Zone-file text; must contain the SOA and the apex NS set.
    pub text: String,
    /// Whether and how the world signs it.
    pub signing: Signing,
}

/// One authoritative server of a world.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// A loopback address other than 127.0.0.1 (taken by the resolver view).
    pub address: Ipv4Addr,
    /// Origins of the zones it serves; none makes a server that refuses every question
    /// (a lame delegation).
    pub zones: Vec<String>,
}

/// The zones and servers of a world, before it starts.
#[derive(Clone, Debug, Default)]
pub struct DnsWorldBuilder {
    zones: Vec<ZoneSpec>,
    servers: Vec<ServerSpec>,
}

impl DnsWorldBuilder {
    /// Adds a zone.
    pub fn zone(mut self, origin: &str, text: &str, signing: Signing) -> Self {
        self.zones.push(ZoneSpec { origin: origin.to_string(), text: text.to_string(), signing });
        self
    }

    /// Adds a server at `address` (e.g. `127.0.0.2`) serving the zones named by `origins`.
    pub fn server(mut self, address: &str, origins: &[&str]) -> Self {
        let address = address.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.servers.push(ServerSpec { address, zones: origins.iter().map(|o| o.to_string()).collect() });
        self
    }

    /// Builds the zones (signing them) and starts every server on one shared port.
    pub async fn start(self) -> Result<DnsWorld, String> {
        for server in &self.servers {
            if !server.address.is_loopback() || server.address == Ipv4Addr::LOCALHOST {
                return Err(format!(
                    "server address {} must be a loopback address other than 127.0.0.1",
                    server.address
                ));
            }
        }
        let zones = build_zones(&self.zones)?;
        let mut last_error = String::new();
        // Another process may hold the port on one of the other addresses: pick a new one.
        for _ in 0..10 {
            match bind_all(&self.servers).await {
                Ok(sockets) => return Ok(serve(sockets, &self.servers, zones)),
                Err(e) => last_error = e,
            }
        }
        Err(format!("could not bind the DNS world: {last_error}"))
    }
}

/// A running DNS world. Dropping it stops the servers; [`DnsWorld::shutdown`] does so and waits.
pub struct DnsWorld {
    /// The UDP and TCP port every server of the world listens on.
    pub port: u16,
    /// The resolver view (127.0.0.1 on [`DnsWorld::port`]), for `--resolver`.
    pub resolver: SocketAddr,
    /// The authoritative servers' addresses, in the order they were added.
    pub servers: Vec<IpAddr>,
    /// The DNSKEY of the topmost signed zone as zone-file text (`jp. 3600 IN DNSKEY 256 3 15 …`);
    /// empty when nothing is signed.
    pub trust_anchor: String,
    /// The DS of every signed zone's key as zone-file text, one per line (for tests of DS anchors).
    pub ds_records: String,
    running: Vec<Server<Box<dyn DynHandler>>>,
}

impl DnsWorld {
    /// Starts describing a world.
    pub fn builder() -> DnsWorldBuilder {
        DnsWorldBuilder::default()
    }

    /// Stops every server and waits for them to finish.
    pub async fn shutdown(mut self) {
        for server in self.running.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(2), server.shutdown_gracefully()).await;
        }
    }
}

impl Drop for DnsWorld {
    fn drop(&mut self) {
        for server in &self.running {
            server.shutdown_token().cancel();
        }
    }
}

struct BuiltZones {
    handlers: BTreeMap<LowerName, Arc<InMemoryZoneHandler>>,
    trust_anchor: String,
    ds_records: String,
}

fn fqdn(origin: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(origin).map_err(|e| format!("bad zone origin {origin:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

fn new_signer(origin: &Name) -> Result<(DnssecSigner, DNSKEY), String> {
    let pkcs8 = Ed25519SigningKey::generate_pkcs8().map_err(|e| e.to_string())?;
    let key = Ed25519SigningKey::from_pkcs8(&pkcs8).map_err(|e| e.to_string())?;
    let public = key.to_public_key().map_err(|e| e.to_string())?;
    let dnskey = DNSKEY::from_key(&public);
    let signer = DnssecSigner::new(dnskey.clone(), Box::new(key), origin.clone(), Duration::from_secs(7 * 86_400));
    Ok((signer, dnskey))
}

fn ds_for(origin: &Name, dnskey: &DNSKEY) -> Result<DS, String> {
    let digest = dnskey.to_digest(origin, DigestType::SHA256).map_err(|e| e.to_string())?;
    let tag = dnskey.calculate_key_tag().map_err(|e| e.to_string())?;
    Ok(DS::new(tag, Algorithm::ED25519, DigestType::SHA256, digest.as_ref().to_vec()))
}

fn build_zones(specs: &[ZoneSpec]) -> Result<BuiltZones, String> {
    struct Pending {
        origin: Name,
        handler: InMemoryZoneHandler,
        spec: ZoneSpec,
    }
    let mut pending: Vec<Pending> = Vec::new();
    for spec in specs {
        let origin = fqdn(&spec.origin)?;
        let (parsed_origin, records) = Parser::new(spec.text.as_str(), None, Some(origin.clone()))
            .parse()
            .map_err(|e| format!("zone {origin}: {e}"))?;
        if parsed_origin != origin {
            return Err(format!("zone text for {origin} has origin {parsed_origin}"));
        }
        let nx = spec.signing.signed().then_some(NxProofKind::Nsec);
        let handler = InMemoryZoneHandler::new(origin.clone(), records, ZoneType::Primary, AxfrPolicy::Deny, nx)?;
        pending.push(Pending { origin, handler, spec: spec.clone() });
    }
    // Keys first, then DS records into parents, then signatures: a parent's signatures must
    // cover the DS records of its children.
    let mut trust_anchor = String::new();
    let mut ds_records = String::new();
    let mut top_signed: Option<usize> = None;
    let mut ds_to_add: Vec<(Name, Record)> = Vec::new();
    for zone in pending.iter_mut() {
        if !zone.spec.signing.signed() {
            continue;
        }
        let (signer, dnskey) = new_signer(&zone.origin)?;
        zone.handler.add_zone_signing_key_mut(signer).map_err(|e| e.to_string())?;
        let ds = if zone.spec.signing == Signing::MismatchedDs {
            ds_for(&zone.origin, &new_signer(&zone.origin)?.1)?
        } else {
            ds_for(&zone.origin, &dnskey)?
        };
        ds_records.push_str(&format!("{} 3600 IN DS {ds}\n", zone.origin));
        ds_to_add.push((
            zone.origin.clone(),
            Record::from_rdata(zone.origin.clone(), 3600, RData::DNSSEC(DNSSECRData::DS(ds))),
        ));
    }
    for (i, zone) in pending.iter().enumerate() {
        if zone.spec.signing.signed()
            && top_signed.is_none_or(|t| pending[t].origin.num_labels() > zone.origin.num_labels())
        {
            top_signed = Some(i);
        }
    }
    for (child, record) in ds_to_add {
        let parent = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.origin != child && p.origin.zone_of(&child))
            .max_by_key(|(_, p)| p.origin.num_labels())
            .map(|(i, _)| i);
        if let Some(parent) = parent {
            let handler = &mut pending[parent].handler;
            let serial = soa_serial(handler);
            handler.upsert_mut(record, serial);
        }
    }
    let mut handlers = BTreeMap::new();
    for (i, mut zone) in pending.into_iter().enumerate() {
        if zone.spec.signing.signed() {
            zone.handler.secure_zone_mut().map_err(|e| format!("signing {}: {e}", zone.origin))?;
            if Some(i) == top_signed {
                let records = zone.handler.records_get_mut();
                if let Some(set) = records.get(&RrKey::new(LowerName::new(&zone.origin), RecordType::DNSKEY)) {
                    for record in set.records_without_rrsigs() {
                        trust_anchor.push_str(&format!("{} 3600 IN DNSKEY {}\n", zone.origin, record.data));
                    }
                }
            }
            if zone.spec.signing == Signing::CorruptSignatures {
                corrupt(&mut zone.handler, &zone.origin, &[RecordType::DNSKEY, RecordType::SOA]);
            }
        }
        handlers.insert(LowerName::new(&zone.origin), Arc::new(zone.handler));
    }
    Ok(BuiltZones { handlers, trust_anchor, ds_records })
}

fn soa_serial(handler: &mut InMemoryZoneHandler) -> u32 {
    handler
        .records_get_mut()
        .values()
        .flat_map(|set| set.records_without_rrsigs())
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .unwrap_or(0)
}

/// Flips one byte in every RRSIG over the `types` sets at the apex.
fn corrupt(handler: &mut InMemoryZoneHandler, origin: &Name, types: &[RecordType]) {
    let records = handler.records_get_mut();
    for rtype in types {
        let key = RrKey::new(LowerName::new(origin), *rtype);
        let Some(set) = records.get(&key) else { continue };
        let mut set: RecordSet = (**set).clone();
        let rrsigs: Vec<Record> = set
            .rrsigs()
            .iter()
            .map(|rec| {
                let mut rec = rec.clone();
                if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &rec.data {
                    let mut bytes = sig.sig().to_vec();
                    if let Some(first) = bytes.first_mut() {
                        *first ^= 0xff;
                    }
                    rec.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(sig.input().clone(), bytes)));
                }
                rec
            })
            .collect();
        set.set_rrsigs(rrsigs);
        records.insert(key, Arc::new(set));
    }
}

struct Sockets {
    port: u16,
    /// (address, UDP, TCP); the resolver view first.
    bound: Vec<(Ipv4Addr, tokio::net::UdpSocket, tokio::net::TcpListener)>,
}

async fn bind_all(servers: &[ServerSpec]) -> Result<Sockets, String> {
    let first = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(|e| e.to_string())?;
    let port = first.local_addr().map_err(|e| e.to_string())?.port();
    let tcp = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await.map_err(|e| e.to_string())?;
    let mut bound = vec![(Ipv4Addr::LOCALHOST, first, tcp)];
    for server in servers {
        let udp = tokio::net::UdpSocket::bind((server.address, port))
            .await
            .map_err(|e| format!("{}:{port}: {e}", server.address))?;
        let tcp = tokio::net::TcpListener::bind((server.address, port))
            .await
            .map_err(|e| format!("{}:{port}: {e}", server.address))?;
        bound.push((server.address, udp, tcp));
    }
    Ok(Sockets { port, bound })
}

fn serve(sockets: Sockets, servers: &[ServerSpec], zones: BuiltZones) -> DnsWorld {
    let mut running = Vec::new();
    let mut addresses = Vec::new();
    for (i, (address, udp, tcp)) in sockets.bound.into_iter().enumerate() {
        let handler: Box<dyn DynHandler> = if i == 0 {
            Box::new(ResolverView::new(&zones.handlers))
        } else {
            addresses.push(IpAddr::V4(address));
            let mut catalog = Catalog::new();
            for origin in servers.get(i - 1).map(|s| s.zones.as_slice()).unwrap_or_default() {
                let Ok(name) = fqdn(origin) else { continue };
                let name = LowerName::new(&name);
                if let Some(handler) = zones.handlers.get(&name) {
                    catalog.upsert(name, vec![handler.clone() as Arc<dyn ZoneHandler>]);
                }
            }
            Box::new(catalog)
        };
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65_535);
        running.push(server);
    }
    DnsWorld {
        port: sockets.port,
        resolver: SocketAddr::from((Ipv4Addr::LOCALHOST, sockets.port)),
        servers: addresses,
        trust_anchor: zones.trust_anchor,
        ds_records: zones.ds_records,
        running,
    }
}

/// Answers from the most specific zone of the world, except DS from the parent zone.
struct ResolverView {
    /// One catalog per zone, most specific (most labels) first.
    zones: Vec<(LowerName, Catalog)>,
    refuse: Catalog,
}

impl ResolverView {
    fn new(handlers: &BTreeMap<LowerName, Arc<InMemoryZoneHandler>>) -> Self {
        let mut zones: Vec<(LowerName, Catalog)> = handlers
            .iter()
            .map(|(origin, handler)| {
                let mut catalog = Catalog::new();
                catalog.upsert(origin.clone(), vec![handler.clone() as Arc<dyn ZoneHandler>]);
                (origin.clone(), catalog)
            })
            .collect();
        zones.sort_by_key(|(origin, _)| std::cmp::Reverse(origin.num_labels()));
        ResolverView { zones, refuse: Catalog::new() }
    }

    fn pick(&self, request: &Request) -> &Catalog {
        let Ok(info) = request.request_info() else { return &self.refuse };
        let name = info.query.name();
        let ds = info.query.query_type() == RecordType::DS;
        self.zones
            .iter()
            .find(|(origin, _)| origin.zone_of(name) && !(ds && origin == name))
            .map(|(_, catalog)| catalog)
            .unwrap_or(&self.refuse)
    }
}

/// `RequestHandler` is generic over the response sink, so it is not object safe; the servers
/// of a world hold either a plain catalog or the resolver view behind this enum-like box.
trait DynHandler: Send + Sync + Unpin + 'static {
    fn choose(&self, request: &Request) -> &Catalog;
}

impl DynHandler for Catalog {
    fn choose(&self, _request: &Request) -> &Catalog {
        self
    }
}

impl DynHandler for ResolverView {
    fn choose(&self, request: &Request) -> &Catalog {
        self.pick(request)
    }
}

// The trait is declared with `async_trait`; this is its expansion, written out to avoid a
// dependency for one impl.
impl RequestHandler for Box<dyn DynHandler> {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: ResponseHandler + 'async_trait,
        T: Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.choose(request).handle_request::<R, T>(request, response_handle)
    }
}
