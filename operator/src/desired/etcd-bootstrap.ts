/**
 * How a core pod's etcd member decides how to start. etcd images are distroless (no shell), and a
 * StatefulSet gives every pod the same template, so a small init container (the broker image,
 * which has node) writes the member's etcd config file before etcd starts:
 *
 *   - data already on the volume        → start as before (etcd ignores the initial-* settings);
 *   - another member answers            → the cluster exists: join it ("existing") with the member
 *                                         list it reports — the operator has added this member
 *                                         through the etcd API before it raised the replica count;
 *                                         if the list lacks this pod, exit 1 and let kubelet retry;
 *   - nobody answers                    → first start of the cluster: "new" with every stable name.
 *
 * Members are described as JSON [{name, peer, client}], built from the stable names
 * `<name>-core-<i>.<name>-core-headless.<ns>.svc`, in the file ETCD_MEMBERS_FILE (a key of the
 * cluster's ConfigMap, so scaling the core changes no pod template and restarts no pod) or in
 * env ETCD_MEMBERS.
 */

/** Environment the script reads. */
export interface EtcdBootstrapEnv {
  POD_NAME: string;
  /** JSON member list, or a file holding it. */
  ETCD_MEMBERS?: string;
  ETCD_MEMBERS_FILE?: string;
  ETCD_DATA_DIR: string;
  ETCD_TOKEN: string;
  ETCD_CONFIG_OUT: string;
  /** Listen addresses; default to all interfaces on 2380/2379. */
  ETCD_LISTEN_PEER?: string;
  ETCD_LISTEN_CLIENT?: string;
}

/** The script run by `node -e` (CommonJS) in the init container. */
export const ETCD_BOOTSTRAP_SCRIPT = `
const fs = require('fs');
const E = process.env;
const self = E.POD_NAME;
const members = JSON.parse(E.ETCD_MEMBERS || fs.readFileSync(E.ETCD_MEMBERS_FILE, 'utf8'));
const me = members.find((m) => m.name === self);
if (!me) { console.error('etcd bootstrap: ' + self + ' is not among the etcd members'); process.exit(1); }
const base = {
  name: self,
  'data-dir': E.ETCD_DATA_DIR,
  'listen-peer-urls': E.ETCD_LISTEN_PEER || 'http://0.0.0.0:2380',
  'listen-client-urls': E.ETCD_LISTEN_CLIENT || 'http://0.0.0.0:2379',
  'initial-advertise-peer-urls': me.peer,
  'advertise-client-urls': me.client,
  'initial-cluster-token': E.ETCD_TOKEN,
  // A config file starts from etcd's library defaults, where the JSON gateway is off; joining
  // members ask for the member list through it.
  'enable-grpc-gateway': true,
};
const all = members.map((m) => m.name + '=' + m.peer).join(',');
function write(state, cluster, why) {
  fs.writeFileSync(E.ETCD_CONFIG_OUT, JSON.stringify({ ...base, 'initial-cluster-state': state, 'initial-cluster': cluster }, null, 2));
  console.log('etcd bootstrap: ' + self + ' ' + why + ': initial-cluster-state=' + state + ' initial-cluster=' + cluster);
  process.exit(0);
}
if (fs.existsSync(E.ETCD_DATA_DIR + '/member')) write('existing', all, 'has data');
function nameOf(u) {
  const known = members.find((m) => m.peer === u);
  if (known) return known.name;
  try { return new URL(u).hostname.split('.')[0]; } catch { return 'unknown'; }
}
(async () => {
  for (const m of members) {
    if (m.name === self) continue;
    let list;
    try {
      const r = await fetch(m.client + '/v3/cluster/member/list', { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
      if (!r.ok) continue;
      list = (await r.json()).members || [];
    } catch { continue; }
    if (!list.some((x) => (x.peerURLs || []).includes(me.peer))) {
      console.error('etcd bootstrap: the cluster (asked ' + m.name + ') does not list ' + me.peer + ' yet; the operator adds the member before scaling up');
      process.exit(1);
    }
    const cluster = list.map((x) => (x.name || nameOf((x.peerURLs || [])[0])) + '=' + (x.peerURLs || [])[0]).join(',');
    write('existing', cluster, 'joins the running cluster (asked ' + m.name + ')');
  }
  write('new', all, 'no member answered');
})();
`.trim();
