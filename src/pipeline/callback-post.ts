import http from 'node:http';
import https from 'node:https';
import { guardedLookup } from '../payouts/callback-url.js';

/**
 * One POST of a callback, no redirects followed; answers the HTTP status once the whole answer is
 * in. `deadlineMs` bounds everything (lookup, connect, headers, body): the socket's own `timeout`
 * only bounds each idle gap, so a receiver sending a byte every few seconds would never be cut off.
 * The address is checked as it is resolved (src/payouts/callback-url.ts guardedLookup), and the
 * request goes to the address that passed.
 */
export function postCallback(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { deadlineMs: number; allowPrivate: boolean },
): Promise<number> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const length = String(Buffer.byteLength(body));
    const req = transport.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': length },
      lookup: guardedLookup(options.allowPrivate),
    });
    const timer = setTimeout(() => {
      const late = new Error(`no complete answer within ${options.deadlineMs} ms`);
      reject(late);
      req.destroy(late);
    }, options.deadlineMs);
    const settle =
      <T>(done: (value: T) => void) =>
      (value: T) => {
        clearTimeout(timer);
        done(value);
      };
    req.on('response', (res) => {
      res.on('error', settle(reject));
      res.on('end', () => settle(resolve)(res.statusCode ?? 0));
      res.resume();
    });
    req.on('error', settle(reject));
    req.end(body);
  });
}
