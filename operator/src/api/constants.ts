/**
 * Names and fixed values of the MqttCluster API: group, version, kind, defaults, and what is
 * reserved because the operator's own objects and ports use it.
 */
export const GROUP = 'mqtt.petrel.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MqttCluster';
export const PLURAL = 'mqttclusters';
export const SINGULAR = 'mqttcluster';
export const SHORT_NAMES = ['mqc'] as const;

export const DEFAULT_IMAGE = 'petrel/broker:0.1.0';
export const DEFAULT_ETCD_IMAGE = 'quay.io/coreos/etcd:v3.5.17';
/** Object names are `<name>-<region>` etc.: keep room for the suffixes within 63 characters. */
export const MAX_NAME_LENGTH = 40;
export const MAX_REGION_NAME_LENGTH = 22;
/** Region names that would collide with the names of the core's objects. */
export const RESERVED_REGION_NAMES = ['core', 'core-headless', 'config', 'tls'] as const;
/** Ports the pods use themselves (etcd client/peer, cluster link, HTTP API): not for listeners. */
export const RESERVED_PORTS = [2379, 2380, 5370, 18083] as const;
/** Container port names the pods use themselves: not for listeners. */
export const RESERVED_LISTENER_NAMES = ['http', 'cluster', 'etcd-client', 'etcd-peer'] as const;
export const DEFAULT_REGION_REPLICAS = 2;
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
