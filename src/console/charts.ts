import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';
import { hourOf, rub, rubShort, stateText } from './format.js';
import { html, type Html } from './html.js';

/**
 * The overview's two charts as inline SVG: payouts per hour by state (stacked bars), and money paid
 * per hour. Colours come from classes that console.css styles (`s-<state>`, `paid`): the content
 * security policy allows no style attribute, and the SVG needs none. Each chart is an image with a
 * title and a description, and the same figures follow as a table for those who cannot see it. Pure.
 */
export interface HourStat {
  /** When the hour starts (ISO). */
  hour: string;
  states: Partial<Record<PayoutState, number>>;
  paidKopecks: number;
}

// small enough that its text stays readable on a phone, where the chart is scaled down to the screen
const W = 480;
const H = 250;
const M = { top: 12, right: 6, bottom: 30, left: 58 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

/** A round number at or above `max` for the axis's top: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The states that occur in `stats`, in lifecycle order. */
export function statesIn(stats: readonly HourStat[]): PayoutState[] {
  return PAYOUT_STATES.filter((s) => stats.some((h) => (h.states[s] ?? 0) > 0));
}

const n2 = (v: number) => Math.round(v * 100) / 100;

/** The frame both charts share: gridlines with their labels, hour labels under every few bars. */
function frame(stats: readonly HourStat[], top: number, label: (v: number) => string): Html {
  const ticks = [0, top / 2, top];
  const grid = ticks.map((t) => {
    const y = n2(M.top + PLOT_H - (t / top) * PLOT_H);
    return html`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}"></line
      ><text class="axis" x="${M.left - 6}" y="${n2(y + 5)}" text-anchor="end">${label(t)}</text>`;
  });
  const every = Math.max(1, Math.ceil(stats.length / 8));
  const slot = PLOT_W / Math.max(1, stats.length);
  const hours = stats.map((h, i) =>
    i % every === 0
      ? html`<text class="axis" x="${n2(M.left + slot * i + slot / 2)}" y="${H - 8}" text-anchor="middle">${hourOf(h.hour)}</text>`
      : '',
  );
  return html`${grid}${hours}`;
}

function svg(id: string, title: string, desc: string, body: Html): Html {
  return html`<svg
    class="chart"
    viewBox="0 0 ${W} ${H}"
    role="img"
    aria-labelledby="${id}-title ${id}-desc"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title id="${id}-title">${title}</title>
    <desc id="${id}-desc">${desc}</desc>
    ${body}
  </svg>`;
}

/** Payouts per hour, one stacked bar per hour (a `<g class="hour">`), one segment per state. */
export function stateChart(stats: readonly HourStat[], id = 'by-state'): Html {
  const states = statesIn(stats);
  const totals = stats.map((h) => states.reduce((sum, s) => sum + (h.states[s] ?? 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const slot = PLOT_W / Math.max(1, stats.length);
  const width = n2(slot * 0.7);
  const bars = stats.map((h, i) => {
    const x = n2(M.left + slot * i + (slot - width) / 2);
    let base = M.top + PLOT_H;
    const segments = states.map((s) => {
      const count = h.states[s] ?? 0;
      if (count === 0) return '';
      const height = (count / top) * PLOT_H;
      base -= height;
      return html`<rect class="seg s-${s}" x="${x}" y="${n2(base)}" width="${width}" height="${n2(height)}"
        ><title>${hourOf(h.hour)} UTC: ${count} ${stateText(s)}</title></rect
      >`;
    });
    return html`<g class="hour">${segments}</g>`;
  });
  const total = totals.reduce((a, b) => a + b, 0);
  const desc = `${total} payouts over ${stats.length} hours, by state; the table below gives each hour's figures.`;
  return svg(id, 'Payouts by state, last 24 hours', desc, html`${frame(stats, top, (v) => String(v))}${bars}`);
}

/** Money paid per hour: one bar per hour (zero-high for an hour that paid nothing). */
export function paidChart(stats: readonly HourStat[], id = 'paid'): Html {
  const top = niceMax(Math.max(0, ...stats.map((h) => h.paidKopecks)) / 100) * 100;
  const slot = PLOT_W / Math.max(1, stats.length);
  const width = n2(slot * 0.7);
  const bars = stats.map((h, i) => {
    const height = (h.paidKopecks / top) * PLOT_H;
    const x = n2(M.left + slot * i + (slot - width) / 2);
    return html`<rect class="bar paid" x="${x}" y="${n2(M.top + PLOT_H - height)}" width="${width}" height="${n2(height)}"
      ><title>${hourOf(h.hour)} UTC: ${rub(h.paidKopecks)}</title></rect
    >`;
  });
  const total = stats.reduce((sum, h) => sum + h.paidKopecks, 0);
  const desc = `${rub(total)} paid over ${stats.length} hours; the table below gives each hour's sum.`;
  return svg(id, 'Money paid per hour (RUB)', desc, html`${frame(stats, top, rubShort)}${bars}`);
}

/** The key to the state chart's colours. */
export function legend(states: readonly PayoutState[]): Html {
  return html`<ul class="legend">
    ${states.map((s) => html`<li><span class="swatch s-${s}" aria-hidden="true"></span>${stateText(s)}</li>`)}
  </ul>`;
}

/** The state chart's figures as a table. */
export function stateTable(stats: readonly HourStat[]): Html {
  const states = statesIn(stats);
  return html`<table>
    <caption>
      Payouts per hour (UTC) by state
    </caption>
    <thead>
      <tr>
        <th scope="col">Hour</th>
        ${states.map((s) => html`<th scope="col">${stateText(s)}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${stats.map(
        (h) =>
          html`<tr>
            <th scope="row">${hourOf(h.hour)}</th>
            ${states.map((s) => html`<td class="num">${h.states[s] ?? 0}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The paid chart's figures as a table. */
export function paidTable(stats: readonly HourStat[]): Html {
  return html`<table>
    <caption>
      Money paid per hour (UTC)
    </caption>
    <thead>
      <tr>
        <th scope="col">Hour</th>
        <th scope="col">Paid</th>
      </tr>
    </thead>
    <tbody>
      ${stats.map(
        (h) =>
          html`<tr>
            <th scope="row">${hourOf(h.hour)}</th>
            <td class="num">${rub(h.paidKopecks)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
