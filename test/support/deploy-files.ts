import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/**
 * What the deployment tests (test/integration/deploy-*.test.ts) read: the repository's files, what
 * each `npm run build` makes from which source, and Dockerfiles parsed by hand (no Docker engine
 * runs here; hadolint is not packaged for this machine).
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

export function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((f) => posix.join(dir, f.split('\\').join('/')))
    .filter((f) => statSync(join(ROOT, f)).isFile());
}

// ---- a package's build: its tsconfig.build.json's rootDir/outDir mapping ---------------------------

export interface Build {
  /** The package's folder ('' for the root). */
  dir: string;
  config: { extends?: string; include: string[]; exclude?: string[]; compilerOptions: { outDir: string; rootDir: string } };
  outDir: string;
  rootDir: string;
  /** Every TypeScript file the build compiles (include minus exclude), repository-relative. */
  sources(): string[];
  /** The source `npm run build` compiles into `distPath` (relative to the package), checked to exist. */
  sourceOf(distPath: string): string;
}

export function buildOf(dir: string): Build {
  const config = JSON.parse(read(posix.join(dir, 'tsconfig.build.json'))) as Build['config'];
  const outDir = posix.normalize(config.compilerOptions.outDir);
  const rootDir = posix.normalize(config.compilerOptions.rootDir);
  const inside = (file: string, dirs: string[]) => dirs.some((d) => file === d || file.startsWith(`${posix.normalize(d)}/`));
  const sources = () =>
    config.include
      .flatMap((d) => filesUnder(posix.join(dir, d)))
      .filter((f) => f.endsWith('.ts') && !inside(posix.relative(dir || '.', f), config.exclude ?? []));
  const sourceOf = (distPath: string) => {
    const normalized = posix.normalize(distPath);
    expect(normalized.startsWith(`${outDir}/`), `${distPath} is not under the build's outDir ${outDir}/`).toBe(true);
    expect(normalized, `${distPath}: run compiled JavaScript`).toMatch(/\.js$/);
    const source = posix.join(rootDir, normalized.slice(outDir.length + 1)).replace(/\.js$/, '.ts');
    expect(existsSync(join(ROOT, dir, source)), `${distPath} would be compiled from ${source}, which does not exist`).toBe(true);
    expect(
      inside(source, config.include) && !inside(source, config.exclude ?? []),
      `${source} is outside ${dir || '.'}/tsconfig.build.json`,
    ).toBe(true);
    return posix.join(dir, source);
  };
  return { dir, config, outDir, rootDir, sources, sourceOf };
}

/** A command that starts one of our processes: `node dist/<entry>.js`, nothing in between; answers its source. */
export function expectNodeDist(command: string[], where: string, build: Build): string {
  expect(command.join(' '), `${where}: no npm, npx or tsx wrapper (a signal must reach the process)`).not.toMatch(
    /\b(npm|npx|tsx|yarn|pnpm)\b/,
  );
  expect(command[0], `${where}: runs node itself`).toBe('node');
  expect(command, `${where}: node and one script`).toHaveLength(2);
  return build.sourceOf(command[1]!);
}

// ---- Dockerfiles -------------------------------------------------------------------------------------

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
  /** Here-documents the instruction carries (`COPY <<'EOF' /app/file`), by delimiter. */
  heredocs: Record<string, string>;
}

/** Instructions with continuation lines joined and here-documents taken out; comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const out: Instruction[] = [];
  for (let i = 0; i < lines.length;) {
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

/** The instructions by stage (each FROM starts one). */
export function stagesOf(instructions: Instruction[]): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') stages.push([]);
    else expect(stages.length, `Dockerfile line ${ins.line}: ${ins.keyword} before the first FROM`).toBeGreaterThan(0);
    stages.at(-1)?.push(ins);
  }
  return stages;
}

export const stageName = (s: Instruction[]) => /\sAS\s+(\S+)/i.exec(s[0]!.args)?.[1];
export const all = (s: Instruction[], keyword: string) => s.filter((i) => i.keyword === keyword);

/** The exec (JSON) form of CMD, ENTRYPOINT or HEALTHCHECK CMD, or null for the shell form. */
export function execForm(args: string): string[] | null {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

/** COPY/ADD flags and operands. */
export function copyParts(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k!] = v;
  }
  const dest = words.pop()!;
  return { flags, sources: words.filter((w) => !w.startsWith('<<')), dest };
}

/** Where a relative path lands in the image: resolved against the last WORKDIR before `ins` in its stage. */
export function workdirAt(stage: Instruction[], ins: Instruction): string {
  const dirs = stage.slice(0, stage.indexOf(ins)).filter((i) => i.keyword === 'WORKDIR');
  return dirs.at(-1)?.args ?? '/';
}
