import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { ROOT } from './harness.js';
import { SCENARIOS, runScenario, type ScenarioResult } from './scenarios.js';

/**
 * `npm run chaos`: every scenario of test/chaos/scenarios.ts, one after another, each with its
 * own Redis, sandbox, web and workers; then docs/reliability.json (every figure) and the table in
 * docs/reliability.md (between the chaos markers) are written from this run. Exits 1 if any payout
 * was lost or paid twice, or any invariant was violated.
 *
 *   npm run chaos                               # 2,000 payouts per scenario
 *   npm run chaos -- --payouts 300 --only redis-restart,bank-faults --no-write
 */
const { values } = parseArgs({
  options: {
    payouts: { type: 'string', default: process.env.CHAOS_PAYOUTS ?? '2000' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const payouts = Number(values.payouts);
if (!Number.isInteger(payouts) || payouts < 1) throw new Error('--payouts: must be a whole number above 0');
const only = values.only
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length) throw new Error(`--only: no scenario ${unknown.join(', ')} (there are ${SCENARIOS.map((s) => s.name).join(', ')})`);
const chosen = SCENARIOS.filter((s) => !only || only.includes(s.name));
const command = `npm run chaos${values.payouts !== '2000' ? ` -- --payouts ${payouts}` : ''}${only ? ` --only ${only.join(',')}` : ''}`;

const say = (line: string) => process.stdout.write(`${line}\n`);
const results: ScenarioResult[] = [];
const startedAt = new Date();
for (const scenario of chosen) {
  try {
    results.push(await runScenario(scenario, payouts, { log: say }));
  } catch (err) {
    say(`${scenario.name}: the harness failed: ${(err as Error).stack ?? String(err)}`);
    results.push({
      scenario: scenario.name,
      title: scenario.title,
      faultsDescribed: scenario.faults,
      payouts,
      outcomes: {},
      errorCodes: {},
      lost: payouts,
      paidTwice: 0,
      ledgerMovements: 0,
      callbacksReceived: 0,
      faults: {},
      violations: 1,
      violationSamples: [`the harness failed: ${(err as Error).message}`],
      processFindings: [],
      notes: [],
      settleMs: null,
      durationMs: 0,
    });
  }
}

const bad = results.filter((r) => !r.skipped && (r.lost > 0 || r.paidTwice > 0 || r.violations > 0));
const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);
const faultList = (r: ScenarioResult) =>
  Object.entries(r.faults)
    .map(([k, n]) => `${n.toLocaleString('en')} × ${k}`)
    .join('; ') || '—';

const table = [
  '| scenario | payouts | faults injected | lost | paid twice | invariant violations | settled after the last fault | outcomes | run took |',
  '|---|---:|---|---:|---:|---:|---:|---|---:|',
  ...results.map((r) =>
    r.skipped
      ? `| ${r.title} (\`${r.scenario}\`) | — | skipped: ${r.skipped} | — | — | — | — | — | — |`
      : `| ${r.title} (\`${r.scenario}\`) | ${r.payouts.toLocaleString('en')} | ${faultList(r)} | ${r.lost} | ${r.paidTwice} | ${r.violations} | ${secs(r.settleMs)} | ${Object.entries(
          r.outcomes,
        )
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')} | ${secs(r.durationMs)} |`,
  ),
];
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.versions.node}`;
const block = [
  '<!-- chaos:begin (written by `npm run chaos`; edits here are overwritten) -->',
  `Produced by \`${command}\` on ${startedAt.toISOString().slice(0, 10)} (${machine}; ${availableParallelism()} cores). Every figure is in [reliability.json](reliability.json).`,
  '',
  ...table,
  '',
  ...results.flatMap((r) => [
    ...(r.violationSamples.length
      ? [`- \`${r.scenario}\` violations: ${r.violationSamples.map((v) => `\`${v.replace(/`/g, "'")}\``).join('; ')}`]
      : []),
    ...(r.processFindings.length
      ? [
          `- \`${r.scenario}\` processes that ended unbidden (restarted as a supervisor would): ${r.processFindings.map((v) => `\`${v.slice(0, 200).replace(/[`\n]/g, ' ')}\``).join('; ')}`,
        ]
      : []),
    ...(r.notes.length ? [`- \`${r.scenario}\`: ${r.notes.join('; ')}`] : []),
  ]),
  '<!-- chaos:end -->',
].join('\n');

say('');
say(table.join('\n'));
if (!values['no-write']) {
  const json = { command, startedAt: startedAt.toISOString(), machine, payoutsPerScenario: payouts, scenarios: results };
  writeFileSync(`${ROOT}docs/reliability.json`, `${JSON.stringify(json, null, 2)}\n`);
  const mdPath = `${ROOT}docs/reliability.md`;
  const md = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '# Reliability\n\n<!-- chaos:begin -->\n<!-- chaos:end -->\n';
  const re = /<!-- chaos:begin[^]*?<!-- chaos:end -->/;
  writeFileSync(mdPath, re.test(md) ? md.replace(re, () => block) : `${md.trimEnd()}\n\n${block}\n`);
  say(`\nwrote docs/reliability.json and the table in docs/reliability.md`);
}
if (bad.length) {
  say(`\n${bad.length} scenario(s) broke an invariant: ${bad.map((r) => r.scenario).join(', ')}`);
  process.exitCode = 1;
}
