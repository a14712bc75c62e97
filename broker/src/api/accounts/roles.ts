/**
 * Who is calling the REST API, and what their role lets them do. EMQX's two open-source roles:
 * an `administrator` may call everything; a `viewer` may read (every GET) and change nothing
 * but its own login — log out, change its own password. The router is the one place that
 * applies this (Router.authorize), so a new route is covered the day it is added.
 */

export const ROLES = ['administrator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * - `bootstrap`: a key from api_key.bootstrap_file (always an administrator);
 * - `api_key`: a key made over REST;
 * - `user`: a dashboard user's login token;
 * - `loopback`: no credentials, from loopback, where the API allows that.
 */
export interface Caller {
  kind: 'bootstrap' | 'api_key' | 'user' | 'loopback';
  /** The key's or user's name ('' for loopback). */
  name: string;
  role: Role;
  /** The bearer token of a `user` caller (logout revokes it). */
  token?: string;
}
