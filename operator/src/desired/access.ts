/**
 * Access control and TLS depth through the operator: `spec.access` (the broker's authentication
 * chain and authorization block, and the Secrets their files live in) and `spec.tls.clientAuth` /
 * `spec.tls.ocspStapling` (mutual TLS, CRLs, OCSP stapling) become broker config keys (EMQX's
 * names) and read-only Secret volumes. One place builds both, so a path in the config and the
 * mount that provides it cannot drift apart.
 */
import type { ResolvedMqttCluster } from '../api/types.js';
import type { Container, Volume } from './pod.js';

export const SECRETS_DIR = '/etc/petrel/secrets';
export const CLIENT_CA_DIR = '/etc/petrel/client-ca';
export const CRL_DIR = '/etc/petrel/crl';
export const OCSP_ISSUER_DIR = '/etc/petrel/ocsp-issuer';

type Mount = NonNullable<Container['volumeMounts']>[number];

interface SecretVolume { volume: string; secret: string; dir: string }

/** Every Secret the access settings need, with its volume name and mount directory. */
function secretVolumes(cr: ResolvedMqttCluster): SecretVolume[] {
  const out: SecretVolume[] = [];
  (cr.spec.access?.secrets ?? []).forEach((s, i) => out.push({ volume: `access-${i}`, secret: s.name, dir: `${SECRETS_DIR}/${s.name}` }));
  const ca = cr.spec.tls?.clientAuth?.caSecretName;
  if (ca) out.push({ volume: 'client-ca', secret: ca, dir: CLIENT_CA_DIR });
  const crl = cr.spec.tls?.clientAuth?.crlSecretName;
  if (crl) out.push({ volume: 'crl', secret: crl, dir: CRL_DIR });
  const issuer = cr.spec.tls?.ocspStapling?.issuerSecretName;
  if (issuer) out.push({ volume: 'ocsp-issuer', secret: issuer, dir: OCSP_ISSUER_DIR });
  return out;
}

/** Volumes for the access Secrets (0440: readable by the broker's group only). */
export function accessVolumes(cr: ResolvedMqttCluster): Volume[] {
  return secretVolumes(cr).map((v) => ({ name: v.volume, secret: { secretName: v.secret, defaultMode: 0o440 } }));
}

/** Mounts of the access Secrets in the broker container (whole directories, so kubelet's updates reach the files). */
export function accessMounts(cr: ResolvedMqttCluster): Mount[] {
  return secretVolumes(cr).map((v) => ({ name: v.volume, mountPath: v.dir, readOnly: true }));
}

/**
 * The `ssl_options` keys every TLS listener gets beyond its certificate: client verification,
 * CRLs, OCSP stapling. `serverTlsDir` holds the server certificate Secret (its ca.crt is the
 * client CA unless clientAuth.caSecretName names another).
 */
export function tlsDepthOptions(cr: ResolvedMqttCluster, serverTlsDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ca = cr.spec.tls?.clientAuth;
  if (ca) {
    out.verify = ca.verify;
    out.fail_if_no_peer_cert = ca.verify === 'verify_peer' && ca.failIfNoPeerCert;
    out.cacertfile = ca.caSecretName ? `${CLIENT_CA_DIR}/ca.crt` : `${serverTlsDir}/ca.crt`;
    if (ca.crlSecretName) out.crlfile = `${CRL_DIR}/ca.crl`;
    if (ca.crlDistributionPoints) out.enable_crl_check = true;
  }
  const ocsp = cr.spec.tls?.ocspStapling;
  if (ocsp) {
    out.ocsp = {
      enable_ocsp_stapling: true,
      responder_url: ocsp.responderUrl,
      issuer_pem: `${OCSP_ISSUER_DIR}/ca.crt`,
      refresh_interval: ocsp.refreshInterval,
    };
  }
  return out;
}

/** Broker config keys from spec.access and the certificate-as-identity settings. */
export function accessConfig(cr: ResolvedMqttCluster): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const a = cr.spec.access;
  if (a?.authentication !== undefined) out.authentication = a.authentication;
  if (a?.authorization !== undefined) out.authorization = a.authorization;
  const ca = cr.spec.tls?.clientAuth;
  const mqtt: Record<string, unknown> = {};
  if (ca?.peerCertAsUsername) mqtt.peer_cert_as_username = ca.peerCertAsUsername;
  if (ca?.peerCertAsClientid) mqtt.peer_cert_as_clientid = ca.peerCertAsClientid;
  if (Object.keys(mqtt).length > 0) out.mqtt = mqtt;
  return out;
}
