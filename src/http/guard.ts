/**
 * What a request to /api/ must show before any route sees it. Browsers let any web page send
 * requests to 127.0.0.1, so without a token "only this machine can reach it" is not enough:
 *
 * - `Host` (only without a token) must name this machine: localhost, 127.x.y.z, [::1] or the
 *   configured hostname, with or without a port. A page on a DNS-rebinding domain (one that
 *   resolves to 127.0.0.1) sends its own name here, so it is refused before it can read anything.
 * - `Origin`, when present, must be this server's own (`http://` + the Host header): browsers add
 *   it to every cross-origin request a page makes.
 * - `Sec-Fetch-Site`, when present, must be `same-origin` or `none` (typed in the address bar).
 * - POST, PUT, PATCH and DELETE, and any request with a body, must say
 *   `Content-Type: application/json`: a page cannot send that to another origin without asking
 *   first (a CORS preflight), and this server never says yes to one.
 * - The bearer token, when one is set, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from './errors.js';

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a hostname (no port, IPv6 without brackets) is this machine's loopback. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase();
  return name === 'localhost' || name === '::1' || (isIPv4(name) && name.startsWith('127.'));
}

/** The hostname part of a Host header, or undefined if it is not `name`, `name:port` or `[v6]:port`. */
function hostnameOf(host: string): string | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/i.exec(host);
  if (match === null) return undefined;
  return (match[1] ?? match[2]!).toLowerCase();
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
  if (given === undefined) return false;
  // Digests are the same length whatever was sent, so the comparison time says nothing about the token.
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}

export interface GuardSettings {
  /** `[http] token`; empty: no token, loopback only. */
  token: string;
  /** `[http] hostname`, also accepted in Host. */
  hostname: string;
}

/** Who may ask: throws the HttpError that refuses the request (Host, Origin, Sec-Fetch-Site, token). */
export function checkCaller(headers: IncomingHttpHeaders, settings: GuardSettings): void {
  const host = headers.host ?? '';
  if (settings.token === '') {
    const name = hostnameOf(host);
    const configured = settings.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (name === undefined || !(isLoopbackName(name) || name === configured)) {
      throw new HttpError(
        'wrong_host',
        `Host ${JSON.stringify(host)} is not this machine: without a token the API answers only to localhost, 127.0.0.1 or [::1]`,
      );
    }
  }
  const origin = headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${host.toLowerCase()}`) {
    throw new HttpError('cross_origin', `requests from web pages are refused (Origin ${JSON.stringify(origin)})`);
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError('cross_origin', `requests from web pages are refused (Sec-Fetch-Site ${JSON.stringify(site)})`);
  }
  if (settings.token !== '' && !tokenMatches(headers.authorization, settings.token)) {
    throw new HttpError('unauthorized', 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
  }
}

/** What it sends: a POST, PUT, PATCH or DELETE, or any request with a body, must be JSON. */
export function checkBodyType(method: string, headers: IncomingHttpHeaders): void {
  const hasBody =
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  if (WITH_BODY.has(method) || hasBody) {
    const type = headers['content-type'] ?? '';
    const [mediaType, ...parameters] = type.split(';').map((part) => part.trim().toLowerCase());
    const badParameter = parameters.find((parameter) => parameter !== '' && parameter !== 'charset=utf-8');
    if (mediaType !== 'application/json' || badParameter !== undefined) {
      throw new HttpError(
        'unsupported_media_type',
        `expected Content-Type: application/json, got ${type === '' ? 'none' : JSON.stringify(type)}`,
      );
    }
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      throw new HttpError('unsupported_media_type', `Content-Encoding ${JSON.stringify(encoding)} is not accepted`);
    }
  }
}
