import autocannon from 'autocannon';
import { summarizeLatencies, type LatencySummary } from './stats.js';

/** One HTTP request for the load generator; the path includes the base (`/fhir/Patient/1`). */
export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  /** `http://127.0.0.1:port` */
  origin: string;
  connections: number;
  durationSec: number;
  /** A number of requests instead of the duration. */
  amount?: number;
  /** Sent with every request (Authorization, Accept). */
  headers: Record<string, string>;
  /** Called for each request: vary ids and bodies without building them all up front. */
  next: () => LoadRequest;
  /** Statuses that count as success (default: any 2xx). */
  expect?: number[];
  timeoutSec?: number;
}

export interface LoadResult {
  connections: number;
  durationSec: number;
  /** Answered requests. */
  requests: number;
  /** Answered requests per second. */
  rps: number;
  /** Of all answered requests, in milliseconds. */
  latency: LatencySummary;
  /** Answers with another status than expected, and connection errors and timeouts. */
  failures: number;
  statusCounts: Record<string, number>;
}

/**
 * Drives load with autocannon from this process for a fixed time and measures it; latencies are
 * recorded per response (autocannon's histogram has no p95).
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let failures = 0;
  const ok = (status: number) => (options.expect ? options.expect.includes(status) : status >= 200 && status < 300);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.origin,
        connections: options.connections,
        duration: options.durationSec,
        ...(options.amount ? { amount: options.amount } : {}),
        timeout: options.timeoutSec ?? 60,
        headers: options.headers,
        requests: [
          {
            setupRequest: (request) => {
              const next = options.next();
              return { ...request, method: next.method, path: next.path, body: next.body, headers: { ...options.headers, ...next.headers } };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const requests = latencies.length;
        failures += result.errors;
        resolve({
          connections: options.connections,
          durationSec: result.duration,
          requests,
          rps: requests / result.duration,
          latency: summarizeLatencies(latencies),
          failures,
          statusCounts: result.errors ? { ...statusCounts, 'connection errors': result.errors } : statusCounts,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
      if (!ok(statusCode)) failures++;
    });
  });
}
