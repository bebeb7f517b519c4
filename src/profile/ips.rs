//! The addresses a user has called from, with first and last sight, hit
//! counts and network prefixes; bounded, evicting the least recently seen.

use std::net::IpAddr;

use crate::time::Timestamp;

/// One known address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpSighting {
    /// The address.
    pub ip: IpAddr,
    /// First event time it was seen, in seconds since the epoch.
    pub first_seen_s: u32,
    /// Latest event time it was seen, in seconds since the epoch.
    pub last_seen_s: u32,
    /// Events from it.
    pub hits: u32,
}

/// What the table knew of an address before this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Familiarity {
    /// Seen before.
    Known,
    /// Never seen, but inside a known /24 (IPv4) or /48 (IPv6).
    SamePrefix,
    /// Never seen and outside every known prefix.
    New,
}

/// The bounded table of known addresses.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct KnownIps {
    entries: Vec<IpSighting>,
}

impl KnownIps {
    /// How familiar `ip` is.
    #[must_use]
    pub fn familiarity(&self, ip: IpAddr) -> Familiarity {
        if self.entries.iter().any(|e| e.ip == ip) {
            Familiarity::Known
        } else if self.entries.iter().any(|e| same_prefix(e.ip, ip)) {
            Familiarity::SamePrefix
        } else {
            Familiarity::New
        }
    }

    /// Heap bytes held by the remembered addresses.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<IpSighting>()
    }

    /// Number of addresses remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The known addresses.
    pub fn iter(&self) -> impl Iterator<Item = &IpSighting> {
        self.entries.iter()
    }

    /// Records a sighting of `ip` at `at`, evicting the least recently seen
    /// address when the table already holds `capacity`.
    pub fn record(&mut self, ip: IpAddr, at: Timestamp, capacity: usize) {
        let second = epoch_seconds(at);
        if let Some(entry) = self.entries.iter_mut().find(|e| e.ip == ip) {
            entry.last_seen_s = entry.last_seen_s.max(second);
            entry.first_seen_s = entry.first_seen_s.min(second);
            entry.hits = entry.hits.saturating_add(1);
            return;
        }
        if self.entries.len() >= capacity.max(1) {
            self.evict_stalest();
        }
        self.entries.reserve_exact(1);
        self.entries.push(IpSighting {
            ip,
            first_seen_s: second,
            last_seen_s: second,
            hits: 1,
        });
    }

    fn evict_stalest(&mut self) {
        if let Some(index) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].last_seen_s) {
            self.entries.swap_remove(index);
        }
    }

    /// Whether every address used within `window_s` seconds before `at` was
    /// first seen within that window too, and older addresses exist: the
    /// user's whole recent footprint is new.
    #[must_use]
    pub fn recent_all_new(&self, at: Timestamp, window_s: u32) -> bool {
        let since = epoch_seconds(at).saturating_sub(window_s);
        let mut recent = self
            .entries
            .iter()
            .filter(|e| e.last_seen_s >= since)
            .peekable();
        let has_old = self.entries.iter().any(|e| e.first_seen_s < since);
        has_old && recent.peek().is_some() && recent.all(|e| e.first_seen_s >= since)
    }
}

/// Seconds since the epoch, clamped to the `u32` range the table stores.
#[must_use]
pub fn epoch_seconds(at: Timestamp) -> u32 {
    u32::try_from(at.epoch_second().max(0)).unwrap_or(u32::MAX)
}

/// Whether two addresses share a /24 (IPv4) or /48 (IPv6) prefix.
#[must_use]
pub fn same_prefix(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => a.octets()[..6] == b.octets()[..6],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn familiarity_distinguishes_known_prefix_and_new() {
        let mut ips = KnownIps::default();
        ips.record(ip("198.51.100.7"), Timestamp(0), 8);
        ips.record(ip("2001:db8:1::5"), Timestamp(0), 8);
        assert_eq!(ips.familiarity(ip("198.51.100.7")), Familiarity::Known);
        assert_eq!(ips.familiarity(ip("198.51.100.9")), Familiarity::SamePrefix);
        assert_eq!(
            ips.familiarity(ip("2001:db8:1:ff::1")),
            Familiarity::SamePrefix
        );
        assert_eq!(ips.familiarity(ip("203.0.113.9")), Familiarity::New);
    }

    #[test]
    fn the_least_recently_seen_address_is_evicted() {
        let mut ips = KnownIps::default();
        ips.record(ip("192.0.2.1"), Timestamp(1_000), 2);
        ips.record(ip("192.0.2.2"), Timestamp(2_000), 2);
        ips.record(ip("192.0.2.1"), Timestamp(3_000), 2);
        ips.record(ip("192.0.2.3"), Timestamp(4_000), 2);
        let kept: Vec<_> = ips.iter().map(|e| e.ip).collect();
        assert!(kept.contains(&ip("192.0.2.1")) && kept.contains(&ip("192.0.2.3")));
        assert_eq!(ips.len(), 2);
    }

    #[test]
    fn recent_all_new_needs_old_addresses_and_only_new_recent_ones() {
        let day = 86_400_000;
        let mut ips = KnownIps::default();
        ips.record(ip("192.0.2.1"), Timestamp(0), 8);
        ips.record(ip("203.0.113.5"), Timestamp(3 * day), 8);
        assert!(ips.recent_all_new(Timestamp(3 * day), 86_400));
        ips.record(ip("192.0.2.1"), Timestamp(3 * day), 8);
        assert!(!ips.recent_all_new(Timestamp(3 * day), 86_400));
    }
}
