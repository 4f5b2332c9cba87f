import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Addresses a URL given to us by a client must not reach unless configured (no SSRF into the hospital network). */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class OutboundRefused extends Error {}

/**
 * Resolves like dns.lookup, but refuses private addresses. The check is on the address actually
 * connected to, so a name that resolves differently a second time (DNS rebinding) gains nothing.
 */
const publicOnlyLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
    if (blocked || addresses.length === 0) return callback(new OutboundRefused(`${hostname} resolves to a private address`), '', 0);
    if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

export interface OutboundOptions {
  /** Loopback and private addresses allowed (config.allowPrivateCallbacks: tests, development). */
  allowPrivate: boolean;
  timeoutMs: number;
  maxBytes: number;
}

/** GETs a JSON document from a URL a client gave us: http(s) only, no redirects, bounded in time and size. */
export function fetchJson(url: string, options: OutboundOptions): Promise<unknown> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return Promise.reject(new OutboundRefused(`${target.protocol} is not fetched`));
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (!options.allowPrivate && isIP(literal) && isPrivateAddress(literal)) return Promise.reject(new OutboundRefused(`${literal} is a private address`));
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<unknown>((resolve, reject) => {
    const request = client.get(target, { lookup: options.allowPrivate ? undefined : publicOnlyLookup, headers: { accept: 'application/json' } });
    // The whole exchange, not only each idle gap, must end within the time allowed.
    const deadline = setTimeout(() => request.destroy(new Error(`${url} did not answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(deadline);
      reject(error);
    };
    request.on('error', fail);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        request.destroy();
        return fail(new Error(`${url} answered ${response.statusCode}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) request.destroy(new Error(`${url} answered more than ${options.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(deadline);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error as Error);
        }
      });
    });
  });
}
