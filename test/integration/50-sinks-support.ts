/** Helpers the 50-sinks-* tests share: REST calls for actions and a JSON body helper. */
import { api, getJson } from '../support/api.js';
import type { TestBroker } from '../support/broker.js';

export const call = (b: TestBroker, method: string, path: string, body?: unknown): Promise<Response> =>
  api(b, path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

export const actionMetrics = async (b: TestBroker, id: string): Promise<Record<string, number>> =>
  (await getJson<{ metrics: Record<string, number> }>(b, `/api/v5/actions/${encodeURIComponent(id)}/metrics`)).metrics;

export const ruleMetrics = async (b: TestBroker, id: string): Promise<Record<string, number>> =>
  (await getJson<{ metrics: Record<string, number> }>(b, `/api/v5/rules/${id}/metrics`)).metrics;

export const actionStatus = async (b: TestBroker, id: string): Promise<{ status: string; status_reason?: string }> =>
  getJson(b, `/api/v5/actions/${encodeURIComponent(id)}`);
