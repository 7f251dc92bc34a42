import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib.js';

/**
 * Summarises a V8 CPU profile (node --cpu-prof): self time per function and per area (a package
 * under node_modules, a file of this repository, a node: built-in, or V8's own (garbage
 * collector), (program)), idle time left out. Also runnable: node --import tsx bench/profile.ts <file>.
 */

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  pct: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Whether only the samples inside the window asked for were counted. */
  windowed: boolean;
  functions: ProfileEntry[];
  areas: ProfileEntry[];
  /** Self time given to the nearest frame of a package or of this repository up the stack (a socket write to ioredis, a signature to the file that signs). */
  owners: ProfileEntry[];
}

const NATIVE_WRITES = new Set([
  'writeUtf8String',
  'writeBuffer',
  'writev',
  'writeString',
  'writeLatin1String',
  'writeAsciiString',
  'writeUcs2String',
]);

function shortUrl(url: string): string {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  return u;
}

function areaOf(url: string, functionName: string): string {
  if (!url)
    return functionName.startsWith('(') ? functionName : NATIVE_WRITES.has(functionName) ? '(native) socket writes' : '(native) other';
  const u = shortUrl(url);
  if (url.startsWith('node:')) {
    // node:internal/crypto/sig -> node:crypto; node:internal/streams/writable -> node:streams
    const parts = url.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? (parts[1] ?? 'internal') : parts[0]}`.replace(/\.js$/, '');
  }
  if (url.includes('node_modules/')) {
    const parts = u.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return u;
}

/** A package under node_modules or a file of this repository: code someone owns, as opposed to node: built-ins and natives. */
function ownerOf(url: string): string | null {
  if (!url || url.startsWith('node:')) return null;
  return areaOf(url, '');
}

/**
 * `window`: only samples taken between these CLOCK_MONOTONIC times (µs, as process.hrtime counts
 * them in any process; V8 stamps its samples on the same clock), e.g. the measured run without
 * start-up. Left out, or if it misses the profile, all of it.
 */
export function summariseProfile(file: string, top = 15, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const windowed = window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windowed && (at < window.fromUs || at > window.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const ownerCache = new Map<number, string>();
  const owner = (id: number): string => {
    const cached = ownerCache.get(id);
    if (cached) return cached;
    let found: string | null = null;
    for (let cur: number | undefined = id; cur !== undefined && found === null; cur = parent.get(cur))
      found = ownerOf(byId.get(cur)!.callFrame.url);
    const { functionName, url } = byId.get(id)!.callFrame;
    const result = found ?? areaOf(url, functionName || '(anonymous)');
    ownerCache.set(id, result);
    return result;
  };
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  const owners = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    // tsx's output of this repository's files carries no useful line (a function's name says where)
    const line = lineNumber > 0 ? `:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}${line}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const a = areaOf(url, functionName || '(anonymous)');
    area.set(a, (area.get(a) ?? 0) + us);
    const o = owner(id);
    owners.set(o, (owners.get(o) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: Math.round(us / 100) / 10, pct: Math.round((1000 * us) / busy) / 10 }));
  return {
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    windowed,
    functions: rank(fn),
    areas: rank(area),
    owners: rank(owners),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const summary = summariseProfile(process.argv[2]!, Number(process.argv[3] ?? 20));
  console.log(`busy ${summary.busyMs} ms, idle ${summary.idleMs} ms`);
  console.log('\nby area (self time):');
  for (const e of summary.areas) console.log(`  ${e.pct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`);
  console.log('\nby owner (nearest package or repository file up the stack):');
  for (const e of summary.owners) console.log(`  ${e.pct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`);
  console.log('\nby function (self time):');
  for (const e of summary.functions) console.log(`  ${e.pct.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(0).padStart(7)} ms  ${e.name}`);
}
