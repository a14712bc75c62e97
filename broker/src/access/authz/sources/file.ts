/**
 * The `file` source: rules read once when the source is created, from EMQX's acl.conf
 * (`path`, relative to the config directory), from acl.conf text given inline (`rules: "…"`,
 * as EMQX's REST API sends it), or from a YAML list of rules (`rules: [{permission, who,
 * action, topics}]`). A file that cannot be read or parsed refuses the source with the file's
 * name and line:column; the broker then does not start (or the REST call fails).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuthzRequest } from '../../../hooks.js';
import type { AccessContext, AclRule, AuthzAnswer, AuthzSource, AuthzSourceKind, Parsed } from '../../types.js';
import { compileRules, matchCompiled, type CompiledRule } from '../acl-match.js';
import { parseAclConf } from '../acl-conf.js';
import { ruleFromYaml } from '../rule-input.js';

export interface FileSourceConfig {
  path: string | null;
  /** acl.conf text, or rules already checked. */
  rules: string | AclRule[] | null;
}

export const fileAuthzKind: AuthzSourceKind<FileSourceConfig> = {
  type: 'file',
  parse(raw: Record<string, unknown>): Parsed<FileSourceConfig> {
    for (const k of Object.keys(raw)) {
      if (!['type', 'enable', 'path', 'rules'].includes(k)) return { ok: false, error: `unknown key '${k}' (file takes path or rules)` };
    }
    const { path, rules } = raw;
    if ((path === undefined) === (rules === undefined)) return { ok: false, error: 'give exactly one of path (an acl.conf file) and rules' };
    if (path !== undefined) {
      if (typeof path !== 'string' || path === '') return { ok: false, error: 'path must be a file name' };
      return { ok: true, value: { path, rules: null } };
    }
    if (typeof rules === 'string') {
      try { parseAclConf(rules, 'rules'); } catch (err) { return { ok: false, error: (err as Error).message }; }
      return { ok: true, value: { path: null, rules } };
    }
    if (!Array.isArray(rules)) return { ok: false, error: 'rules must be acl.conf text or a list of rules' };
    try {
      return { ok: true, value: { path: null, rules: rules.map((r, i) => ruleFromYaml(r, `rules[${i}]`)) } };
    } catch (err) { return { ok: false, error: (err as Error).message }; }
  },
  create(cfg: FileSourceConfig, ctx: AccessContext): AuthzSource {
    let rules: AclRule[];
    if (cfg.path !== null) {
      const file = resolve(ctx.configDir, cfg.path);
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch (err) { throw new Error(`authorization file source: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`); }
      rules = parseAclConf(text, file);
    } else rules = typeof cfg.rules === 'string' ? parseAclConf(cfg.rules, 'rules') : cfg.rules!;
    return new FileSource(rules);
  },
};

export class FileSource implements AuthzSource {
  readonly type = 'file';
  readonly rules: readonly AclRule[];
  private readonly compiled: readonly CompiledRule[];
  constructor(rules: readonly AclRule[]) {
    this.rules = rules;
    this.compiled = compileRules(rules);
  }
  authorize(req: AuthzRequest): AuthzAnswer { return matchCompiled(this.compiled, req); }
  async close(): Promise<void> {}
}
