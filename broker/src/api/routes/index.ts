/** Every route of the REST API, by resource; the order is the order of docs/api.md. */
import type { Route } from '../route.js';
import { statusRoutes } from './status.js';
import { statsMetricsRoutes } from './stats-metrics.js';
import { nodesRoutes } from './nodes.js';
import { clientsRoutes } from './clients.js';
import { subscriptionsRoutes } from './subscriptions.js';
import { topicsRoutes } from './topics.js';
import { retainerRoutes } from './retainer.js';
import { publishRoutes } from './publish.js';
import { listenersRoutes } from './listeners.js';
import { nodeDrainRoutes } from './node-drain.js';
import { authorizationRoutes } from './authorization.js';
import { bannedRoutes } from './banned.js';
import { authenticationRoutes } from './authentication.js';
import { rulesRoutes } from './rules.js';
import { connectorsRoutes } from './connectors.js';
import { actionsRoutes } from './actions.js';
import { gatewaysRoutes } from './gateways.js';
import { monitorRoutes } from './monitor.js';
import { apiKeysRoutes } from './api-keys.js';
import { dashboardUsersRoutes } from './dashboard-users.js';
import { withApiDocs } from './api-docs.js';
import { clientMessagesRoutes } from './client-messages.js';
import { delayedRoutes } from './delayed.js';
import { alarmsRoutes } from './alarms.js';
import { configsRoutes } from './configs.js';
import { traceRoutes } from './trace.js';

export const ROUTES: readonly Route[] = withApiDocs([
  ...statusRoutes,
  ...statsMetricsRoutes,
  ...monitorRoutes,
  ...nodesRoutes,
  ...clientsRoutes,
  ...clientMessagesRoutes,
  ...subscriptionsRoutes,
  ...topicsRoutes,
  ...retainerRoutes,
  ...publishRoutes,
  ...delayedRoutes,
  ...listenersRoutes,
  ...nodeDrainRoutes,
  ...authorizationRoutes,
  ...bannedRoutes,
  ...authenticationRoutes,
  ...rulesRoutes,
  ...connectorsRoutes,
  ...actionsRoutes,
  ...gatewaysRoutes,
  ...apiKeysRoutes,
  ...dashboardUsersRoutes,
  ...alarmsRoutes,
  ...configsRoutes,
  ...traceRoutes,
]);
