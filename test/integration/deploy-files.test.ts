import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWebSettings } from '../../src/settings/web.js';
import { loadWorkerSettings } from '../../src/settings/worker.js';
import { freePort } from '../../src/local-redis.js';
import { keyPath } from '../support/keys.js';

/**
 * The deployment files, checked where no Docker engine runs: docker-compose.yml parsed (and given
 * to `docker compose config` when that command exists), the Dockerfile held to the rules that
 * matter here (hadolint-style, by hand: hadolint is not packaged for this machine), the Procfile,
 * and the build that all three start from. Every `node dist/...` they run must be what
 * `npm run build` makes from a source file; nothing they run may go through npm, npx or tsx.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string> };

// ---- the build: tsconfig.build.json's rootDir/outDir mapping -------------------------------------

const buildConfig = JSON.parse(read('tsconfig.build.json')) as { extends?: string; include: string[]; compilerOptions: { outDir: string; rootDir: string } };
const OUT_DIR = posix.normalize(buildConfig.compilerOptions.outDir);
const ROOT_DIR = posix.normalize(buildConfig.compilerOptions.rootDir);

/** The TypeScript source `npm run build` compiles into `distPath`, or why there is none. */
function sourceOf(distPath: string): string {
  const normalized = posix.normalize(distPath);
  expect(normalized.startsWith(`${OUT_DIR}/`), `${distPath} is not under the build's outDir ${OUT_DIR}/`).toBe(true);
  expect(normalized, `${distPath}: run compiled JavaScript`).toMatch(/\.js$/);
  const source = posix.join(ROOT_DIR, normalized.slice(OUT_DIR.length + 1)).replace(/\.js$/, '.ts');
  expect(existsSync(join(ROOT, source)), `${distPath} would be compiled from ${source}, which does not exist`).toBe(true);
  expect(buildConfig.include.some((dir) => source === dir || source.startsWith(`${posix.normalize(dir)}/`)), `${source} is outside tsconfig.build.json's include`).toBe(true);
  return source;
}

/** A command that starts one of our processes: `node dist/<entry>.js`, nothing in between. */
function expectNodeDist(command: string[], where: string): string {
  expect(command.join(' '), `${where}: no npm, npx or tsx wrapper (a signal must reach the process)`).not.toMatch(/\b(npm|npx|tsx|yarn|pnpm)\b/);
  expect(command[0], `${where}: runs node itself`).toBe('node');
  expect(command, `${where}: node and one script`).toHaveLength(2);
  return sourceOf(command[1]!);
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((f) => posix.join(dir, f.split('\\').join('/')))
    .filter((f) => statSync(join(ROOT, f)).isFile());
}

describe('npm run build', () => {
  it('compiles src/ and workers/ to dist/, starting from a clean dist/', () => {
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.build.json');
    expect(buildConfig.include).toEqual(expect.arrayContaining(['src', 'workers']));
    expect(OUT_DIR).toBe('dist');
  });

  it('copies every file loaded at run time through new URL(..., import.meta.url) beside the compiled code', () => {
    const sources = buildConfig.include.flatMap((dir) => filesUnder(dir)).filter((f) => f.endsWith('.ts'));
    const assets: string[] = [];
    for (const file of sources) {
      for (const m of read(file).matchAll(/new URL\(\s*([`'"])(\.{1,2}\/[^`'"]*)\1\s*,\s*import\.meta\.url\s*\)/g)) {
        const literal = m[2]!.split('${')[0]!; // a template: the folder part before the first substitution
        if (/\.(js|ts)$/.test(literal)) continue;
        const target = posix.normalize(posix.join(posix.dirname(file), literal.endsWith('/') || m[2]!.includes('${') ? posix.dirname(`${literal}x`) : literal));
        assets.push(target);
      }
    }
    expect(assets).toContain('src/store/scripts'); // the Lua scripts, at least
    for (const asset of assets) {
      expect(existsSync(join(ROOT, asset)), asset).toBe(true);
      const dist = posix.join(OUT_DIR, posix.relative(ROOT_DIR, asset));
      expect(pkg.scripts.build, `the build copies ${asset} to ${dist}`).toMatch(new RegExp(`${asset}['"]\\s*,\\s*['"]${dist}`));
    }
  });

  it('production needs only dependencies: every package src/ and workers/ import is in "dependencies"', () => {
    const missing: string[] = [];
    for (const file of buildConfig.include.flatMap((dir) => filesUnder(dir)).filter((f) => f.endsWith('.ts'))) {
      // import type … is erased by the compiler: it needs nothing at run time
      for (const m of read(file).matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!pkg.dependencies[name]) missing.push(`${file}: ${name}`);
      }
    }
    expect(missing, 'imported at run time but not a production dependency (npm ci --omit=dev leaves it out)').toEqual([]);
  });
});

// ---- Procfile --------------------------------------------------------------------------------------

describe('Procfile', () => {
  it('starts web and worker as node dist/..., no npm', () => {
    const lines = read('Procfile').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    const procs = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]));
    expect(Object.keys(procs).sort()).toEqual(['web', 'worker']);
    expect(expectNodeDist(procs.web!.split(/\s+/), 'Procfile web')).toBe('src/web-process.ts');
    expect(expectNodeDist(procs.worker!.split(/\s+/), 'Procfile worker')).toBe('workers/worker-process.ts');
  });
});

// ---- Dockerfile ------------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
  line: number;
  /** Here-documents the instruction carries (`COPY <<'EOF' /app/file`), by delimiter. */
  heredocs: Record<string, string>;
}

/** Instructions with continuation lines joined and here-documents taken out; comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const out: Instruction[] = [];
  for (let i = 0; i < lines.length; ) {
    const start = i + 1;
    let line = lines[i++]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i < lines.length) {
      const next = lines[i++]!;
      if (/^\s*#/.test(next)) continue;
      line = `${line.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    expect(m, `Dockerfile line ${start}: not an instruction: ${line}`).not.toBeNull();
    const heredocs: Record<string, string> = {};
    for (const h of m![2]!.matchAll(/<<(-?)(['"]?)([A-Za-z_]\w*)\2/g)) {
      const body: string[] = [];
      while (i < lines.length && (h[1] ? lines[i]!.trim() : lines[i]) !== h[3]) body.push(lines[i++]!);
      expect(i < lines.length, `Dockerfile line ${start}: here-document ${h[3]} never ends`).toBe(true);
      i++;
      heredocs[h[3]!] = `${body.join('\n')}\n`;
    }
    out.push({ keyword: m![1]!.toUpperCase(), args: m![2]!.trim(), line: start, heredocs });
  }
  return out;
}

/** The exec (JSON) form of CMD, ENTRYPOINT or HEALTHCHECK CMD, or null for the shell form. */
function execForm(args: string): string[] | null {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** COPY/ADD flags and operands. */
function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k!] = v;
  }
  const dest = words.pop()!;
  return { flags, sources: words.filter((w) => !w.startsWith('<<')), dest };
}

describe('Dockerfile', () => {
  const instructions = parseDockerfile(read('Dockerfile'));
  const stages: Instruction[][] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') stages.push([]);
    else expect(stages.length, `Dockerfile line ${ins.line}: ${ins.keyword} before the first FROM`).toBeGreaterThan(0);
    stages.at(-1)?.push(ins);
  }
  const stageName = (s: Instruction[]) => /\sAS\s+(\S+)/i.exec(s[0]!.args)?.[1];
  const final = stages.at(-1)!;
  const all = (s: Instruction[], keyword: string) => s.filter((i) => i.keyword === keyword);

  it('is multi-stage: build with every dependency, run with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)));
    expect(build, 'a stage runs npm run build').toBeDefined();
    expect(all(build!, 'RUN').some((r) => /\bnpm ci\b/.test(r.args) && !/--omit=dev|--production/.test(r.args)), 'the build stage runs npm ci with dev dependencies').toBe(true);
    expect(build).not.toBe(final);
    expect(all(final, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r.args)), 'the runtime stage installs with npm ci --omit=dev').toBe(true);
    expect(all(final, 'RUN').some((r) => /\bnpm run build\b|\btsc\b/.test(r.args)), 'no compiling in the runtime stage').toBe(false);
    expect(all(final, 'ENV').some((e) => /\bNODE_ENV=production\b/.test(e.args))).toBe(true);
    const fromBuild = all(final, 'COPY').map((c) => copyParts(c.args)).filter((c) => c.flags.from === stageName(build!));
    expect(fromBuild.some((c) => c.sources.includes(`/app/${OUT_DIR}`) || c.sources.includes(OUT_DIR)), 'the runtime stage copies dist/ from the build stage').toBe(true);
  });

  it('gives the build stage everything the build reads', () => {
    const build = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)))!;
    const copied = all(build, 'COPY').flatMap((c) => copyParts(c.args).sources).map((s) => posix.normalize(s));
    const needed = ['package.json', 'package-lock.json', 'tsconfig.build.json', buildConfig.extends ? posix.normalize(buildConfig.extends) : 'tsconfig.json', ...buildConfig.include];
    for (const file of needed) expect(copied, `the build stage copies ${file}`).toContain(file);
    for (const source of copied) expect(existsSync(join(ROOT, source)), `COPY ${source}: not in the build context`).toBe(true);
  });

  it('keeps .dockerignore away from what the Dockerfile copies, and host installs out of the context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const must of ['node_modules', 'dist', '.git', '.env', '.sandbox']) expect(ignored, `.dockerignore leaves out ${must}`).toContain(must);
    const copied = stages.flatMap((s) => all(s, 'COPY')).map((c) => copyParts(c.args)).filter((c) => !c.flags.from).flatMap((c) => c.sources);
    for (const source of copied) {
      for (const pattern of ignored.filter((p) => !p.startsWith('!'))) {
        const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(/|$)`);
        expect(re.test(posix.normalize(source)), `COPY ${source} is excluded by .dockerignore's ${pattern}`).toBe(false);
      }
    }
  });

  it('runs as a user that is not root, with a HEALTHCHECK and node dist/... in exec form', () => {
    const user = all(final, 'USER').at(-1);
    expect(user, 'a USER in the runtime stage').toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(final.indexOf(user!), 'USER comes before CMD').toBeLessThan(final.indexOf(all(final, 'CMD').at(-1)!));

    expect(all(final, 'CMD'), 'one CMD (DL4003)').toHaveLength(1);
    const cmd = execForm(all(final, 'CMD')[0]!.args);
    expect(cmd, 'CMD in exec form, so node is PID 1 and gets SIGTERM (DL3025)').not.toBeNull();
    expect(expectNodeDist(cmd!, 'CMD')).toBe('src/web-process.ts');
    expect(all(final, 'ENTRYPOINT'), 'no entrypoint wrapper').toHaveLength(0);

    const health = all(final, 'HEALTHCHECK');
    expect(health, 'one HEALTHCHECK (DL3012)').toHaveLength(1);
    const check = execForm(health[0]!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(check, 'HEALTHCHECK CMD in exec form').not.toBeNull();
    expect(check![0]).toBe('node');
  });

  it('follows the usual lint rules (hadolint-style)', () => {
    for (const s of stages) {
      const image = s[0]!.args.split(/\s+/).find((w) => !w.startsWith('--'))!;
      const known = stages.map(stageName).filter(Boolean);
      if (known.includes(image)) continue;
      expect(image, `FROM ${image}: pin a tag (DL3006)`).toMatch(/:[\w.-]+$|@sha256:/);
      expect(image, `FROM ${image}: not latest (DL3007)`).not.toMatch(/:latest$/);
    }
    for (const ins of instructions) {
      const where = `Dockerfile line ${ins.line}`;
      expect(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'], `${where}: ${ins.keyword}`).toContain(ins.keyword);
      if (ins.keyword === 'WORKDIR') expect(ins.args, `${where}: WORKDIR absolute (DL3000)`).toMatch(/^\//);
      if (ins.keyword === 'ADD') expect(ins.args, `${where}: COPY, not ADD, for files (DL3020)`).toMatch(/^(--\S+\s+)*https?:/);
      if (ins.keyword === 'RUN') {
        expect(ins.args, `${where}: no cd in RUN, use WORKDIR (DL3003)`).not.toMatch(/(^|&&|;)\s*cd\s/);
        expect(ins.args, `${where}: no sudo (DL3004)`).not.toMatch(/\bsudo\b/);
        expect(ins.args, `${where}: no apt-get upgrade (DL3005)`).not.toMatch(/apt-get\s+(dist-)?upgrade/);
        if (/apt-get\s+install/.test(ins.args)) expect(ins.args, `${where}: --no-install-recommends (DL3015)`).toContain('--no-install-recommends');
        expect(ins.args, `${where}: npm install is not reproducible; npm ci`).not.toMatch(/\bnpm (install|i)\b/);
      }
      if (ins.keyword === 'COPY' && copyParts(ins.args).sources.length > 1) expect(copyParts(ins.args).dest, `${where}: several sources go to a folder ending in / (DL3021)`).toMatch(/\/$/);
    }
  });

  describe('the health check script', () => {
    const health = all(final, 'HEALTHCHECK')[0]!;
    const scriptPath = execForm(health.args.replace(/^(--\S+\s+)*CMD\s+/, ''))![1]!;
    const copy = all(final, 'COPY').find((c) => copyParts(c.args).dest === scriptPath && Object.keys(c.heredocs).length === 1);
    let dir: string;
    let script: string;
    let server: http.Server;
    let port: number;
    let answer = 200;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'b131-healthcheck-'));
      script = join(dir, basename(scriptPath));
      writeFileSync(script, Object.values(copy?.heredocs ?? { none: '' })[0]!);
      server = http.createServer((req, res) => res.writeHead(answer, { 'x-path': req.url ?? '' }).end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise<void>((r) => server?.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs it as the HEALTHCHECK does, told which command line PID 1 has. */
    const check = (cmdline: string, env: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [script, cmdline], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
        child.once('exit', (code) => resolve(code ?? -1));
      });

    it('is written into the image by the Dockerfile', () => {
      expect(copy, `a COPY <<EOF ${scriptPath} in the runtime stage`).toBeDefined();
    });

    it("checks the web's /healthz on PORT", async () => {
      answer = 200;
      expect(await check('node dist/src/web-process.js', { PORT: String(port) })).toBe(0);
      answer = 503;
      expect(await check('node dist/src/web-process.js', { PORT: String(port) })).toBe(1);
      const closed = await freePort();
      expect(await check('node dist/src/web-process.js', { PORT: String(closed) })).toBe(1);
    });

    it("checks the sandbox's /healthz on SANDBOX_PORT", async () => {
      answer = 200;
      expect(await check('node dist/src/sandbox/main.js', { SANDBOX_PORT: String(port), PORT: '9' })).toBe(0);
      answer = 500;
      expect(await check('node dist/src/sandbox/main.js', { SANDBOX_PORT: String(port), PORT: '9' })).toBe(1);
    });

    it("checks that the worker's metrics server answers on METRICS_PORT; nothing to ask when it is off", async () => {
      answer = 503; // Redis away makes /metrics 503; the process is still up
      expect(await check('/sbin/docker-init -- node dist/workers/worker-process.js', { METRICS_PORT: String(port), PORT: '9' })).toBe(0);
      const closed = await freePort();
      expect(await check('node dist/workers/worker-process.js', { METRICS_PORT: String(closed) })).toBe(1);
      expect(await check('node dist/workers/worker-process.js', { METRICS_PORT: '0' })).toBe(0);
    });

    it('HEALTHCHECK_URL overrides the choice', async () => {
      answer = 200;
      expect(await check('node dist/workers/worker-process.js', { HEALTHCHECK_URL: `http://127.0.0.1:${port}/anything`, METRICS_PORT: '9' })).toBe(0);
    });
  });
});

// ---- docker-compose.yml ------------------------------------------------------------------------------

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
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
  const services = compose.services;
  const env = (name: string) => Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
  const ours = Object.entries(services).filter(([, s]) => s.build);

  it('has redis, sandbox, web and worker; the three of ours are built from this Dockerfile', () => {
    expect(Object.keys(services).sort()).toEqual(['redis', 'sandbox', 'web', 'worker']);
    expect(ours.map(([n]) => n).sort()).toEqual(['sandbox', 'web', 'worker']);
    for (const [name, s] of ours) {
      const build = typeof s.build === 'string' ? { context: s.build } : s.build!;
      const context = resolve(ROOT, build.context ?? '.');
      expect(existsSync(context), `${name}: build context ${build.context}`).toBe(true);
      expect(existsSync(join(context, build.dockerfile ?? 'Dockerfile')), `${name}: ${build.dockerfile ?? 'Dockerfile'} in the build context`).toBe(true);
      expect(s.image, `${name}: one image for all three`).toBe(ours[0]![1].image);
    }
    for (const [name, s] of Object.entries(services)) {
      for (const file of [s.env_file ?? []].flat()) expect(existsSync(resolve(ROOT, file)), `${name}: env_file ${file}`).toBe(true);
    }
  });

  it('starts each of ours as node dist/... (no npm, no bind-mounted checkout)', () => {
    const entries = Object.fromEntries(ours.map(([name, s]) => {
      expect(Array.isArray(s.command), `${name}: command in exec form`).toBe(true);
      for (const v of s.volumes ?? []) expect(v.split(':')[0], `${name}: a named volume, not the host's files`).not.toMatch(/^[./~]/);
      return [name, expectNodeDist(s.command as string[], `compose ${name}`)];
    }));
    expect(entries).toEqual({ sandbox: 'src/sandbox/main.ts', web: 'src/web-process.ts', worker: 'workers/worker-process.ts' });
  });

  it('restarts every service on failure, and each has a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.restart, `${name}: restart`).toMatch(/^(on-failure(:\d+)?|unless-stopped|always)$/);
      expect(s.healthcheck?.disable, `${name}: healthcheck`).not.toBe(true);
      expect([s.healthcheck?.test ?? []].flat().length, `${name}: healthcheck test`).toBeGreaterThan(0);
    }
  });

  it('starts web and workers only once Redis and the sandbox (its keys written) are healthy', () => {
    for (const name of ['web', 'worker']) {
      expect(services[name]!.depends_on, name).toEqual({ redis: { condition: 'service_healthy' }, sandbox: { condition: 'service_healthy' } });
    }
    for (const [name, s] of Object.entries(services)) {
      if (Array.isArray(s.depends_on) || !s.depends_on) continue;
      for (const [dep, { condition }] of Object.entries(s.depends_on)) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck?.test, `${dep} has a healthcheck for ${name} to wait on`).toBeDefined();
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

  it('points web and workers at the keys the sandbox writes, and at the sandbox and Redis', () => {
    const sandbox = env('sandbox');
    const keysDir = sandbox.SANDBOX_KEYS_DIR!;
    const keysVolume = services.sandbox!.volumes!.find((v) => v.split(':')[1] === keysDir);
    expect(keysVolume, `the sandbox keeps SANDBOX_KEYS_DIR ${keysDir} in a volume`).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(keysVolume!.split(':')[0]);
    for (const name of ['web', 'worker']) {
      const e = env(name);
      expect(services[name]!.volumes, `${name} mounts the sandbox's keys`).toContain(`${keysVolume!.split(':')[0]}:${keysDir}:ro`);
      // the names src/sandbox/keys.ts gives them: <name>-private.pem / <name>-public.pem
      expect(e.BANK131_PRIVATE_KEY_FILE).toBe(posix.join(keysDir, 'partner-private.pem'));
      expect(e.BANK131_PUBLIC_KEY_FILE).toBe(posix.join(keysDir, 'bank-public.pem'));
      expect(e.BANK131_BASE_URL).toBe(`http://sandbox:${sandbox.SANDBOX_PORT ?? 8131}`);
      expect(e.BANK131_PROJECT).toBe(sandbox.SANDBOX_PROJECT);
      expect(e.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(sandbox.SANDBOX_HOST ?? '0.0.0.0').toBe('0.0.0.0'); // the image's default; 127.0.0.1 would be unreachable
    expect(sandbox.SANDBOX_WEBHOOK_URL).toBe(`http://web:${env('web').PORT ?? 3000}/webhooks/bank131`);
  });

  it("holds settings the web and the worker accept (the real config readers, key files aside)", () => {
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
    const section = read('README.md').split(/^## Deploying$/m)[1]?.split(/^## /m)[0] ?? '';
    for (const text of ['docker compose up', 'node dist/src/web-process.js', 'node dist/workers/worker-process.js', 'node dist/src/sandbox/main.js', 'HEALTHCHECK_URL']) expect(section, text).toContain(text);
  });
});
