//! Name resolution inside pods: each pod's `/etc/hosts` maps service names
//! to their virtual IPs as Kubernetes DNS would (`reviews` within the
//! namespace, `reviews.default`, `reviews.default.svc`, the FQDN), and is
//! rewritten whenever the control plane builds a generation whose
//! services changed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use weft_control::compile::Compiler;
use weft_control::model::Mesh;
use weft_control::views::Views;

use crate::pod::Pod;

/// The hosts entries a pod in `namespace` sees.
pub fn entries(mesh: &Mesh, namespace: &str) -> Vec<(IpAddr, Vec<String>)> {
    let mut out = Vec::new();
    for svc in mesh.services.values() {
        let Some(ip) = svc.vips.first() else { continue };
        let mut names = Vec::new();
        match &svc.short_name {
            Some(short) => {
                if svc.namespace == namespace {
                    names.push(short.clone());
                }
                names.push(format!("{short}.{}", svc.namespace));
                names.push(format!("{short}.{}.svc", svc.namespace));
                names.push(svc.fqdn.clone());
            }
            None => names.push(svc.fqdn.clone()),
        }
        out.push((*ip, names));
    }
    out
}

/// Rewrites every pod's hosts file now and after each generation whose
/// entries differ. Runs until aborted.
pub fn keep_fresh(
    compiler: Arc<Compiler>,
    pods: Vec<(Pod, String)>,
) -> tokio::task::JoinHandle<()> {
    let mut generations = compiler.generation();
    let mut written: BTreeMap<String, Vec<(IpAddr, Vec<String>)>> = BTreeMap::new();
    let mut write_all = move |mesh: &Mesh| {
        for (pod, ns) in &pods {
            let want = entries(mesh, ns);
            if written.get(pod.name()) == Some(&want) {
                continue;
            }
            match pod.set_hosts(&want) {
                Ok(()) => {
                    written.insert(pod.name().to_string(), want);
                }
                Err(e) => {
                    tracing::warn!(pod = %pod.name(), "cannot write the pod's hosts file: {e}")
                }
            }
        }
    };
    write_all(&compiler.current().mesh);
    tokio::spawn(async move {
        while generations.changed().await.is_ok() {
            write_all(&compiler.current().mesh);
        }
    })
}
