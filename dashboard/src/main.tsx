/**
 * The dashboard's shell: a login gate, a navigation list of links (`#/clients`, …, so every page
 * is reachable by Tab and Enter and has its own address), and one page component per route.
 * Pages live in pages/, one file each.
 */
import { render, type JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentSession, isAdmin, logout, onSessionChange, probeOpen } from './api.js';
import { startSampling, stopSampling } from './history.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { ClientsPage } from './pages/clients.js';
import { SubscriptionsPage } from './pages/subscriptions.js';
import { RetainedPage } from './pages/retained.js';
import { RulesPage } from './pages/rules.js';
import { IntegrationPage } from './pages/integration.js';
import { AccessPage } from './pages/access.js';
import { GatewaysPage } from './pages/gateways.js';
import { ListenersPage } from './pages/listeners.js';
import { WebSocketPage } from './pages/websocket.js';
import './style.css';

export const PAGES: Array<{ id: string; title: string; page: () => JSX.Element }> = [
  { id: 'overview', title: 'Overview', page: OverviewPage },
  { id: 'clients', title: 'Clients', page: ClientsPage },
  { id: 'subscriptions', title: 'Subscriptions', page: SubscriptionsPage },
  { id: 'retained', title: 'Retained', page: RetainedPage },
  { id: 'rules', title: 'Rules', page: RulesPage },
  { id: 'integration', title: 'Connectors & actions', page: IntegrationPage },
  { id: 'access', title: 'Access control', page: AccessPage },
  { id: 'gateways', title: 'Gateways', page: GatewaysPage },
  { id: 'listeners', title: 'Listeners', page: ListenersPage },
  { id: 'websocket', title: 'WebSocket client', page: WebSocketPage },
];

const routeOf = (): string => location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview';

function App(): JSX.Element {
  const [, setVersion] = useState(0);
  const [route, setRoute] = useState(routeOf());
  const [probed, setProbed] = useState(currentSession() !== null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => onSessionChange(() => setVersion((n) => n + 1)), []);
  useEffect(() => {
    const f = (): void => setRoute(routeOf());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  useEffect(() => { if (!probed) probeOpen().finally(() => setProbed(true)); }, []);
  const session = currentSession();
  useEffect(() => { if (session !== null) startSampling(); else stopSampling(); }, [session]);
  // A new page: move focus to its heading, so keyboard and screen-reader users land on it.
  useEffect(() => { heading.current?.focus(); }, [route]);

  if (!probed) return <p class="boot">Loading…</p>;
  if (session === null) return <LoginPage />;
  const current = PAGES.find((p) => p.id === route);
  const Page = current?.page;
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); heading.current?.focus(); }}>Skip to content</a>
      <header>
        <span class="brand">Petrel</span>
        <span class="who">{session.username} · <span data-testid="role">{session.role}</span>{isAdmin() ? '' : ' (read only)'}</span>
        {/* A keyless node's loopback session has no token to revoke and no login to go back to. */}
        {session.token !== null && <button type="button" onClick={() => { void logout(); }}>Log out</button>}
      </header>
      <nav aria-label="Pages">
        <ul>{PAGES.map((p) => (
          <li key={p.id}><a href={`#/${p.id}`} aria-current={p.id === route ? 'page' : undefined}
            onClick={() => { if (p.id === route) heading.current?.focus(); }}>{p.title}</a></li>
        ))}</ul>
      </nav>
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>{current?.title ?? 'Not found'}</h1>
        {Page ? <Page key={route} /> : <p>No page called “{route}”. Pick one from the list.</p>}
      </main>
    </div>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // index.html's "Loading…", shown until this script ran
render(<App />, root);
