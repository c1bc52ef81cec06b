import type { ModelChangeResult } from '../model-change/apply.js';
/**
 * A small client of a running Lattice server's administration API (SPEC R-5), used by `lattice project …`
 * and `lattice key …`. Uses Node's global `fetch`.
 */
import type { ApiKeyInfo, CreatedApiKey } from '../auth/api-keys.js';
import type { ProjectInfo } from '../auth/projects.js';

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

/** Typed calls to `/api/v1/projects…` and `/api/v1/model`; every method throws ServerError (non-2xx) or UnreachableError. */
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

  createKey(projectId: string, role: string, name?: string): Promise<CreatedApiKey> {
    return this.call('POST', `/api/v1/projects/${encodeURIComponent(projectId)}/keys`, name ? { role, name } : { role });
  }

  async listKeys(projectId: string): Promise<ApiKeyInfo[]> {
    return (await this.call<{ items: ApiKeyInfo[] }>('GET', `/api/v1/projects/${encodeURIComponent(projectId)}/keys`)).items;
  }

  revokeKey(projectId: string, keyId: string): Promise<ApiKeyInfo> {
    return this.call('DELETE', `/api/v1/projects/${encodeURIComponent(projectId)}/keys/${encodeURIComponent(keyId)}`);
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
