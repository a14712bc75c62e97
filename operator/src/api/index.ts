/**
 * The MqttCluster API (mqtt.petrel.dev/v1alpha1): types, defaulting, validation and the CRD.
 */
export * from './types.js';
export { buildCrd, renderCrdYaml, CRD_NAME, CRD_FILE, CHART_CRD_FILE, PRINTER_COLUMNS } from './crd.js';
export type { Rule, Node } from './schema.js';
