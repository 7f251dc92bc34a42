import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local-redis.js';
import {
  ROOT,
  all,
  buildOf,
  copyParts,
  execForm,
  expectNodeDist,
  parseDockerfile,
  read,
  stageName,
  stagesOf,
  workdirAt,
  type Build,
  type Instruction,
} from '../support/deploy-files.js';

/**
 * The two images, held to the rules that matter here (hadolint-style, by hand: no Docker engine
 * runs here and hadolint is not packaged for this machine): the service's (Dockerfile: web and
 * worker) and the sandbox bank's (sandbox/Dockerfile), both built from the repository root. Each
 * runs `node dist/...` of its own package's build, as a user that is not root, with a health check.
 */

const IMAGES: Array<{ file: string; build: Build; cmd: string; needs: string[] }> = [
  { file: 'Dockerfile', build: buildOf(''), cmd: 'src/web-process.ts', needs: [] },
  { file: 'sandbox/Dockerfile', build: buildOf('sandbox'), cmd: 'sandbox/src/main.ts', needs: ['sandbox/package.json', 'sandbox/assets'] },
];
const ignored = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe.each(IMAGES)('$file', ({ file, build, cmd, needs }) => {
  const instructions = parseDockerfile(read(file));
  const stages = stagesOf(instructions);
  const final = stages.at(-1)!;
  const builder = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)));
  const copiedFromContext = (s: Instruction[]) =>
    all(s, 'COPY')
      .map((c) => copyParts(c.args))
      .filter((c) => !c.flags.from);

  it('is multi-stage: build with every dependency, run with production ones only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(builder, 'a stage runs npm run build').toBeDefined();
    expect(
      all(builder!, 'RUN').some((r) => /\bnpm ci\b/.test(r.args) && !/--omit=dev|--production/.test(r.args)),
      'the build stage runs npm ci with dev dependencies',
    ).toBe(true);
    expect(builder).not.toBe(final);
    expect(
      all(final, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r.args)),
      'the runtime stage installs with npm ci --omit=dev',
    ).toBe(true);
    expect(
      all(final, 'RUN').some((r) => /\bnpm run build\b|\btsc\b/.test(r.args)),
      'no compiling in the runtime stage',
    ).toBe(false);
    expect(all(final, 'ENV').some((e) => /\bNODE_ENV=production\b/.test(e.args))).toBe(true);
    const dist = posix.join('/app', build.dir, build.outDir);
    const fromBuild = all(final, 'COPY')
      .map((c) => copyParts(c.args))
      .filter((c) => c.flags.from === stageName(builder!));
    expect(
      fromBuild.some((c) => c.sources.includes(dist)),
      `the runtime stage copies ${dist} from the build stage`,
    ).toBe(true);
  });

  it('gives the build stage everything the build reads, and the runtime stage what the code reads from disk', () => {
    const copied = copiedFromContext(builder!)
      .flatMap((c) => c.sources)
      .map((s) => posix.normalize(s));
    const at = (f: string) => posix.join(build.dir, f);
    const needed = [
      'package.json',
      'package-lock.json',
      at('package.json'),
      at('tsconfig.build.json'),
      at(build.config.extends ?? 'tsconfig.json'),
      ...build.config.include.map(at),
    ];
    for (const f of new Set(needed)) expect(copied, `the build stage copies ${f}`).toContain(f);
    for (const source of copied) expect(existsSync(join(ROOT, source)), `COPY ${source}: not in the build context`).toBe(true);
    const runtime = copiedFromContext(final).flatMap((c) => c.sources);
    for (const f of needs) expect(runtime, `the runtime stage copies ${f}`).toContain(f);
  });

  it('keeps .dockerignore away from what it copies, and host installs out of the context', () => {
    for (const must of ['node_modules', '**/node_modules', 'dist', '**/dist', '.git', '.env', '.sandbox'])
      expect(ignored, `.dockerignore leaves out ${must}`).toContain(must);
    for (const source of stages.flatMap(copiedFromContext).flatMap((c) => c.sources)) {
      for (const pattern of ignored.filter((p) => !p.startsWith('!'))) {
        const re = new RegExp(
          `^${pattern
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]')}(/|$)`,
        );
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
    const cmdIns = all(final, 'CMD')[0]!;
    const command = execForm(cmdIns.args);
    expect(command, 'CMD in exec form, so node is PID 1 and gets SIGTERM (DL3025)').not.toBeNull();
    expect(expectNodeDist(command!, 'CMD', build)).toBe(cmd);
    expect(workdirAt(final, cmdIns), 'CMD runs from the folder its dist/ is in').toBe(posix.join('/app', build.dir));
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
      if (stages.map(stageName).filter(Boolean).includes(image)) continue;
      expect(image, `FROM ${image}: pin a tag (DL3006)`).toMatch(/:[\w.-]+$|@sha256:/);
      expect(image, `FROM ${image}: not latest (DL3007)`).not.toMatch(/:latest$/);
    }
    const keywords = [
      'FROM',
      'RUN',
      'CMD',
      'LABEL',
      'EXPOSE',
      'ENV',
      'ADD',
      'COPY',
      'ENTRYPOINT',
      'VOLUME',
      'USER',
      'WORKDIR',
      'ARG',
      'ONBUILD',
      'STOPSIGNAL',
      'HEALTHCHECK',
      'SHELL',
    ];
    for (const ins of instructions) {
      const where = `${file} line ${ins.line}`;
      expect(keywords, `${where}: ${ins.keyword}`).toContain(ins.keyword);
      if (ins.keyword === 'WORKDIR') expect(ins.args, `${where}: WORKDIR absolute (DL3000)`).toMatch(/^\//);
      if (ins.keyword === 'ADD') expect(ins.args, `${where}: COPY, not ADD, for files (DL3020)`).toMatch(/^(--\S+\s+)*https?:/);
      if (ins.keyword === 'RUN') {
        expect(ins.args, `${where}: no cd in RUN, use WORKDIR (DL3003)`).not.toMatch(/(^|&&|;)\s*cd\s/);
        expect(ins.args, `${where}: no sudo (DL3004)`).not.toMatch(/\bsudo\b/);
        expect(ins.args, `${where}: no apt-get upgrade (DL3005)`).not.toMatch(/apt-get\s+(dist-)?upgrade/);
        if (/apt-get\s+install/.test(ins.args))
          expect(ins.args, `${where}: --no-install-recommends (DL3015)`).toContain('--no-install-recommends');
        expect(ins.args, `${where}: npm install is not reproducible; npm ci`).not.toMatch(/\bnpm (install|i)\b/);
      }
      if (ins.keyword === 'COPY' && copyParts(ins.args).sources.length > 1)
        expect(copyParts(ins.args).dest, `${where}: several sources go to a folder ending in / (DL3021)`).toMatch(/\/$/);
    }
  });
});

describe("the service's image has no sandbox in it", () => {
  it('copies nothing of sandbox/, sets no SANDBOX_ setting, exposes no sandbox port', () => {
    const instructions = parseDockerfile(read('Dockerfile'));
    const sources = all(instructions, 'COPY').flatMap((c) => copyParts(c.args).sources);
    expect(sources.filter((s) => s.startsWith('sandbox'))).toEqual([]);
    expect(
      all(instructions, 'ENV')
        .map((e) => e.args)
        .join(' '),
    ).not.toMatch(/SANDBOX_/);
    expect(
      all(instructions, 'EXPOSE')
        .map((e) => e.args)
        .join(' '),
    ).not.toMatch(/\b8131\b/);
  });
});

/** The HEALTHCHECK's script, written from the Dockerfile's here-document into a folder of its own, run as the check runs it. */
function healthCheckOf(file: string) {
  const final = stagesOf(parseDockerfile(read(file))).at(-1)!;
  const scriptPath = execForm(all(final, 'HEALTHCHECK')[0]!.args.replace(/^(--\S+\s+)*CMD\s+/, ''))![1]!;
  const copy = all(final, 'COPY').find((c) => copyParts(c.args).dest === scriptPath && Object.keys(c.heredocs).length === 1);
  const state = { dir: '', script: '', port: 0, answer: 200, server: undefined as http.Server | undefined };
  beforeAll(async () => {
    state.dir = mkdtempSync(join(tmpdir(), 'b131-healthcheck-'));
    state.script = join(state.dir, basename(scriptPath));
    writeFileSync(state.script, Object.values(copy?.heredocs ?? { none: '' })[0]!);
    state.server = http.createServer((req, res) => res.writeHead(state.answer, { 'x-path': req.url ?? '' }).end());
    await new Promise<void>((r) => state.server!.listen(0, '127.0.0.1', r));
    state.port = (state.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => state.server?.close(() => r()));
    rmSync(state.dir, { recursive: true, force: true });
  });
  /** Runs it as the HEALTHCHECK does, told which command line PID 1 has. */
  const check = (cmdline: string, env: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [state.script, cmdline], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
      child.once('exit', (code) => resolve(code ?? -1));
    });
  return { copy, scriptPath, state, check };
}

describe("the service image's health check script", () => {
  const { copy, scriptPath, state, check } = healthCheckOf('Dockerfile');

  it('is written into the image by the Dockerfile', () => {
    expect(copy, `a COPY <<EOF ${scriptPath} in the runtime stage`).toBeDefined();
  });

  it("checks the web's /healthz on PORT", async () => {
    state.answer = 200;
    expect(await check('node dist/src/web-process.js', { PORT: String(state.port) })).toBe(0);
    state.answer = 503;
    expect(await check('node dist/src/web-process.js', { PORT: String(state.port) })).toBe(1);
    expect(await check('node dist/src/web-process.js', { PORT: String(await freePort()) })).toBe(1);
  });

  it("checks that the worker's metrics server answers on METRICS_PORT; nothing to ask when it is off", async () => {
    state.answer = 503; // Redis away makes /metrics 503; the process is still up
    expect(await check('/sbin/docker-init -- node dist/workers/worker-process.js', { METRICS_PORT: String(state.port), PORT: '9' })).toBe(
      0,
    );
    expect(await check('node dist/workers/worker-process.js', { METRICS_PORT: String(await freePort()) })).toBe(1);
    expect(await check('node dist/workers/worker-process.js', { METRICS_PORT: '0' })).toBe(0);
  });

  it('HEALTHCHECK_URL overrides the choice', async () => {
    state.answer = 200;
    expect(
      await check('node dist/workers/worker-process.js', { HEALTHCHECK_URL: `http://127.0.0.1:${state.port}/anything`, METRICS_PORT: '9' }),
    ).toBe(0);
  });
});

describe("the sandbox image's health check script", () => {
  const { copy, scriptPath, state, check } = healthCheckOf('sandbox/Dockerfile');

  it('is written into the image by sandbox/Dockerfile', () => {
    expect(copy, `a COPY <<EOF ${scriptPath} in the runtime stage`).toBeDefined();
  });

  it("checks the sandbox's /healthz on SANDBOX_PORT", async () => {
    state.answer = 200;
    expect(await check('node dist/main.js', { SANDBOX_PORT: String(state.port), PORT: '9' })).toBe(0);
    state.answer = 500;
    expect(await check('node dist/main.js', { SANDBOX_PORT: String(state.port), PORT: '9' })).toBe(1);
    expect(await check('node dist/main.js', { SANDBOX_PORT: String(await freePort()) })).toBe(1);
  });

  it('HEALTHCHECK_URL overrides it', async () => {
    state.answer = 200;
    expect(await check('node dist/main.js', { HEALTHCHECK_URL: `http://127.0.0.1:${state.port}/anything`, SANDBOX_PORT: '9' })).toBe(0);
  });
});
