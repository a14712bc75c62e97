/** Login: POST /api/v5/login with a dashboard user's name and password; the token goes in the session. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { login } from '../api.js';
import { describe, ErrorLine, Field, inputValue } from '../ui.js';

export function LoginPage(): JSX.Element {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    try { await login(username, password); } catch (err) { setError(describe(err)); } finally { setBusy(false); }
  };
  return (
    <main class="login">
      <h1>Petrel dashboard</h1>
      <form onSubmit={submit}>
        <Field label="Username"><input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(inputValue(e))} /></Field>
        <Field label="Password"><input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(inputValue(e))} /></Field>
        <button type="submit" disabled={busy}>Log in</button>
        <ErrorLine error={error} />
      </form>
    </main>
  );
}
