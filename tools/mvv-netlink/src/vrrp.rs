//! VRRP identifiers and virtual MAC addresses (RFC 5798 section 7.3,
//! RFC 9568), and MAC address parsing.

use std::fmt;
use std::str::FromStr;

/// The IEEE OUI prefix of every VRRP virtual MAC: 00-00-5E-00-01-{VRID}
/// for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
pub const VMAC_PREFIX: [u8; 4] = [0x00, 0x00, 0x5e, 0x00];

/// The address family a VRRP group runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// The fifth byte of the virtual MAC.
    pub fn vmac_byte(self) -> u8 {
        match self {
            Family::Ipv4 => 0x01,
            Family::Ipv6 => 0x02,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ipv4" | "inet" | "4" => Ok(Family::Ipv4),
            "ipv6" | "inet6" | "6" => Ok(Family::Ipv6),
            _ => Err(format!("unknown address family {s:?}: use ipv4 or ipv6")),
        }
    }
}

/// A VRRP virtual router identifier, 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vrid(u8);

impl Vrid {
    /// Checks the range: VRID 0 is reserved and 256 does not fit in the
    /// one-byte field.
    pub fn new(v: u32) -> Result<Vrid, String> {
        match u8::try_from(v) {
            Ok(b) if b >= 1 => Ok(Vrid(b)),
            _ => Err(format!(
                "VRID {v} is out of range: a VRRP virtual router ID is 1..=255"
            )),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Vrid {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let v: u32 = s
            .trim()
            .parse()
            .map_err(|_| format!("VRID {s:?} is not a number: use 1..=255"))?;
        Vrid::new(v)
    }
}

/// The virtual MAC of a group: 00:00:5e:00:01:VRID (IPv4) or
/// 00:00:5e:00:02:VRID (IPv6).
pub fn virtual_mac(family: Family, vrid: Vrid) -> [u8; 6] {
    let p = VMAC_PREFIX;
    [p[0], p[1], p[2], p[3], family.vmac_byte(), vrid.get()]
}

/// The family and VRID a MAC stands for, if it is a VRRP virtual MAC.
pub fn vrid_of_mac(mac: &[u8]) -> Option<(Family, Vrid)> {
    if mac.len() != 6 || mac[..4] != VMAC_PREFIX {
        return None;
    }
    let family = match mac[4] {
        0x01 => Family::Ipv4,
        0x02 => Family::Ipv6,
        _ => return None,
    };
    Vrid::new(u32::from(mac[5])).ok().map(|v| (family, v))
}

/// "00:00:5e:00:01:0a".
pub fn fmt_mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses "00:00:5e:00:01:0a" (or with '-' separators). Only accepts an
/// address usable as a device address: not multicast, not all zeros.
pub fn parse_unicast_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!(
            "bad MAC address {s:?}: expected six hex bytes like 00:00:5e:00:01:0a"
        ));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("bad MAC address {s:?}: byte {} is {p:?}", i + 1));
        }
        mac[i] = u8::from_str_radix(p, 16)
            .map_err(|_| format!("bad MAC address {s:?}: byte {} is {p:?}", i + 1))?;
    }
    if mac[0] & 1 != 0 {
        return Err(format!(
            "MAC address {s} is a multicast address; a device needs a unicast one"
        ));
    }
    if mac == [0; 6] {
        return Err("MAC address 00:00:00:00:00:00 is not a valid device address".into());
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrid_range() {
        assert!(Vrid::new(0).is_err());
        assert!(Vrid::new(256).is_err());
        assert!(Vrid::new(u32::MAX).is_err());
        assert_eq!(Vrid::new(1).unwrap().get(), 1);
        assert_eq!(Vrid::new(255).unwrap().get(), 255);
        assert!("0".parse::<Vrid>().unwrap_err().contains("1..=255"));
        assert!("256".parse::<Vrid>().unwrap_err().contains("1..=255"));
        assert!("-1".parse::<Vrid>().is_err());
        assert!("ten".parse::<Vrid>().is_err());
        assert_eq!("10".parse::<Vrid>().unwrap().get(), 10);
    }

    #[test]
    fn virtual_macs() {
        let v = |n| Vrid::new(n).unwrap();
        assert_eq!(
            virtual_mac(Family::Ipv4, v(10)),
            [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a]
        );
        assert_eq!(
            virtual_mac(Family::Ipv6, v(10)),
            [0x00, 0x00, 0x5e, 0x00, 0x02, 0x0a]
        );
        assert_eq!(
            fmt_mac(&virtual_mac(Family::Ipv4, v(20))),
            "00:00:5e:00:01:14"
        );
        assert_eq!(
            fmt_mac(&virtual_mac(Family::Ipv4, v(1))),
            "00:00:5e:00:01:01"
        );
        assert_eq!(
            fmt_mac(&virtual_mac(Family::Ipv6, v(255))),
            "00:00:5e:00:02:ff"
        );
    }

    #[test]
    fn vrid_from_mac_round_trip() {
        for fam in [Family::Ipv4, Family::Ipv6] {
            for n in [1u32, 10, 20, 255] {
                let vrid = Vrid::new(n).unwrap();
                assert_eq!(vrid_of_mac(&virtual_mac(fam, vrid)), Some((fam, vrid)));
            }
        }
        // VRID 0 is not a VRRP MAC; neither is another OUI or family byte.
        assert_eq!(vrid_of_mac(&[0, 0, 0x5e, 0, 1, 0]), None);
        assert_eq!(vrid_of_mac(&[0, 0, 0x5e, 0, 3, 10]), None);
        assert_eq!(vrid_of_mac(&[2, 0, 0x5e, 0, 1, 10]), None);
        assert_eq!(vrid_of_mac(&[0, 0, 0x5e, 0, 1]), None);
    }

    #[test]
    fn families() {
        assert_eq!("ipv4".parse::<Family>().unwrap(), Family::Ipv4);
        assert_eq!("ipv6".parse::<Family>().unwrap(), Family::Ipv6);
        assert!("ipx".parse::<Family>().is_err());
        assert_eq!(Family::Ipv6.to_string(), "ipv6");
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_unicast_mac("00:00:5e:00:01:0a").unwrap(),
            [0, 0, 0x5e, 0, 1, 10]
        );
        assert_eq!(
            parse_unicast_mac("02-AB-cd-0-1-2").unwrap(),
            [2, 0xab, 0xcd, 0, 1, 2]
        );
        assert!(parse_unicast_mac("01:00:5e:00:00:12")
            .unwrap_err()
            .contains("multicast"));
        assert!(parse_unicast_mac("00:00:00:00:00:00").is_err());
        assert!(parse_unicast_mac("00:00:5e:00:01").is_err());
        assert!(parse_unicast_mac("00:00:5e:00:01:0a:00").is_err());
        assert!(parse_unicast_mac("00:00:5e:00:01:zz").is_err());
        assert!(parse_unicast_mac("00:00:5e:00:01:100").is_err());
        assert!(parse_unicast_mac("").is_err());
    }
}
