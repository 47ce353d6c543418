//! kensa (検査) checks an online-medical-care system's network posture against the MHLW
//! guideline 「オンライン診療の適切な実施に関する指針」 V.2.(5) and reports item by item.
//!
//! Data flows one way: [`target`] → [`resolve`] → [`probe`] (network I/O only) →
//! [`evidence`] (plain data) → [`checks`] (pure functions of evidence) → [`profile`] items
//! → [`verdict`] → [`report`]. See ARCHITECTURE.md for the map.

#![forbid(unsafe_code)]

pub mod bench;
pub mod bundle;
pub mod certificate;
pub mod chain;
pub mod checks;
pub mod cli;
pub mod ct;
pub mod declaration;
pub mod demo;
pub mod domain;
pub mod drift;
pub mod evidence;
pub mod history;
mod http_head;
pub mod i18n;
pub mod input;
pub mod issuer_bundle;
pub mod manifest;
pub mod metrics;
pub mod monitor;
pub mod posture;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod report;
pub mod resolve;
pub mod revocation;
pub mod suite_class;
pub mod target;
pub mod testkit;
pub mod trust;
pub mod verdict;
pub mod wire;
