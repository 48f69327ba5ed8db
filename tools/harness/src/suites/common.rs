//! Helpers that several suites share: error text, link look-ups, driver
//! checks, namespace set-up and the teardown check.

use std::fmt::Display;
use std::io::Write;
use std::path::Path;

use crate::ethtool;
use crate::link::{netns_rename_msg, veth_msg, Link};
use crate::netns::{self, Netns};
use crate::nl::{Nl, NlTask};
use crate::tap::{Outcome, Tap};

/// Error text with the whole cause chain.
pub fn err<E: Into<anyhow::Error>>(what: impl Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {:#}", e.into())
}

/// RTM_GETLINK of `name`, which must exist.
pub async fn link(nl: &Nl, name: &str) -> Result<Link, String> {
    nl.link_required(name)
        .await
        .map_err(|e| format!("RTM_GETLINK {name} in {}: {e}", nl.netns))
}

/// The ifindex of `name`, which must exist.
pub async fn index(nl: &Nl, name: &str) -> Result<u32, String> {
    link(nl, name).await.map(|l| l.index)
}

/// A veth pair made in the switch namespace of `sw`: `port` stays there,
/// enslaved to `bridge` and up; its peer moves to `ns` as `name`.
pub async fn add_switch_port(
    sw: &Nl,
    port: &str,
    bridge: &str,
    ns: &Netns,
    name: &str,
) -> Result<(), String> {
    let tmp = format!("p-{port}");
    sw.link_add(veth_msg(port, &tmp))
        .await
        .map_err(err(format!("veth {port}/{tmp} in {}", sw.netns)))?;
    let peer = index(sw, &tmp).await?;
    sw.link_set(netns_rename_msg(peer, ns.fd(), name))
        .await
        .map_err(err(format!("moving {tmp} to {} as {name}", ns.name())))?;
    let p = index(sw, port).await?;
    let b = index(sw, bridge).await?;
    sw.set_master(p, b)
        .await
        .map_err(err(format!("{port} master {bridge}")))?;
    sw.link_up(p).await.map_err(err(format!("{port} up")))
}

/// The ethtool driver name of `dev` in `ns` must be `want`.
pub fn expect_driver(ns: &Netns, dev: &str, want: &str) -> Result<(), String> {
    match ethtool::drvinfo(ns, dev) {
        Ok(i) if i.driver == want => Ok(()),
        Ok(i) => Err(format!(
            "{}/{dev}: ethtool driver {:?}, expected {want:?}",
            ns.name(),
            i.driver
        )),
        Err(e) => Err(format!("{}/{dev}: {e:#}", ns.name())),
    }
}

/// Whether `module` is a file (needed to re-insert the module); reports a
/// setup error when it is not.
pub fn module_file_ok<W: Write>(tap: &mut Tap<W>, module: &Path) -> bool {
    let ok = module.is_file();
    if !ok {
        tap.setup_error(&format!(
            "--module {}: not a file (needed to re-insert the module)",
            module.display()
        ));
    }
    ok
}

/// N namespaces, a connection in each (same order), and the connections'
/// tasks.
pub type Connected<const N: usize> = ([Netns; N], [Nl; N], Vec<NlTask>);

/// Creates the namespaces `names`, then one rtnetlink connection in each.
pub fn create_connected<const N: usize>(names: [&str; N]) -> Result<Connected<N>, String> {
    let mut spaces = Vec::with_capacity(N);
    for n in names {
        spaces.push(Netns::create(n).map_err(err(format!("creating netns {n}")))?);
    }
    let mut nls = Vec::with_capacity(N);
    let mut tasks = Vec::with_capacity(N);
    for ns in &spaces {
        let (nl, t) = ns.connect().map_err(err("netlink"))?;
        nls.push(nl);
        tasks.push(t);
    }
    let (Ok(spaces), Ok(nls)) = (spaces.try_into(), nls.try_into()) else {
        unreachable!("one namespace and one connection per name");
    };
    Ok((spaces, nls, tasks))
}

/// Fails for each of `names` still under /run/netns.
pub fn names_gone(names: &[&str]) -> Outcome {
    let left: Vec<String> = names
        .iter()
        .filter(|n| netns::name_exists(n))
        .map(|n| format!("{}/{n} still exists", netns::NETNS_RUN_DIR))
        .collect();
    Outcome::from_failures(&left)
}
