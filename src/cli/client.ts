import type { ModelChangeResult } from '../model-change/apply.js';
/**
 * A small client of a running Lattice server's administration API (SPEC R-5), used by `lattice project …`,
 * `lattice key …`, `lattice user …` and `lattice member …`. Uses Node's global `fetch`.
 */
import type { ApiKeyInfo, CreatedApiKey } from '../auth/api-keys.js';
import type { MemberInfo } from '../auth/memberships.js';
import type { ProjectInfo } from '../auth/projects.js';
import type { NewUser, UserInfo } from '../auth/users.js';

/** A server answered with the standard error shape (or something else that is not 2xx). */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** The server is not reachable at all (connection refused, DNS, timeout). */
export class UnreachableError extends Error {
  constructor(readonly url: string, cause: unknown) {
    super(`No Lattice server answers at ${url}`, { cause });
    this.name = 'UnreachableError';
  }
}

export interface AdminClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  /** Value of the Authorization header, e.g. `Bearer lk-sk-…`. */
  readonly authorization: string;
  /** Per-request timeout in ms (default 10 s). */
  readonly timeoutMs?: number;
}

/** Typed calls to `/api/v1/projects…`, `/api/v1/admin/users…` and `/api/v1/model`; every method throws ServerError (non-2xx) or UnreachableError. */
export class AdminClient {
  constructor(private readonly options: AdminClientOptions) {}

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const url = new URL(path, this.options.url).href;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: this.options.authorization,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs ?? this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new UnreachableError(this.options.url, err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ServerError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? (text.slice(0, 200) || res.statusText));
    }
    return json as T;
  }

  /** `GET /api/health`; resolves when the server answers at all (any status). */
  async health(): Promise<{ status: string }> {
    try {
      return await this.call<{ status: string }>('GET', '/api/health');
    } catch (err) {
      if (err instanceof ServerError) return { status: 'unavailable' };
      throw err;
    }
  }

  createProject(name: string): Promise<ProjectInfo> {
    return this.call('POST', '/api/v1/projects', { name });
  }

  async listProjects(): Promise<ProjectInfo[]> {
    return (await this.call<{ items: ProjectInfo[] }>('GET', '/api/v1/projects')).items;
  }

  /** @param expiresAt ISO-8601 instant after which the key is refused (omitted: never) */
  createKey(projectId: string, role: string, name?: string, expiresAt?: string): Promise<CreatedApiKey> {
    return this.call('POST', `/api/v1/projects/${encodeURIComponent(projectId)}/keys`, {
      role,
      ...(name ? { name } : {}),
      ...(expiresAt ? { expires_at: expiresAt } : {}),
    });
  }

  async listKeys(projectId: string): Promise<ApiKeyInfo[]> {
    return (await this.call<{ items: ApiKeyInfo[] }>('GET', `/api/v1/projects/${encodeURIComponent(projectId)}/keys`)).items;
  }

  revokeKey(projectId: string, keyId: string): Promise<ApiKeyInfo> {
    return this.call('DELETE', `/api/v1/projects/${encodeURIComponent(projectId)}/keys/${encodeURIComponent(keyId)}`);
  }

  /** `POST /api/v1/admin/users` (admin). */
  createUser(user: NewUser): Promise<UserInfo> {
    const body = Object.fromEntries(Object.entries(user).filter(([, v]) => v !== undefined && v !== null));
    return this.call('POST', '/api/v1/admin/users', body);
  }

  /** `GET /api/v1/admin/users` (admin). */
  async listUsers(): Promise<UserInfo[]> {
    return (await this.call<{ items: UserInfo[] }>('GET', '/api/v1/admin/users')).items;
  }

  /** `POST /api/v1/projects/{id}/members`: add a member, or set its role. */
  setMember(projectId: string, userId: string, role: string): Promise<MemberInfo> {
    return this.call('POST', `/api/v1/projects/${encodeURIComponent(projectId)}/members`, { user_id: userId, role });
  }

  /** `GET /api/v1/projects/{id}/members`. */
  async listMembers(projectId: string): Promise<MemberInfo[]> {
    return (await this.call<{ items: MemberInfo[] }>('GET', `/api/v1/projects/${encodeURIComponent(projectId)}/members`)).items;
  }

  /** `DELETE /api/v1/projects/{id}/members/{user_id}`. */
  removeMember(projectId: string, userId: string): Promise<MemberInfo> {
    return this.call('DELETE', `/api/v1/projects/${encodeURIComponent(projectId)}/members/${encodeURIComponent(userId)}`);
  }

  /** `GET /api/v1/model` (admin). */
  getModel(): Promise<ServedModel> {
    return this.call('GET', '/api/v1/model');
  }

  /** `POST /api/v1/model/diff` (admin): what applying `document` would do. */
  diffModel(document: unknown): Promise<ModelChangeResult> {
    return this.call('POST', '/api/v1/model/diff', { model: document });
  }

  /** `PUT /api/v1/model` (admin). DDL on a large table can take a while: no client timeout beyond 10 minutes. */
  applyModel(document: unknown, allowDestructive: boolean): Promise<ModelChangeResult> {
    return this.call('PUT', '/api/v1/model', { model: document, allow_destructive: allowDestructive }, 600_000);
  }
}

/** The served model as `GET /api/v1/model` answers it. */
export interface ServedModel {
  readonly version: number;
  readonly name: string;
  readonly hash: string;
  readonly document: unknown;
}
