/**
 * JWT bearer tokens (SPEC A-2): configuration from the environment and verification with `jose`.
 *
 * Keys: an HMAC secret (`LATTICE_JWT_SECRET`, HS256/384/512), and/or ONE asymmetric source — a PEM public key
 * (`LATTICE_JWT_PUBLIC_KEY`: RSA → RS256 (also RS384/512, PS256/384/512), EC P-256/384/521 → ES256/384/512, Ed25519 → EdDSA) or a
 * JWKS URL (`LATTICE_JWT_JWKS_URL`, default RS256, ES256, EdDSA). The accepted algorithms are pinned per key
 * (`LATTICE_JWT_ALGORITHMS` narrows them and is checked against the keys at start): a token's `alg` header
 * selects the key only among those, the HMAC secret is used for HS* alone, and a public key is never used
 * as an HMAC secret — so `alg: none` and the RS256→HS256 "algorithm confusion" attack (RFC 8725 §2.1, §3.1)
 * are refused. A JWKS is fetched by jose's `createRemoteJWKSet`: cached (10 min), and a token with an unknown
 * `kid` triggers a re-fetch (at most once per cool-down, 30 s), so rotated keys are picked up.
 *
 * Claims: `exp` is required; `exp` and `nbf` are checked with a clock tolerance (30 s by default); `iss` and
 * `aud` when configured. The identity comes from configurable claim paths (`jwt-claims.ts`).
 *
 * Errors are UNAUTHENTICATED (401) with a message naming what failed (expired, not yet valid, issuer,
 * audience, signature, algorithm, unknown key) and never the token itself.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import { badInput, internal, unauthenticated, type LatticeError } from '../errors.js';
import type { ExternalIdentity } from './identity.js';
import { identityFromClaims, type ClaimMapping } from './jwt-claims.js';
import { isRole, type Role } from './principal.js';

/** HMAC algorithms (need `LATTICE_JWT_SECRET`). */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
/** Public-key algorithms (need `LATTICE_JWT_PUBLIC_KEY` or `LATTICE_JWT_JWKS_URL`). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export type JwtAlgorithm = (typeof HMAC_ALGORITHMS)[number] | (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Default accepted clock difference for `exp` and `nbf`, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
/** Largest configurable clock tolerance (5 min): more would keep expired tokens alive. */
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;
/** jose's defaults: a JWKS is re-fetched for an unknown `kid` at most once per 30 s, and at least every 10 min. */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
export const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 600_000;
/** Time allowed for one JWKS fetch. */
export const JWKS_TIMEOUT_MS = 5_000;
/** Algorithms accepted from a JWKS unless `LATTICE_JWT_ALGORITHMS` says otherwise. */
export const DEFAULT_JWKS_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

/** Verified configuration (`readJwtConfig`). */
export interface JwtConfig {
  /** HMAC secret (UTF-8 bytes of `LATTICE_JWT_SECRET`). */
  readonly secret?: Uint8Array;
  /** PEM public key (`LATTICE_JWT_PUBLIC_KEY`). */
  readonly publicKey?: KeyObject;
  /** JWKS URL (`LATTICE_JWT_JWKS_URL`); never together with `publicKey`. */
  readonly jwksUrl?: URL;
  /** Accepted `alg` values, each backed by a configured key. */
  readonly algorithms: readonly JwtAlgorithm[];
  /** Accepted `iss` values (any of them); unset: not checked. */
  readonly issuer?: readonly string[];
  /** Accepted `aud` values (the token must name one); unset: not checked. */
  readonly audience?: readonly string[];
  /** Clock tolerance for `exp` / `nbf`, seconds. */
  readonly clockToleranceSeconds: number;
  readonly claims: ClaimMapping;
  /** JWKS caching (ms): minimum time between re-fetches for an unknown `kid`, and maximum age of the cached set. */
  readonly jwks: { readonly cooldownMs: number; readonly cacheMaxAgeMs: number };
}

/** Environment variables read by {@link readJwtConfig}. */
export const JWT_ENV = [
  'LATTICE_JWT_SECRET',
  'LATTICE_JWT_PUBLIC_KEY',
  'LATTICE_JWT_JWKS_URL',
  'LATTICE_JWT_ISSUER',
  'LATTICE_JWT_AUDIENCE',
  'LATTICE_JWT_ALGORITHMS',
  'LATTICE_JWT_CLAIM_SUBJECT',
  'LATTICE_JWT_CLAIM_ROLE',
  'LATTICE_JWT_CLAIM_PROJECT_IDS',
  'LATTICE_JWT_ROLE_MAP',
  'LATTICE_JWT_DEFAULT_ROLE',
  'LATTICE_JWT_CLOCK_TOLERANCE_SECONDS',
  'LATTICE_JWT_JWKS_COOLDOWN_MS',
  'LATTICE_JWT_JWKS_CACHE_MAX_AGE_MS',
] as const;

const HMAC = new Set<string>(HMAC_ALGORITHMS);
const ALL = new Set<string>([...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS]);

function configError(message: string): LatticeError {
  return badInput(`JWT configuration: ${message}`);
}

/** A comma-separated list, items trimmed, blanks dropped. */
function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    throw configError(`${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from 0 to ${max}` : ''} (got ${JSON.stringify(raw)}).`);
  }
  return Number(raw);
}

/**
 * The algorithms a PEM public key can verify, and the default among them.
 * @throws LatticeError for key types JWS has no algorithm for, and RSA keys under 2048 bits (RFC 7518 §3.3)
 */
function algorithmsOfKey(key: KeyObject): { all: JwtAlgorithm[]; default: JwtAlgorithm } {
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw configError(`LATTICE_JWT_PUBLIC_KEY is a ${bits}-bit RSA key; JWS needs at least 2048 bits (RFC 7518 §3.3).`);
    return type === 'rsa'
      ? { all: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'], default: 'RS256' }
      : { all: ['PS256', 'PS384', 'PS512'], default: 'PS256' };
  }
  if (type === 'ec') {
    const alg = ({ prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' } as const)[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!alg) throw configError(`LATTICE_JWT_PUBLIC_KEY is an EC key on curve ${key.asymmetricKeyDetails?.namedCurve}; JWS uses P-256, P-384 or P-521.`);
    return { all: [alg], default: alg };
  }
  if (type === 'ed25519') return { all: ['EdDSA', 'Ed25519'], default: 'EdDSA' };
  throw configError(`LATTICE_JWT_PUBLIC_KEY is a ${type} key; use an RSA, EC (P-256/384/521) or Ed25519 public key.`);
}

function readPublicKey(raw: string): KeyObject {
  // Many deployment tools cannot put newlines into an environment variable: accept "\n" escapes.
  const pem = raw.includes('\n') ? raw : raw.replace(/\\n/g, '\n');
  if (/PRIVATE KEY-----/.test(pem)) throw configError('LATTICE_JWT_PUBLIC_KEY holds a private key; give the public key (-----BEGIN PUBLIC KEY-----).');
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw configError('LATTICE_JWT_PUBLIC_KEY is not a PEM public key; expected -----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY----- (SPKI).');
  }
}

function readClaims(env: NodeJS.ProcessEnv): ClaimMapping {
  const path = (name: string, fallback: string) => {
    const v = env[name]?.trim() || fallback;
    if (v.length > 256) throw configError(`${name} is longer than 256 characters.`);
    return v;
  };
  let roleMap: Map<string, Role> | undefined;
  const rawMap = env.LATTICE_JWT_ROLE_MAP?.trim();
  if (rawMap) {
    roleMap = new Map();
    for (const pair of list(rawMap)) {
      const eq = pair.lastIndexOf('=');
      const from = pair.slice(0, eq).trim();
      const to = pair.slice(eq + 1).trim();
      if (eq <= 0 || !isRole(to)) {
        throw configError(`LATTICE_JWT_ROLE_MAP must be comma-separated name=role pairs with role admin, owner, editor or viewer (e.g. "authenticated=editor,service_role=admin"); "${pair}" is not.`);
      }
      roleMap.set(from, to);
    }
  }
  const rawDefault = env.LATTICE_JWT_DEFAULT_ROLE?.trim();
  let defaultRole: Role | undefined;
  if (rawDefault) {
    if (!isRole(rawDefault) || rawDefault === 'admin') {
      throw configError('LATTICE_JWT_DEFAULT_ROLE must be owner, editor or viewer (admin must come from the token, through the role claim or LATTICE_JWT_ROLE_MAP).');
    }
    defaultRole = rawDefault;
  }
  return {
    subject: path('LATTICE_JWT_CLAIM_SUBJECT', 'sub'),
    role: path('LATTICE_JWT_CLAIM_ROLE', 'role'),
    projectIds: path('LATTICE_JWT_CLAIM_PROJECT_IDS', 'project_ids'),
    roleMap,
    defaultRole,
  };
}

/**
 * Read the JWT settings from the environment (variables in {@link JWT_ENV}; README "Authentication with JWT").
 * @returns the configuration, or null when no key is configured (JWTs are then refused with a 401 that says so)
 * @throws LatticeError BAD_USER_INPUT naming the variable and the fix for any invalid setting: a key source
 *         missing while other LATTICE_JWT_* variables are set, both a PEM key and a JWKS URL, an unparsable PEM,
 *         a secret shorter than its hash (RFC 7518 §3.2), `none` or an unknown name in LATTICE_JWT_ALGORITHMS, an
 *         algorithm without a key (or a key without an algorithm), bad numbers, role names or claim paths
 */
export function readJwtConfig(env: NodeJS.ProcessEnv = process.env): JwtConfig | null {
  const get = (name: (typeof JWT_ENV)[number]) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const rawSecret = env.LATTICE_JWT_SECRET !== undefined && env.LATTICE_JWT_SECRET !== '' ? env.LATTICE_JWT_SECRET : undefined;
  const rawPem = get('LATTICE_JWT_PUBLIC_KEY');
  const rawJwks = get('LATTICE_JWT_JWKS_URL');
  if (rawSecret === undefined && rawPem === undefined && rawJwks === undefined) {
    const stray = JWT_ENV.filter((name) => get(name) !== undefined);
    if (stray.length > 0) {
      throw configError(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but no key is: set LATTICE_JWT_SECRET (HS256), LATTICE_JWT_PUBLIC_KEY (PEM) or LATTICE_JWT_JWKS_URL.`);
    }
    return null;
  }
  if (rawPem !== undefined && rawJwks !== undefined) {
    throw configError('set either LATTICE_JWT_PUBLIC_KEY or LATTICE_JWT_JWKS_URL, not both (put every key into the JWKS instead).');
  }
  const secret = rawSecret === undefined ? undefined : new TextEncoder().encode(rawSecret);
  const publicKey = rawPem === undefined ? undefined : readPublicKey(rawPem);
  let jwksUrl: URL | undefined;
  if (rawJwks !== undefined) {
    try {
      jwksUrl = new URL(rawJwks);
    } catch {
      throw configError(`LATTICE_JWT_JWKS_URL is not a URL (got ${JSON.stringify(rawJwks)}).`);
    }
    if (jwksUrl.protocol !== 'https:' && jwksUrl.protocol !== 'http:') throw configError('LATTICE_JWT_JWKS_URL must be an https:// (or http://) URL.');
  }

  const keyAlgs = publicKey ? algorithmsOfKey(publicKey) : undefined;
  let algorithms: JwtAlgorithm[];
  const rawAlgs = get('LATTICE_JWT_ALGORITHMS');
  if (rawAlgs !== undefined) {
    algorithms = [];
    for (const alg of list(rawAlgs)) {
      if (alg.toLowerCase() === 'none') throw configError('LATTICE_JWT_ALGORITHMS lists "none": unsigned tokens are never accepted.');
      if (!ALL.has(alg)) throw configError(`LATTICE_JWT_ALGORITHMS lists unknown algorithm "${alg}"; use ${[...ALL].join(', ')}.`);
      const a = alg as JwtAlgorithm;
      if (HMAC.has(a) && !secret) throw configError(`LATTICE_JWT_ALGORITHMS lists ${a} but LATTICE_JWT_SECRET is not set.`);
      if (!HMAC.has(a) && !publicKey && !jwksUrl) throw configError(`LATTICE_JWT_ALGORITHMS lists ${a} but neither LATTICE_JWT_PUBLIC_KEY nor LATTICE_JWT_JWKS_URL is set.`);
      if (!HMAC.has(a) && keyAlgs && !keyAlgs.all.includes(a)) {
        throw configError(`LATTICE_JWT_ALGORITHMS lists ${a}, which LATTICE_JWT_PUBLIC_KEY (a ${publicKey!.asymmetricKeyType} key) cannot verify; it verifies ${keyAlgs.all.join(', ')}.`);
      }
      if (!algorithms.includes(a)) algorithms.push(a);
    }
    if (secret && !algorithms.some((a) => HMAC.has(a))) throw configError('LATTICE_JWT_SECRET is set but LATTICE_JWT_ALGORITHMS lists no HS algorithm.');
    if ((publicKey || jwksUrl) && !algorithms.some((a) => !HMAC.has(a))) {
      throw configError(`${publicKey ? 'LATTICE_JWT_PUBLIC_KEY' : 'LATTICE_JWT_JWKS_URL'} is set but LATTICE_JWT_ALGORITHMS lists no public-key algorithm.`);
    }
  } else {
    algorithms = [...(secret ? (['HS256'] as const) : []), ...(keyAlgs ? [keyAlgs.default] : []), ...(jwksUrl ? DEFAULT_JWKS_ALGORITHMS : [])];
  }
  if (secret) {
    // RFC 7518 §3.2: the HMAC key must be at least as long as the hash output.
    const need = Math.max(...algorithms.filter((a) => HMAC.has(a)).map((a) => Number(a.slice(2)) / 8));
    if (secret.length < need) {
      throw configError(`LATTICE_JWT_SECRET is ${secret.length} bytes; ${algorithms.filter((a) => HMAC.has(a)).join('/')} needs at least ${need} (RFC 7518 §3.2). Generate one with "openssl rand -base64 48".`);
    }
  }
  const issuer = get('LATTICE_JWT_ISSUER');
  const audience = get('LATTICE_JWT_AUDIENCE');
  return {
    secret,
    publicKey,
    jwksUrl,
    algorithms,
    issuer: issuer === undefined ? undefined : list(issuer),
    audience: audience === undefined ? undefined : list(audience),
    clockToleranceSeconds: wholeNumber(env, 'LATTICE_JWT_CLOCK_TOLERANCE_SECONDS', DEFAULT_CLOCK_TOLERANCE_SECONDS, MAX_CLOCK_TOLERANCE_SECONDS),
    claims: readClaims(env),
    jwks: {
      cooldownMs: wholeNumber(env, 'LATTICE_JWT_JWKS_COOLDOWN_MS', DEFAULT_JWKS_COOLDOWN_MS),
      cacheMaxAgeMs: wholeNumber(env, 'LATTICE_JWT_JWKS_CACHE_MAX_AGE_MS', DEFAULT_JWKS_CACHE_MAX_AGE_MS),
    },
  };
}

/** Three base64url segments (`header.claims.signature`; the signature may be empty, as in `alg: none` tokens). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * True when a bearer credential has the JWS compact shape. API key secrets (`lk-sk-` + base64url) contain no
 * dot, so the two never overlap.
 */
export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** Verifies tokens against one configuration. */
export interface JwtVerifier {
  readonly config: JwtConfig;
  /**
   * Verify a compact JWT and map its claims to an identity (`identity.ts` `resolveIdentity` makes the principal).
   * @throws LatticeError UNAUTHENTICATED (bad, expired, foreign or tampered token; message says which),
   *         FORBIDDEN (valid token without a role), INTERNAL when the JWKS cannot be fetched
   */
  verify(token: string): Promise<ExternalIdentity>;
}

/** The JWKS could not be fetched or parsed: the server's problem, not the token's. */
class JwksUnavailable extends Error {}

/** jose errors from a JWKS look-up that mean "this token's key is not in the set", not "the set is unavailable". */
function isKeyMismatch(err: unknown): boolean {
  return err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported;
}

function isUnsigned(token: string): boolean {
  try {
    return String(decodeProtectedHeader(token).alg).toLowerCase() === 'none';
  } catch {
    return false;
  }
}

/** A jose failure as the client's 401 (or INTERNAL for an unavailable JWKS); anything else is rethrown. */
function toAuthError(err: unknown, token: string, config: JwtConfig): LatticeError {
  const prefix = 'The bearer token';
  if (err instanceof JwksUnavailable) {
    return internal("The identity provider's signing keys (JWKS) could not be fetched; try again shortly.", err.cause);
  }
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? ` at ${new Date(err.payload.exp * 1000).toISOString()}` : '';
    return unauthenticated(`${prefix} expired${exp}; get a new token from your identity provider.`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const missing = err.reason === 'missing';
    switch (err.claim) {
      case 'nbf':
        return unauthenticated(`${prefix} is not valid yet (its nbf is in the future beyond ${config.clockToleranceSeconds} s of tolerance); check the clocks of the issuer and this server.`);
      case 'exp':
        return unauthenticated(missing ? `${prefix} has no expiry (exp claim); Lattice accepts only tokens that expire.` : `${prefix} has an invalid exp claim.`);
      case 'iss':
        return unauthenticated(`${prefix} ${missing ? 'has no issuer (iss claim)' : 'was issued by an issuer (iss) this server does not accept'}; use a token from the configured identity provider.`);
      case 'aud':
        return unauthenticated(`${prefix} ${missing ? 'has no audience (aud claim)' : 'is meant for another audience (aud)'}; request a token for this API's audience.`);
      default:
        return unauthenticated(`${prefix}'s claim "${err.claim}" is ${missing ? 'missing' : 'invalid'}.`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    if (isUnsigned(token)) return unauthenticated(`${prefix} is unsigned (alg "none"); unsigned tokens are never accepted.`);
    return unauthenticated(`${prefix} is signed with an algorithm this server does not accept; accepted: ${config.algorithms.join(', ')}.`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthenticated(`${prefix}'s signature does not verify: it was altered, or signed with a key this server does not trust.`);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated(`No key of the identity provider's key set (JWKS) matches ${prefix.toLowerCase()}'s key id (kid) and algorithm; it was signed with an unknown key.`);
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated(`Several keys of the identity provider's key set (JWKS) match ${prefix.toLowerCase()}; tokens must name their key (kid).`);
  }
  if (err instanceof errors.JOSEError || err instanceof TypeError) {
    // JWSInvalid / JWTInvalid (malformed), JOSENotSupported (crit headers), TypeError (key unusable for the alg).
    return unauthenticated(`${prefix} is not a valid signed JWT for this server (malformed, unsupported header, or a key that does not fit its algorithm).`);
  }
  throw err;
}

/**
 * Create a verifier: the HMAC secret, the PEM key or the remote JWKS (fetched lazily on the first token,
 * cached and re-fetched by jose as described in the module comment).
 */
export function createJwtVerifier(config: JwtConfig): JwtVerifier {
  const jwks = config.jwksUrl
    ? createRemoteJWKSet(config.jwksUrl, {
        cooldownDuration: config.jwks.cooldownMs,
        cacheMaxAge: config.jwks.cacheMaxAgeMs,
        timeoutDuration: JWKS_TIMEOUT_MS,
      })
    : undefined;
  const keyFor = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    // jose has already refused any alg outside `config.algorithms`.
    if (HMAC.has(String(header.alg))) return config.secret!;
    if (config.publicKey) return config.publicKey;
    try {
      return await jwks!(header, token);
    } catch (err) {
      if (isKeyMismatch(err)) throw err;
      throw new JwksUnavailable('JWKS unavailable', { cause: err });
    }
  };
  const options = {
    algorithms: [...config.algorithms],
    issuer: config.issuer ? [...config.issuer] : undefined,
    audience: config.audience ? [...config.audience] : undefined,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ['exp'],
  };
  return {
    config,
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keyFor, options));
      } catch (err) {
        throw toAuthError(err, token, config);
      }
      return identityFromClaims(payload, config.claims);
    },
  };
}
