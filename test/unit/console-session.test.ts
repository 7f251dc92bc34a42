import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkCsrf,
  checkLogin,
  clearedCookie,
  cookieValue,
  csrfToken,
  issueSession,
  readSession,
  sessionCookie,
  sessionKey,
} from '../../src/console/session.js';

const users = [
  { name: 'ops', password: 'board-password-1' },
  { name: 'ann', password: 'another-password' },
];
const key = sessionKey(users, null);
const NOW = Date.UTC(2025, 2, 1, 12);
const HOUR = 3_600_000;

describe('login', () => {
  it('takes a configured user with their own password only', () => {
    expect(checkLogin(users, 'ops', 'board-password-1')).toBe('ops');
    expect(checkLogin(users, 'ann', 'another-password')).toBe('ann');
    expect(checkLogin(users, 'ann', 'board-password-1')).toBeNull();
    expect(checkLogin(users, 'ops', 'board-password-')).toBeNull();
    expect(checkLogin(users, 'nobody', 'board-password-1')).toBeNull();
    expect(checkLogin(users, '', '')).toBeNull();
    expect(checkLogin([], 'ops', 'board-password-1')).toBeNull();
  });
});

describe('the session key', () => {
  it('is the same in every process with the same users, in any order', () => {
    expect(sessionKey([...users].reverse(), null).equals(key)).toBe(true);
  });
  it('changes with any credential, and comes from CONSOLE_SESSION_SECRET alone when set', () => {
    expect(sessionKey([users[0]!, { name: 'ann', password: 'another-passwore' }], null).equals(key)).toBe(false);
    const secret = 'x'.repeat(32);
    expect(sessionKey(users, secret).equals(sessionKey([], secret))).toBe(true);
    expect(sessionKey(users, secret).equals(key)).toBe(false);
  });
});

describe('session cookies', () => {
  it('hold the user until they expire, 8 hours by default', () => {
    const value = issueSession(key, 'ops', NOW);
    expect(readSession(key, value, NOW, users)).toEqual({ user: 'ops', expiresAt: NOW + 8 * HOUR, value });
    expect(readSession(key, value, NOW + 8 * HOUR - 1, users)?.user).toBe('ops');
    expect(readSession(key, value, NOW + 8 * HOUR, users)).toBeNull();
  });

  it('refuse any change: the user, the expiry, the signature, the form', () => {
    const value = issueSession(key, 'ops', NOW);
    const [payload, signature] = value.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { u: string; e: number };
    const forged = (c: object) => `${Buffer.from(JSON.stringify(c)).toString('base64url')}.${signature}`;
    expect(readSession(key, forged({ ...claims, u: 'ann' }), NOW, users)).toBeNull();
    expect(readSession(key, forged({ ...claims, e: claims.e + 100 * HOUR }), NOW + 9 * HOUR, users)).toBeNull();
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
    expect(readSession(key, `${payload}.${flipped}`, NOW, users)).toBeNull();
    expect(readSession(key, `${payload}.${signature.slice(0, 20)}`, NOW, users)).toBeNull();
    expect(readSession(key, payload, NOW, users)).toBeNull();
    expect(readSession(key, `${value}.more`, NOW, users)).toBeNull();
    expect(readSession(key, '', NOW, users)).toBeNull();
    expect(readSession(key, undefined, NOW, users)).toBeNull();
    // signed with another key: another deployment's, or before a password changed
    expect(readSession(sessionKey(users, 'y'.repeat(32)), value, NOW, users)).toBeNull();
  });

  it('end when their user is no longer configured', () => {
    const value = issueSession(key, 'ann', NOW);
    expect(readSession(key, value, NOW, users.slice(0, 1))).toBeNull();
  });

  it('refuse a signed payload that is not a session', () => {
    const payload = Buffer.from(JSON.stringify({ u: 'ops' })).toString('base64url');
    const signature = createHmac('sha256', key).update(`session:${payload}`).digest('base64url');
    expect(readSession(key, `${payload}.${signature}`, NOW, users)).toBeNull();
  });
});

describe('CSRF tokens', () => {
  it('belong to one session', () => {
    const a = { value: issueSession(key, 'ops', NOW) };
    const b = { value: issueSession(key, 'ops', NOW + 1) };
    const token = csrfToken(key, a);
    expect(checkCsrf(key, a, token)).toBe(true);
    expect(checkCsrf(key, b, token)).toBe(false);
    expect(checkCsrf(key, a, token.slice(1))).toBe(false);
    expect(checkCsrf(key, a, undefined)).toBe(false);
    expect(checkCsrf(key, a, '')).toBe(false);
  });
});

describe('cookie headers', () => {
  it('HttpOnly, SameSite=Strict, under /console; Secure over https', () => {
    expect(sessionCookie('v.s', { secure: false })).toBe('console_session=v.s; Path=/console; HttpOnly; SameSite=Strict; Max-Age=28800');
    expect(sessionCookie('v.s', { secure: true })).toBe(
      'console_session=v.s; Path=/console; HttpOnly; SameSite=Strict; Max-Age=28800; Secure',
    );
    expect(clearedCookie({ secure: false })).toBe('console_session=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0');
  });
  it('read one cookie out of a header', () => {
    expect(cookieValue('a=1; console_session=v.s; b=2', 'console_session')).toBe('v.s');
    expect(cookieValue('console_session_old=x', 'console_session')).toBeUndefined();
    expect(cookieValue(undefined, 'console_session')).toBeUndefined();
  });
});
