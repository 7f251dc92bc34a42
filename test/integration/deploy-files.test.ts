import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWebSettings } from '../../src/settings/web.js';
import { loadWorkerSettings } from '../../src/settings/worker.js';
import { ROOT, buildOf, expectNodeDist, read, type Build } from '../support/deploy-files.js';
import { keyPath } from '../support/keys.js';

/**
 * The deployment files, checked where no Docker engine runs: the builds all of them start from,
 * the Procfile, docker-compose.yml parsed (and given to `docker compose config` when that command
 * exists) and the README that describes them. Every `node dist/...` they run must be what a
 * package's `npm run build` makes from a source file; nothing they run may go through npm, npx or
 * tsx. The Dockerfiles: test/integration/deploy-dockerfiles.test.ts.
 */

type Manifest = { scripts: Record<string, string>; dependencies: Record<string, string>; workspaces?: string[] };
const service = buildOf('');
const sandbox = buildOf('sandbox');
const manifest = (build: Build) => JSON.parse(read(posix.join(build.dir, 'package.json'))) as Manifest;

describe('npm run build', () => {
  it('compiles src/ and workers/ to dist/, starting from a clean dist/, and leaves the sandbox and the demo out', () => {
    expect(manifest(service).scripts.build).toContain('tsc -p tsconfig.build.json');
    expect(service.config.include).toEqual(expect.arrayContaining(['src', 'workers']));
    expect(service.outDir).toBe('dist');
    const compiled = service.sources();
    expect(compiled.filter((f) => f.startsWith('sandbox/') || f.startsWith('src/demo/'))).toEqual([]);
    // nothing the service builds reaches the sandbox package, whose code the build would then compile
    for (const file of compiled) expect(read(file), file).not.toMatch(/from ['"](bank131-sandbox|\.\.?\/.*sandbox\/)/);
  });

  it('the sandbox is a workspace package with a build of its own, from sandbox/src/ to sandbox/dist/', () => {
    expect(manifest(service).workspaces).toEqual(['sandbox']);
    expect(manifest(sandbox).scripts.build).toContain('tsc -p tsconfig.build.json');
    expect(sandbox.config.include).toEqual(['src']);
    expect(sandbox.outDir).toBe('dist');
    expect(sandbox.sourceOf('dist/main.js')).toBe('sandbox/src/main.ts');
  });

  it.each([
    ['the service', service],
    ['the sandbox', sandbox],
  ])('%s: every file loaded at run time through new URL(..., import.meta.url) is where the compiled code looks', (_name, build) => {
    const assets: Array<{ source: string; compiled: string }> = [];
    for (const file of build.sources()) {
      for (const m of read(file).matchAll(/new URL\(\s*([`'"])(\.{1,2}\/[^`'"]*)\1\s*,\s*import\.meta\.url\s*\)/g)) {
        const literal = m[2]!.split('${')[0]!; // a template: the folder part before the first substitution
        if (/\.(js|ts)$/.test(literal)) continue;
        const relative = literal.endsWith('/') || m[2]!.includes('${') ? posix.dirname(`${literal}x`) : literal;
        const compiledFile = posix.join(build.dir, build.outDir, posix.relative(posix.join(build.dir, build.rootDir), file));
        assets.push({
          source: posix.normalize(posix.join(posix.dirname(file), relative)),
          compiled: posix.normalize(posix.join(posix.dirname(compiledFile), relative)),
        });
      }
    }
    expect(assets.length, 'files read at run time').toBeGreaterThan(0);
    for (const { source, compiled } of assets) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      if (compiled === source) continue; // outside dist/: read where it is (the image copies it: deploy-dockerfiles.test.ts)
      const from = posix.relative(build.dir || '.', source);
      const to = posix.relative(build.dir || '.', compiled);
      expect(manifest(build).scripts.build, `the build copies ${from} to ${to}`).toMatch(new RegExp(`${from}['"]\\s*,\\s*['"]${to}`));
    }
  });

  it.each([
    ['the service', service],
    ['the sandbox', sandbox],
  ])('%s: production needs only dependencies: every package the build compiles imports is in "dependencies"', (_name, build) => {
    const { dependencies } = manifest(build);
    const missing: string[] = [];
    for (const file of build.sources()) {
      // import type … is erased by the compiler: it needs nothing at run time
      for (const m of read(file).matchAll(
        /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm,
      )) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!dependencies[name]) missing.push(`${file}: ${name}`);
      }
    }
    expect(missing, 'imported at run time but not a production dependency (npm ci --omit=dev leaves it out)').toEqual([]);
  });
});

describe('Procfile', () => {
  it('starts web and worker as node dist/..., no npm', () => {
    const lines = read('Procfile')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    const procs = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]));
    expect(Object.keys(procs).sort()).toEqual(['web', 'worker']);
    expect(expectNodeDist(procs.web!.split(/\s+/), 'Procfile web', service)).toBe('src/web-process.ts');
    expect(expectNodeDist(procs.worker!.split(/\s+/), 'Procfile worker', service)).toBe('workers/worker-process.ts');
  });
});

interface Service {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  command?: string[] | string;
  restart?: string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  environment?: Record<string, string | number | null>;
  env_file?: string | string[];
  volumes?: string[];
  stop_grace_period?: string;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Service>;
    volumes?: Record<string, unknown>;
  };
  const services = compose.services;
  const env = (name: string) =>
    Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
  const ours = Object.entries(services).filter(([, s]) => s.build);
  const dockerfileOf = (s: Service) => {
    const build = typeof s.build === 'string' ? { context: s.build } : s.build!;
    return posix.relative(ROOT, resolve(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile'));
  };

  it('has redis, sandbox, web and worker; web and worker share the Dockerfile image, the sandbox is built from sandbox/Dockerfile', () => {
    expect(Object.keys(services).sort()).toEqual(['redis', 'sandbox', 'web', 'worker']);
    expect(ours.map(([n]) => n).sort()).toEqual(['sandbox', 'web', 'worker']);
    for (const [name, s] of ours) expect(existsSync(join(ROOT, dockerfileOf(s))), `${name}: ${dockerfileOf(s)}`).toBe(true);
    expect(Object.fromEntries(ours.map(([n, s]) => [n, dockerfileOf(s)]))).toEqual({
      sandbox: 'sandbox/Dockerfile',
      web: 'Dockerfile',
      worker: 'Dockerfile',
    });
    expect(services.web!.image, 'one image for web and worker').toBe(services.worker!.image);
    expect(services.sandbox!.image, 'the sandbox image is its own').not.toBe(services.web!.image);
    for (const [name, s] of Object.entries(services)) {
      for (const file of [s.env_file ?? []].flat()) expect(existsSync(resolve(ROOT, file)), `${name}: env_file ${file}`).toBe(true);
    }
  });

  it('starts each of ours as node dist/... (no npm, no bind-mounted checkout)', () => {
    const entries = Object.fromEntries(
      ours.map(([name, s]) => {
        expect(Array.isArray(s.command), `${name}: command in exec form`).toBe(true);
        for (const v of s.volumes ?? []) expect(v.split(':')[0], `${name}: a named volume, not the host's files`).not.toMatch(/^[./~]/);
        return [name, expectNodeDist(s.command as string[], `compose ${name}`, name === 'sandbox' ? sandbox : service)];
      }),
    );
    expect(entries).toEqual({ sandbox: 'sandbox/src/main.ts', web: 'src/web-process.ts', worker: 'workers/worker-process.ts' });
  });

  it('restarts every service on failure, and each has a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.restart, `${name}: restart`).toMatch(/^(on-failure(:\d+)?|unless-stopped|always)$/);
      expect(s.healthcheck?.disable, `${name}: healthcheck`).not.toBe(true);
      expect([s.healthcheck?.test ?? []].flat().length, `${name}: healthcheck test`).toBeGreaterThan(0);
    }
  });

  it('starts web and workers only once Redis and the sandbox (its keys written) are healthy, and the sandbox once Redis is', () => {
    for (const name of ['web', 'worker']) {
      expect(services[name]!.depends_on, name).toEqual({
        redis: { condition: 'service_healthy' },
        sandbox: { condition: 'service_healthy' },
      });
    }
    expect(services.sandbox!.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    for (const [name, s] of Object.entries(services)) {
      if (Array.isArray(s.depends_on) || !s.depends_on) continue;
      for (const [dep, { condition }] of Object.entries(s.depends_on)) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(services[dep]!.healthcheck?.test, `${dep} has a healthcheck for ${name} to wait on`).toBeDefined();
      }
    }
  });

  it('gives SIGTERM time: stop_grace_period longer than SHUTDOWN_TIMEOUT_MS', () => {
    const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? /^(\d+)m$/.exec(d)?.[1] ?? NaN) * (d.endsWith('m') ? 60 : 1);
    for (const name of ['web', 'worker']) {
      const grace = seconds(services[name]!.stop_grace_period ?? '10s');
      expect(grace * 1000, `${name}: stop_grace_period`).toBeGreaterThan(Number(env(name).SHUTDOWN_TIMEOUT_MS ?? 35_000));
    }
  });

  it('runs Redis with AOF, fsync on every write, and noeviction', () => {
    const command = [services.redis!.command ?? []].flat().join(' ');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--appendfsync always/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(services.redis!.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('points web and workers at the keys the sandbox writes, and at the sandbox and Redis; the sandbox keeps its bank in Redis apart', () => {
    const bank = env('sandbox');
    const keysDir = bank.SANDBOX_KEYS_DIR!;
    const keysVolume = services.sandbox!.volumes!.find((v) => v.split(':')[1] === keysDir);
    expect(keysVolume, `the sandbox keeps SANDBOX_KEYS_DIR ${keysDir} in a volume`).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(keysVolume!.split(':')[0]);
    for (const name of ['web', 'worker']) {
      const e = env(name);
      expect(services[name]!.volumes, `${name} mounts the sandbox's keys`).toContain(`${keysVolume!.split(':')[0]}:${keysDir}:ro`);
      // the names sandbox/src/keys.ts gives them: <name>-private.pem / <name>-public.pem
      expect(e.BANK131_PRIVATE_KEY_FILE).toBe(posix.join(keysDir, 'partner-private.pem'));
      expect(e.BANK131_PUBLIC_KEY_FILE).toBe(posix.join(keysDir, 'bank-public.pem'));
      expect(e.BANK131_BASE_URL).toBe(`http://sandbox:${bank.SANDBOX_PORT ?? 8131}`);
      expect(e.BANK131_PROJECT).toBe(bank.SANDBOX_PROJECT);
      expect(e.REDIS_URL).toBe('redis://redis:6379');
      expect(bank.SANDBOX_REDIS_PREFIX, `${name}: the sandbox's keys apart from the service's`).not.toBe(e.REDIS_PREFIX ?? '{b131}');
    }
    expect(bank.SANDBOX_HOST ?? '0.0.0.0').toBe('0.0.0.0'); // the image's default; 127.0.0.1 would be unreachable
    expect(bank.SANDBOX_WEBHOOK_URL).toBe(`http://web:${env('web').PORT ?? 3000}/webhooks/bank131`);
    expect(bank.SANDBOX_REDIS_URL).toBe('redis://redis:6379');
  });

  it('holds settings the web and the worker accept (the real config readers, key files aside)', () => {
    const withFixtureKeys = (e: Record<string, string>) => ({
      ...e,
      ...(e.BANK131_PRIVATE_KEY_FILE ? { BANK131_PRIVATE_KEY_FILE: keyPath('partner-private') } : {}),
      ...(e.BANK131_PUBLIC_KEY_FILE ? { BANK131_PUBLIC_KEY_FILE: keyPath('bank-public') } : {}),
    });
    expect(() => loadWebSettings(withFixtureKeys(env('web')))).not.toThrow();
    const worker = loadWorkerSettings(withFixtureKeys(env('worker')));
    expect(worker.callbackSecret).toMatch(/^whsec_/);
  });

  it('is valid to `docker compose config` where that command exists', () => {
    const probe = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    if (probe.status !== 0) return; // no compose plugin here: the checks above stand in for it
    execFileSync('docker', ['compose', '-f', join(ROOT, 'docker-compose.yml'), 'config', '--quiet'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('is what the README section "Deploying" describes', () => {
    const section =
      read('README.md')
        .split(/^## Deploying$/m)[1]
        ?.split(/^## /m)[0] ?? '';
    const texts = [
      'docker compose up',
      'node dist/src/web-process.js',
      'node dist/workers/worker-process.js',
      'sandbox/Dockerfile',
      'HEALTHCHECK_URL',
    ];
    for (const text of texts) expect(section, text).toContain(text);
  });
});
