//! `ip [addr|link|route] [--json]`.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

use clap::Parser;
use nix::net::if_::InterfaceFlags;
use serde::Serialize;

use super::{Builtin, route, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procnet;
use crate::term::escape;

/// Show the target's network interfaces and addresses, or its routes
///
/// Interfaces of the target's network namespace: index, name, flags, state, MTU, MAC and addresses (`ip addr`), or its routes
/// (`ip route`, the same as `route`). Interfaces and IPv4 addresses come
/// from getifaddrs (netlink), IPv6 addresses from /proc/net/if_inet6,
/// state and MTU from /sys/class/net.
///
/// JSON (--json, interfaces): an array of {index, name, state, mtu, mac,
/// flags (array), addresses (array of {family ("inet" or "inet6"),
/// address, prefix_len, scope})}; state, mtu and mac are null when
/// unknown. `ip route --json` prints the route JSON (see `route --help`).
#[derive(Parser)]
#[command(name = "ip", disable_version_flag = true)]
pub struct Ip {
    /// One JSON document.
    #[arg(long, short = 'j')]
    json: bool,
    /// What to show: addr (a, address), link (l), route (r).
    #[arg(default_value = "addr")]
    object: String,
    /// Ignored (`ip addr show`, `ip route list`).
    #[arg(hide = true)]
    rest: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Addr {
    pub family: &'static str,
    pub address: String,
    pub prefix_len: u8,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Iface {
    pub index: Option<u32>,
    pub name: String,
    pub state: Option<String>,
    pub mtu: Option<u32>,
    pub mac: Option<String>,
    pub flags: Vec<String>,
    pub addresses: Vec<Addr>,
}

fn flag_names(f: InterfaceFlags) -> Vec<String> {
    [
        (InterfaceFlags::IFF_LOOPBACK, "LOOPBACK"),
        (InterfaceFlags::IFF_BROADCAST, "BROADCAST"),
        (InterfaceFlags::IFF_POINTOPOINT, "POINTOPOINT"),
        (InterfaceFlags::IFF_MULTICAST, "MULTICAST"),
        (InterfaceFlags::IFF_UP, "UP"),
        (InterfaceFlags::IFF_LOWER_UP, "LOWER_UP"),
    ]
    .iter()
    .filter(|(bit, _)| f.contains(*bit))
    .map(|(_, n)| (*n).to_string())
    .collect()
}

fn mac(b: [u8; 6]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One sysfs attribute of interface `name`, trimmed.
fn sysfs(ctx: &Ctx, name: &str, attr: &str) -> Option<String> {
    let p = ctx.resolve(&format!("/sys/class/net/{name}/{attr}"));
    Some(std::fs::read_to_string(p).ok()?.trim().to_string())
}

/// The interfaces of this network namespace, by index.
pub fn interfaces(ctx: &Ctx) -> io::Result<Vec<Iface>> {
    let mut by_name: BTreeMap<String, Iface> = BTreeMap::new();
    let new = |name: &str| Iface {
        index: None,
        name: name.to_string(),
        state: None,
        mtu: None,
        mac: None,
        flags: Vec::new(),
        addresses: Vec::new(),
    };
    for a in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        let i = by_name
            .entry(a.interface_name.clone())
            .or_insert_with(|| new(&a.interface_name));
        i.flags = flag_names(a.flags);
        let Some(addr) = a.address else { continue };
        if let Some(link) = addr.as_link_addr() {
            i.index = Some(link.ifindex() as u32);
            i.mac = link.addr().map(mac);
        } else if let Some(v4) = addr.as_sockaddr_in() {
            let prefix_len = a
                .netmask
                .and_then(|m| {
                    m.as_sockaddr_in()
                        .map(|m| u32::from(m.ip()).count_ones() as u8)
                })
                .unwrap_or(32);
            i.addresses.push(Addr {
                family: "inet",
                address: IpAddr::V4(v4.ip()).to_string(),
                prefix_len,
                scope: None,
            });
        }
    }
    let inet6 = procnet::read_file(&ctx.proc.root.join("net/if_inet6"))
        .map(|t| procnet::parse_if_inet6(&t))
        .unwrap_or_default();
    for a in inet6 {
        let i = by_name
            .entry(a.iface.clone())
            .or_insert_with(|| new(&a.iface));
        i.index.get_or_insert(a.ifindex);
        i.addresses.push(Addr {
            family: "inet6",
            address: a.addr.to_string(),
            prefix_len: a.prefix_len,
            scope: Some(a.scope),
        });
    }
    let mut list: Vec<Iface> = by_name.into_values().collect();
    for i in &mut list {
        // /sys shows the interfaces of the namespace that mounted it, which
        // need not be this one (a target that kept the host's /sys): use it
        // only when the interface index matches.
        let same = i.index.is_some()
            && sysfs(ctx, &i.name, "ifindex").and_then(|x| x.parse().ok()) == i.index;
        if same {
            i.state = sysfs(ctx, &i.name, "operstate").map(|s| s.to_uppercase());
            i.mtu = sysfs(ctx, &i.name, "mtu").and_then(|m| m.parse().ok());
        }
    }
    list.sort_by_key(|i| (i.index.unwrap_or(u32::MAX), i.name.clone()));
    Ok(list)
}

impl Builtin for Ip {
    const NAME: &'static str = "ip";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let with_addrs = match self.object.as_str() {
            "a" | "addr" | "address" => true,
            "l" | "link" => false,
            "r" | "ro" | "route" => {
                let rows = route::read(ctx, true, true);
                return route::show(io, &rows, self.json);
            }
            other => {
                writeln!(
                    io.err,
                    "ip: unknown object {}: use addr, link or route",
                    escape::field(other.as_bytes())
                )?;
                return Ok(2);
            }
        };
        let list = match interfaces(ctx) {
            Ok(l) => l,
            Err(e) => {
                writeln!(io.err, "ip: cannot list interfaces: {}", util::io_error(&e))?;
                return Ok(1);
            }
        };
        if self.json {
            util::write_json(&mut io.out, &list)?;
            return Ok(0);
        }
        for i in &list {
            let mut line = format!(
                "{}: {} <{}>",
                i.index.map_or("?".into(), |x| x.to_string()),
                escape::field(i.name.as_bytes()),
                i.flags.join(",")
            );
            if let Some(mtu) = i.mtu {
                line.push_str(&format!(" mtu {mtu}"));
            }
            if let Some(state) = &i.state {
                line.push_str(&format!(" state {}", escape::field(state.as_bytes())));
            }
            writeln!(io.out, "{line}")?;
            if let Some(m) = &i.mac {
                let kind = if i.flags.iter().any(|f| f == "LOOPBACK") {
                    "loopback"
                } else {
                    "ether"
                };
                writeln!(io.out, "    link/{kind} {m}")?;
            }
            if with_addrs {
                for a in &i.addresses {
                    match &a.scope {
                        Some(s) => writeln!(
                            io.out,
                            "    {} {}/{} scope {s}",
                            a.family, a.address, a.prefix_len
                        )?,
                        None => {
                            writeln!(io.out, "    {} {}/{}", a.family, a.address, a.prefix_len)?
                        }
                    }
                }
            }
        }
        Ok(0)
    }
}
