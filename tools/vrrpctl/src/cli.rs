//! Command line syntax.

use clap::{Args, Parser, Subcommand, ValueEnum};
use mvv_netlink::link::macvlan_mode;
use mvv_netlink::vrrp::{parse_unicast_mac, Family, Vrid};

const ABOUT: &str = "Create, change, show and delete macvlan devices for VRRP, \
including MACVLAN_MODE_VRRP (32), which ip(8) cannot name";

const LONG_ABOUT: &str = "\
Create, change, show and delete macvlan devices for VRRP over rtnetlink, \
including MACVLAN_MODE_VRRP (32), which ip(8) cannot name.

VRRP mode is private mode with one exception: a VRRP advertisement sent \
from the MAC of a local, up, VRRP-mode device stays on the lower device, \
where the VRRP daemon listens, instead of being swallowed by the local \
device with that MAC. It needs the macvlan_vrrp.ko driver; the kernel's own \
macvlan.ko rejects mode 32.

Works in the current network namespace (use `ip netns exec NS vrrpctl ...`) \
and needs CAP_NET_ADMIN for everything except `show`.";

const AFTER_HELP: &str = "\
Examples:
  vrrpctl create eth0v10 --link eth0 --vrid 10 --up
  vrrpctl create eth0v10v6 --link eth0 --vrid 10 --family ipv6
  vrrpctl set eth0v10 --mode private
  vrrpctl show
  vrrpctl delete eth0v10";

#[derive(Parser, Debug)]
#[command(name = "vrrpctl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create a macvlan device with the VRRP virtual MAC of a group
    Create(CreateArgs),
    /// Change the mode of an existing macvlan device
    Set(SetArgs),
    /// Show macvlan devices: lower device, MAC, mode, VRID, driver, counters
    Show(ShowArgs),
    /// Delete a macvlan device
    Delete(DeleteArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "\
The MAC is 00:00:5e:00:01:VRID for IPv4 and 00:00:5e:00:02:VRID for IPv6 \
(RFC 5798) unless --mac is given.

Example (the VyOS setup: group 10 on eth0):
  vrrpctl create eth0v10 --link eth0 --vrid 10 --up")]
pub struct CreateArgs {
    /// Name of the new device, e.g. eth0v10
    #[arg(value_name = "NAME", value_parser = parse_ifname)]
    pub name: String,
    /// The lower (parent) device the macvlan sits on, e.g. eth0
    #[arg(long, value_name = "LOWER", value_parser = parse_ifname)]
    pub link: String,
    /// VRRP virtual router ID, 1..=255; selects the virtual MAC
    #[arg(long, value_name = "N", value_parser = parse_vrid)]
    pub vrid: Vrid,
    /// Address family of the VRRP group; selects the virtual MAC
    #[arg(long, value_name = "FAMILY", default_value = "ipv4", value_parser = parse_family)]
    pub family: Family,
    /// Use this MAC instead of the VRRP virtual MAC
    #[arg(long, value_name = "MAC", value_parser = parse_mac)]
    pub mac: Option<[u8; 6]>,
    /// Macvlan mode
    #[arg(long, value_enum, default_value_t = Mode::Vrrp)]
    pub mode: Mode,
    /// Bring the device up after creating it
    #[arg(long)]
    pub up: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Example: back to private mode, as stock keepalived wants it
  vrrpctl set eth0v10 --mode private")]
pub struct SetArgs {
    /// The macvlan device to change
    #[arg(value_name = "NAME", value_parser = parse_ifname)]
    pub name: String,
    /// The new macvlan mode
    #[arg(long, value_enum)]
    pub mode: Mode,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Show only this device (default: every macvlan device in this netns)
    #[arg(value_name = "NAME", value_parser = parse_ifname)]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The macvlan device to delete (other kinds of device are refused)
    #[arg(value_name = "NAME", value_parser = parse_ifname)]
    pub name: String,
}

/// The modes this tool sets.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Private, except that VRRP adverts from a local VRRP-mode MAC stay on the lower device (32; needs macvlan_vrrp.ko)
    Vrrp,
    /// No traffic between macvlans on the same lower device (1; stock keepalived's mode)
    Private,
    /// Macvlans on the same lower device talk directly (4; FRR vrrpd's documented mode)
    Bridge,
    /// Traffic between macvlans goes through the outside switch (2)
    Vepa,
}

impl Mode {
    /// The IFLA_MACVLAN_MODE value.
    pub fn value(self) -> u32 {
        match self {
            Mode::Vrrp => macvlan_mode::VRRP,
            Mode::Private => macvlan_mode::PRIVATE,
            Mode::Bridge => macvlan_mode::BRIDGE,
            Mode::Vepa => macvlan_mode::VEPA,
        }
    }
}

/// Interface names: 1..=15 bytes, no '/', ':' or whitespace, not "." or "..".
pub fn parse_ifname(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("an interface name cannot be empty".into());
    }
    if s.len() >= libc::IFNAMSIZ {
        return Err(format!(
            "interface name {s:?} is {} bytes; Linux allows at most {}",
            s.len(),
            libc::IFNAMSIZ - 1
        ));
    }
    if s == "." || s == ".." || s.contains(['/', ':']) || s.chars().any(char::is_whitespace) {
        return Err(format!(
            "interface name {s:?} is not valid (no '/', ':', whitespace, '.' or '..')"
        ));
    }
    Ok(s.to_string())
}

pub fn parse_vrid(s: &str) -> Result<Vrid, String> {
    s.parse()
}

pub fn parse_family(s: &str) -> Result<Family, String> {
    s.parse()
}

pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    parse_unicast_mac(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("vrrpctl").chain(args.iter().copied()))
    }

    fn create(args: &[&str]) -> CreateArgs {
        match parse(args).unwrap().cmd {
            Cmd::Create(c) => c,
            other => panic!("expected create, got {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_invocation() {
        // tests/vm/demo.sh: vrrpctl create eth0v10 --link eth0 --vrid 10
        let c = create(&["create", "eth0v10", "--link", "eth0", "--vrid", "10"]);
        assert_eq!(c.name, "eth0v10");
        assert_eq!(c.link, "eth0");
        assert_eq!(c.vrid.get(), 10);
        assert_eq!(c.family, Family::Ipv4);
        assert_eq!(c.mac, None);
        assert_eq!(c.mode, Mode::Vrrp);
        assert!(!c.up);
    }

    #[test]
    fn create_with_everything() {
        let c = create(&[
            "create",
            "v6",
            "--link",
            "eth1",
            "--vrid",
            "255",
            "--family",
            "ipv6",
            "--mac",
            "02:00:00:00:00:01",
            "--mode",
            "bridge",
            "--up",
        ]);
        assert_eq!(c.vrid.get(), 255);
        assert_eq!(c.family, Family::Ipv6);
        assert_eq!(c.mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(c.mode, Mode::Bridge);
        assert!(c.up);
    }

    #[test]
    fn vrid_out_of_range_is_a_usage_error() {
        for bad in ["0", "256", "-1", "x", "1000", ""] {
            let arg = format!("--vrid={bad}");
            let e = parse(&["create", "v", "--link", "eth0", &arg]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
        let e = parse(&["create", "v", "--link", "eth0", "--vrid", "0"]).unwrap_err();
        assert!(e.to_string().contains("1..=255"), "{e}");
        assert!(parse(&["create", "v", "--link", "eth0", "--vrid", "1"]).is_ok());
    }

    #[test]
    fn required_arguments() {
        use clap::error::ErrorKind::MissingRequiredArgument;
        let kind = |a: &[&str]| parse(a).unwrap_err().kind();
        assert_eq!(
            kind(&["create", "v", "--vrid", "10"]),
            MissingRequiredArgument
        );
        assert_eq!(
            kind(&["create", "v", "--link", "eth0"]),
            MissingRequiredArgument
        );
        assert_eq!(
            kind(&["create", "--link", "eth0", "--vrid", "1"]),
            MissingRequiredArgument
        );
        assert_eq!(kind(&["set", "v"]), MissingRequiredArgument);
        assert_eq!(kind(&["delete"]), MissingRequiredArgument);
    }

    #[test]
    fn bad_values() {
        use clap::error::ErrorKind::{InvalidValue, ValueValidation};
        let kind = |a: &[&str]| parse(a).unwrap_err().kind();
        let base = ["create", "v", "--link", "eth0", "--vrid", "10"];
        let with = |extra: &[&'static str]| -> Vec<&str> {
            base.iter().copied().chain(extra.iter().copied()).collect()
        };
        assert_eq!(kind(&with(&["--mode", "passthru"])), InvalidValue);
        assert_eq!(kind(&with(&["--mode", "32"])), InvalidValue);
        assert_eq!(kind(&with(&["--family", "ipx"])), ValueValidation);
        assert_eq!(
            kind(&with(&["--mac", "01:00:5e:00:00:12"])),
            ValueValidation
        );
        assert_eq!(kind(&with(&["--mac", "nonsense"])), ValueValidation);
        assert_eq!(
            kind(&[
                "create",
                "a-name-that-is-too-long",
                "--link",
                "eth0",
                "--vrid",
                "1"
            ]),
            ValueValidation
        );
        assert_eq!(
            kind(&["create", "a/b", "--link", "eth0", "--vrid", "1"]),
            ValueValidation
        );
    }

    #[test]
    fn set_show_delete() {
        match parse(&["set", "eth0v10", "--mode", "private"]).unwrap().cmd {
            Cmd::Set(s) => {
                assert_eq!(s.name, "eth0v10");
                assert_eq!(s.mode, Mode::Private);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["show"]).unwrap().cmd {
            Cmd::Show(s) => assert_eq!(s.name, None),
            other => panic!("{other:?}"),
        }
        match parse(&["show", "eth0v10"]).unwrap().cmd {
            Cmd::Show(s) => assert_eq!(s.name.as_deref(), Some("eth0v10")),
            other => panic!("{other:?}"),
        }
        match parse(&["delete", "eth0v10"]).unwrap().cmd {
            Cmd::Delete(d) => assert_eq!(d.name, "eth0v10"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_everywhere() {
        for args in [
            &["--help"][..],
            &["create", "--help"],
            &["set", "--help"],
            &["show", "--help"],
            &["delete", "--help"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{args:?}");
        }
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("MACVLAN_MODE_VRRP"));
    }

    #[test]
    fn mode_names_and_values_match_the_library() {
        // clap's spelling of each mode is the library's name of its value.
        for m in Mode::value_variants() {
            let spelled = m.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(macvlan_mode::name(m.value()), Some(spelled.as_str()));
            assert_eq!(macvlan_mode::from_name(&spelled), Some(m.value()));
        }
        assert_eq!(Mode::value_variants().len(), 4);
        assert_eq!(Mode::Vrrp.value(), 32);
    }
}
