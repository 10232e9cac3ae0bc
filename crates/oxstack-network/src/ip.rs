//! Addresses and CIDRs as numbers (IPv4 and IPv6 alike, in a `u128`), for validation and
//! IPAM. Shared by the logic layer (validation) and the store (picking free addresses).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed CIDR: version, network address, prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub version: u8,
    pub net: u128,
    pub prefix: u8,
}

/// A parsed address.
pub fn parse_ip(s: &str) -> Option<(u8, u128)> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((4, u32::from(a) as u128)),
        IpAddr::V6(a) => Some((6, u128::from(a))),
    }
}

/// Renders an address of `version`.
pub fn render(version: u8, v: u128) -> String {
    if version == 4 {
        Ipv4Addr::from(v as u32).to_string()
    } else {
        Ipv6Addr::from(v).to_string()
    }
}

pub fn bits(version: u8) -> u8 {
    if version == 4 { 32 } else { 128 }
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n`; `strict` refuses host bits set.
    pub fn parse(s: &str, strict: bool) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok()?),
            None => (s, 255),
        };
        let (version, v) = parse_ip(addr)?;
        let prefix = if prefix == 255 { bits(version) } else { prefix };
        if prefix > bits(version) {
            return None;
        }
        let c = Cidr {
            version,
            net: v & mask(version, prefix),
            prefix,
        };
        if strict && c.net != v {
            return None;
        }
        Some(c)
    }
    pub fn first(&self) -> u128 {
        self.net
    }
    pub fn last(&self) -> u128 {
        self.net | !mask(self.version, self.prefix) & full(self.version)
    }
    pub fn contains(&self, v: u128) -> bool {
        v >= self.first() && v <= self.last()
    }
    pub fn overlaps(&self, o: &Cidr) -> bool {
        self.version == o.version && self.first() <= o.last() && o.first() <= self.last()
    }
    /// Number of addresses (saturating).
    pub fn size(&self) -> u128 {
        (self.last() - self.first()).saturating_add(1)
    }
    pub fn to_string_canonical(&self) -> String {
        format!("{}/{}", render(self.version, self.net), self.prefix)
    }
}

fn full(version: u8) -> u128 {
    if version == 4 {
        u32::MAX as u128
    } else {
        u128::MAX
    }
}

fn mask(version: u8, prefix: u8) -> u128 {
    let b = bits(version);
    if prefix == 0 {
        return 0;
    }
    (full(version) >> (b - prefix) << (b - prefix)) & full(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.0.0.0/24", true).expect("cidr");
        assert_eq!(render(4, c.first()), "10.0.0.0");
        assert_eq!(render(4, c.last()), "10.0.0.255");
        assert!(Cidr::parse("10.0.0.1/24", true).is_none());
        let c6 = Cidr::parse("2001:db8::/64", true).expect("cidr6");
        assert_eq!(render(6, c6.last()), "2001:db8::ffff:ffff:ffff:ffff");
        let a = Cidr::parse("10.0.0.0/16", true).expect("a");
        assert!(a.overlaps(&c));
        assert!(Cidr::parse("0.0.0.0/0", true).is_some());
    }
}
