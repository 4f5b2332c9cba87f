import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { errors, issueAt } from '../errors.js';

/**
 * Rest-hook endpoints are URLs given by clients: the server must not become a way into the
 * hospital's own network (SSRF). Loopback, private, link-local and other special-purpose addresses
 * are refused unless ALLOW_PRIVATE_CALLBACKS (tests, development). The host is resolved when the
 * Subscription is written (a 400 then), and again on every connection (a name that resolves
 * differently later, DNS rebinding, still reaches nothing private).
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** At write time: the endpoint's host must resolve, and only to public addresses (unless allowed). */
export async function checkEndpointAddress(endpoint: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    throw errors.invalidResource([issueAt('Subscription.channel.endpoint', `The endpoint's host "${host}" does not resolve`)]);
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw errors.invalidResource([
      issueAt('Subscription.channel.endpoint', `The endpoint's host "${host}" is a loopback or private address; rest-hooks go to public addresses only`),
    ]);
  }
}

/** A `lookup` for outgoing connections that refuses private addresses. */
export const publicOnlyLookup: LookupFunction = (hostname, options: LookupOptions, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))) {
      return callback(new Error(`${hostname} resolves to a private address`), '', 0);
    }
    if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};
