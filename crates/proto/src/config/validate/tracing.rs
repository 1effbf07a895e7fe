//! Checks on the tracing section: what would leave the exporter with
//! nowhere to send, or the sampler with a meaningless rate.

use crate::config::{ConfigError, Tracing};

pub(super) fn check_tracing(t: &Tracing, errs: &mut Vec<ConfigError>) {
    if !(0.0..=100.0).contains(&t.sampling) {
        errs.push(ConfigError::new(
            "tracing.sampling",
            "must be a percentage between 0 and 100",
        ));
    }
    if t.max_path_tag_length == 0 {
        errs.push(ConfigError::new(
            "tracing.max_path_tag_length",
            "must be at least 1; leave it out for Istio's 256",
        ));
    }
    // `host:port`, as a gRPC channel dials it; a scheme or path would be
    // taken as part of the host name.
    let endpoint = &t.otlp.endpoint;
    if endpoint.contains("://") || endpoint.contains('/') {
        errs.push(ConfigError::new(
            "tracing.otlp.endpoint",
            format!(
                "{endpoint:?} should be host:port, like 127.0.0.1:4317, without a scheme or path"
            ),
        ));
    } else if super::parse_authority(endpoint).is_none() {
        errs.push(ConfigError::new(
            "tracing.otlp.endpoint",
            format!("{endpoint:?} is not host:port; write it like otel-collector:4317"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadError, ProxyConfig};

    fn errors(tracing: &str) -> Vec<String> {
        let yaml = format!("listeners: []\ntracing: {tracing}\n");
        match ProxyConfig::from_yaml("t.yaml", &yaml) {
            Err(LoadError::Invalid { errors, .. }) => errors.into_iter().map(|e| e.path).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_follow_istio_and_bad_values_name_their_field() {
        let cfg = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\ntracing: { otlp: { endpoint: \"collector:4317\" } }\n",
        )
        .expect("parses");
        let t = cfg.tracing.as_ref().expect("tracing");
        assert_eq!((t.sampling, t.max_path_tag_length), (1.0, 256));

        assert_eq!(
            errors("{ otlp: { endpoint: \"http://collector:4317\" }, sampling: 101 }"),
            ["tracing.sampling", "tracing.otlp.endpoint"]
        );
        assert_eq!(
            errors("{ otlp: { endpoint: collector }, max_path_tag_length: 0 }"),
            ["tracing.max_path_tag_length", "tracing.otlp.endpoint"]
        );
        assert!(
            ProxyConfig::from_yaml(
                "t.yaml",
                "listeners: []\ntracing: { otlp: { endpoint: \"c:4317\", protocol: zipkin } }\n"
            )
            .is_err()
        );
    }
}
