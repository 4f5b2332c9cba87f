/**
 * A small FHIR HTTP client for the loader and the benchmarks. Every request carries the bearer
 * token when one is given (`--token`, `BENCH_TOKEN`): the same code works once the server
 * requires SMART authorization.
 */
export interface ClientOptions {
  /** The FHIR base, e.g. `http://127.0.0.1:8080/fhir`. */
  baseUrl: string;
  token?: string;
  /** Per request; a transaction of a few hundred resources takes seconds on a busy server. */
  timeoutMs?: number;
}

export interface FhirResponse {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

export class FhirClient {
  readonly baseUrl: string;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  get token(): string | undefined {
    return this.options.token;
  }

  /** A new token (one about to expire was replaced); later requests carry it. */
  setToken(token: string | undefined): void {
    this.options.token = token;
  }

  /** The headers every request sends, for autocannon too. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/fhir+json', ...extra };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    return headers;
  }

  /** An absolute URL for a path relative to the base (`Patient/1`, `?_type=...`) or an absolute one. */
  url(pathOrUrl: string): string {
    if (/^https?:\/\//.test(pathOrUrl)) return pathOrUrl;
    if (pathOrUrl === '' || pathOrUrl.startsWith('?')) return this.baseUrl + pathOrUrl;
    return `${this.baseUrl}/${pathOrUrl.replace(/^\/+/, '')}`;
  }

  async request(method: string, pathOrUrl: string, body?: string, headers: Record<string, string> = {}): Promise<FhirResponse> {
    const started = performance.now();
    const response = await fetch(this.url(pathOrUrl), {
      method,
      headers: this.headers(body === undefined ? headers : { 'content-type': 'application/fhir+json', ...headers }),
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 300_000),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
  }

  /** GET that must answer 2xx; the parsed JSON. */
  async getJson<T = unknown>(pathOrUrl: string): Promise<T> {
    const response = await this.request('GET', pathOrUrl);
    if (response.status >= 300) throw new Error(`GET ${pathOrUrl}: ${response.status} ${describeOutcome(response.text)}`);
    return JSON.parse(response.text) as T;
  }

  /** PUT/POST that must answer 2xx. */
  async send(method: 'PUT' | 'POST', pathOrUrl: string, resource: unknown, headers: Record<string, string> = {}): Promise<FhirResponse> {
    const response = await this.request(method, pathOrUrl, JSON.stringify(resource), headers);
    if (response.status >= 300) throw new Error(`${method} ${pathOrUrl}: ${response.status} ${describeOutcome(response.text)}`);
    return response;
  }
}

interface OutcomeLike {
  resourceType?: string;
  issue?: { severity?: string; code?: string; diagnostics?: string; details?: { text?: string }; expression?: string[] }[];
}

/** The diagnostics of an OperationOutcome (or the start of whatever the body is), on one line. */
export function describeOutcome(body: string | OutcomeLike | undefined): string {
  if (body === undefined) return '';
  let outcome: OutcomeLike | undefined;
  if (typeof body === 'string') {
    try {
      outcome = JSON.parse(body) as OutcomeLike;
    } catch {
      return body.slice(0, 300).replace(/\s+/g, ' ');
    }
  } else outcome = body;
  if (outcome?.resourceType !== 'OperationOutcome' || !outcome.issue?.length) return JSON.stringify(outcome).slice(0, 300);
  return outcome.issue
    .map((issue) => {
      const text = issue.diagnostics ?? issue.details?.text ?? issue.code ?? '';
      const where = issue.expression?.length ? ` (at ${issue.expression.join(', ')})` : '';
      return `${issue.severity ?? 'error'}: ${text}${where}`;
    })
    .join('; ');
}
