//! `[[flows]]`: which zone may reach which ports of another, and through which clients.

use super::*;

pub(super) const MAX_FLOW_PORTS: usize = 64;

impl Validator<'_> {
    pub(super) fn flows(
        &mut self,
        raw: &RawSpec,
        zones: &[&str],
        services: &BTreeMap<String, Service>,
    ) -> Vec<Flow> {
        let mut out: Vec<Flow> = Vec::new();
        // Each zone's member services, in name order: found once, not per flow and port.
        let mut by_zone: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
        for s in services.values() {
            for (i, z) in s.zones.iter().enumerate() {
                if !s.zones[..i].contains(z) {
                    by_zone.entry(z.as_str()).or_default().push(s);
                }
            }
        }
        let members_of = |zone: &str| by_zone.get(zone).map_or(&[][..], Vec::as_slice);
        for f in &raw.flows {
            self.text(&f.description, "a flow's description", &f.from.span);
            let ends = self
                .refs(std::slice::from_ref(&f.from), zones, "E007", "zone")
                .len()
                + self
                    .refs(std::slice::from_ref(&f.to), zones, "E007", "zone")
                    .len();
            if f.from.value == f.to.value {
                self.push(
                    Diagnostic::error("E010", format!("flow from zone `{}` to itself", f.to.value))
                        .at(f.to.span.clone(), "same zone")
                        .help("services of one zone can always reach each other; flows are for traffic between zones"),
                );
                continue;
            }
            if f.ports.is_empty() {
                self.err(
                    "E010",
                    &f.to.span,
                    format!("flow {} -> {} allows no port", f.from.value, f.to.value),
                    "add `ports`",
                );
            }
            if let Some(extra) = f.ports.get(MAX_FLOW_PORTS) {
                self.err(
                    "E010",
                    &extra.span,
                    format!("a flow allows at most {MAX_FLOW_PORTS} ports"),
                    "one too many",
                );
            }
            // A member whose own port value was already reported (E011) may be the one meant
            // to listen on a port of this flow: no knock-on "nothing listens" warning.
            let unsure = members_of(&f.to.value)
                .iter()
                .any(|s| self.bad_ports.contains(&s.name));
            let mut ports = Vec::new();
            for p in &f.ports {
                match PortProto::parse(&p.value) {
                    Ok(pp) if ports.contains(&pp) => self.err(
                        "E033",
                        &p.span,
                        format!("port {pp} is listed twice"),
                        "duplicate",
                    ),
                    Ok(pp) => {
                        let listened = members_of(&f.to.value).iter().any(|s| {
                            s.expose.contains(&pp) || s.ports.iter().any(|x| x.container == pp)
                        });
                        if !listened && !unsure && ends == 2 {
                            self.push(
                                Diagnostic::warning(
                                    "W102",
                                    format!("no service of zone `{}` listens on {pp}", f.to.value),
                                )
                                .at(p.span.clone(), "nothing to reach")
                                .help("list the port in the target service's `expose`"),
                            );
                        }
                        ports.push(pp);
                    }
                    Err(e) => self.err("E011", &p.span, e, "invalid port"),
                }
            }
            if ends < 2 {
                continue;
            }
            let members: Vec<&str> = members_of(&f.from.value)
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let clients: Vec<String> = match &f.clients {
                None => members.iter().map(|s| s.to_string()).collect(),
                Some(list) => {
                    let mut cs = self.refs(
                        list,
                        &members,
                        "E009",
                        &format!("service of zone `{}`", f.from.value),
                    );
                    cs.sort();
                    cs
                }
            };
            if out
                .iter()
                .any(|x| x.from == f.from.value && x.to == f.to.value)
            {
                let mut d = Diagnostic::error(
                    "E033",
                    format!(
                        "a flow {} -> {} is already declared",
                        f.from.value, f.to.value
                    ),
                )
                .at(f.to.span.clone(), "merge the two flows");
                if let Some(first) = raw
                    .flows
                    .iter()
                    .find(|x| x.from.value == f.from.value && x.to.value == f.to.value)
                {
                    d = d.also(first.to.span.clone(), "declared here first");
                }
                self.push(d);
                continue;
            }
            out.push(Flow {
                from: f.from.value.clone(),
                to: f.to.value.clone(),
                clients,
                ports,
                description: f.description.clone(),
            });
        }
        for f in &mut out {
            f.ports.sort();
        }
        out.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        out
    }
}
